"""Shared fixtures: small shifted data sets and the real-data directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA GPU (none available)")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def shifted_blobs():
    """Three Gaussian classes in 4-D; the target is a linear map of the source plus an offset."""
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0, 0], [3, 0, 0, 0], [0, 3, 0, 0]], dtype=float)
    y_s = rng.integers(0, 3, 150)
    y_t = rng.integers(0, 3, 120)
    X_s = centers[y_s] + rng.normal(size=(150, 4))
    mix = np.array([[1.2, 0.4, 0, 0], [-0.3, 0.9, 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 0.7]])
    X_t = (centers[y_t] + rng.normal(size=(120, 4))) @ mix + 0.5
    return X_s, y_s, X_t, y_t


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark data directory (``DOMAINADAPT_DATA``); skip when absent."""
    path = os.environ.get("DOMAINADAPT_DATA")
    if not path or not Path(path).is_dir():
        pytest.skip("DOMAINADAPT_DATA is not set to a directory with the benchmark data")
    return Path(path)
