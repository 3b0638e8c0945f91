"""Shared fixtures. CI sets JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 JSCC_LAB_QUICK=1."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

# Notebook kernels run inside tutorials/: make a relative JSCC_LAB_DATA absolute before they start.
if os.environ.get("JSCC_LAB_DATA"):
    os.environ["JSCC_LAB_DATA"] = str(Path(os.environ["JSCC_LAB_DATA"]).expanduser().resolve())


@pytest.fixture
def generator():
    """A seeded CPU generator: every test that draws noise is exactly reproducible."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The offline data folder (../shared/data in CI); tests needing it skip loudly without it."""
    root = Path(os.environ.get("JSCC_LAB_DATA", REPO.parent / "shared" / "data"))
    if not (root / "kodak").is_dir():
        pytest.skip(f"offline data not found at {root}; set JSCC_LAB_DATA to the shared data folder")
    return root
