"""Tests of projector_tools.doctor."""
