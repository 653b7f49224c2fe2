"""The pure core: pydantic models and functions with no I/O, no clock reads, no globals."""
