"""Tests of projector_tools.run."""
