"""Tests of projector_tools.process."""
