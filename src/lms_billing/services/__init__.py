"""Application services: the only code that mixes storage, plugin hooks and the clock."""
