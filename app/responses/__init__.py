"""Submitted responses, sealed to the study key, and the clear metadata around them."""
