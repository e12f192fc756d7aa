"""E-mail: parsing, threading, reply tokens, sending and the IMAP poller."""
