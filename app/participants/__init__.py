"""Participants, caregivers, invitations and the device credentials phones sign in with."""
