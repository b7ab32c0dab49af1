"""Tests of projector_tools.sources."""
