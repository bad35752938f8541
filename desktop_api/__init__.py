"""desktop_api package."""
