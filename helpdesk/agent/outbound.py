"""Outbound-mail pages for agents: delivery status, resend, notification preferences."""
