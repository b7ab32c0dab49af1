"""Shared fixtures: a real TensorBoard process per test that asks for one."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402

from projector_tools.tensorboard_server import TensorBoardServer  # noqa: E402


@pytest.fixture
def tensorboard():
    """``start(logdir) -> TensorBoardServer``; every server is stopped by pid at teardown."""
    servers: list[TensorBoardServer] = []

    def start(logdir, **kwargs) -> TensorBoardServer:
        server = TensorBoardServer(str(logdir), **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
