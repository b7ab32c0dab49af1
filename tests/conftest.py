"""Shared fixtures: a real TensorBoard process per test that asks for one."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import pytest

from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers.browser import browser  # noqa: F401  (the headless-Chromium fixture, for every test)

# Scripts that tests run by path, never test modules: kept out of the doctest
# collection (--doctest-modules imports every module it collects, and
# cli_forkserver imports TensorFlow and configures the environment at import).
collect_ignore = ["helpers/cli_forkserver.py", "helpers/gil_holder.py"]


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
