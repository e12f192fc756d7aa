"""Administration: mailboxes (to be written)."""
