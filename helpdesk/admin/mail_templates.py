"""Administration: mail_templates (to be written)."""
