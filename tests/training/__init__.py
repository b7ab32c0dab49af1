"""Tests of projector_tools.training."""
