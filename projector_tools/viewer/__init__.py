"""Showing a run: a real TensorBoard on 127.0.0.1, screenshots in headless Chromium."""
