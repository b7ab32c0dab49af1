"""Tests of projector_tools.export."""
