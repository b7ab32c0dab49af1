"""Tests of projector_tools.analysis."""
