"""Browser tests: Playwright drives the system Chromium against a live server."""
