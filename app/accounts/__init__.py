"""Staff accounts: passwords, sessions, sign-in throttling and the optional second factor."""
