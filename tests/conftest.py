"""Shared fixtures. CI sets JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 JSCC_LAB_QUICK=1."""

import importlib.util
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

# Notebook kernels run inside tutorials/: make a relative JSCC_LAB_DATA absolute before they start.
if os.environ.get("JSCC_LAB_DATA"):
    os.environ["JSCC_LAB_DATA"] = str(Path(os.environ["JSCC_LAB_DATA"]).expanduser().resolve())


def load_script(relative: str):
    """A script of the repository (``"benchmarks/gpu_burst.py"``) imported as a module."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


@pytest.fixture(autouse=True)
def _restore_threads():
    """Tests may ask for 1 thread (fast on a loaded 2-core machine); undo it afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def image_dirs(tmp_path_factory):
    """Tiny train / val folders of smooth random images (no data set needed)."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("tiny_data")
    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("val", 2)):
        (root / split).mkdir()
        for i in range(count):
            coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize((48, 48), Image.BICUBIC).save(root / split / f"{i}.png")
    return root
