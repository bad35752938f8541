"""X channel tests."""
