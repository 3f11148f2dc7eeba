"""Server-rendered pages: health checks and the staff sign-in workspace."""
