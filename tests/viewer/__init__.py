"""Tests of projector_tools.viewer."""
