"""Administration: business (to be written)."""
