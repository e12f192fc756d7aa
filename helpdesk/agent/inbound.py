"""Inbound-mail pages for agents: quarantine, held spam, why a mail was threaded."""
