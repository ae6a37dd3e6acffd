"""Browser journeys: a real server process driven by headless Chromium through Playwright.

This folder is a package on purpose: the Playwright fixtures are package-scoped, so Chromium
and the sync Playwright driver are stopped as soon as the last browser test has run. While
the sync API is alive it marks its own asyncio loop as running in the main thread, which would
break every async test that pytest runs afterwards.
"""
