"""Server-side tests of the customer portal."""
