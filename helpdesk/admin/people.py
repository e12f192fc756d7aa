"""Administration: people (to be written)."""
