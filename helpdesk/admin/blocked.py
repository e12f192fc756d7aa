"""Administration: blocked (to be written)."""
