"""The dashboard: backlog, flow and response times (to be written)."""
