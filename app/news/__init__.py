"""Study news: short lay summaries that sites post for their participants and caregivers."""
