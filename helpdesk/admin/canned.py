"""Administration: canned (to be written)."""
