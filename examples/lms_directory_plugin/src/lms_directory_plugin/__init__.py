"""Example lms-billing plugin package (see README.md)."""
