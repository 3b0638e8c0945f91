"""Environment switches read by the whole package (see DESIGN.md).

``JSCC_LAB_DATA``     root of the data sets (``kodak/``, ``bsds500/``, ...); default a user cache
``JSCC_LAB_OFFLINE``  ``1`` = never download; a missing file is an error naming where to put it
``JSCC_LAB_QUICK``    ``1`` = notebooks and the demo use tiny budgets (CI)
"""

from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def offline() -> bool:
    """True when ``JSCC_LAB_OFFLINE=1``: nothing may be downloaded."""
    return _flag("JSCC_LAB_OFFLINE")


def quick() -> bool:
    """True when ``JSCC_LAB_QUICK=1``: use tiny budgets (same code paths)."""
    return _flag("JSCC_LAB_QUICK")


def cache_dir() -> Path:
    """Writable per-user cache (``$XDG_CACHE_HOME/jscc_lab``, default ``~/.cache/jscc_lab``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jscc_lab"


def data_root() -> Path:
    """Root folder of the data sets: ``$JSCC_LAB_DATA`` or ``cache_dir()/data``."""
    env = os.environ.get("JSCC_LAB_DATA")
    return Path(env).expanduser() if env else cache_dir() / "data"


def budget(full, quick_value):
    """``quick_value`` under ``JSCC_LAB_QUICK=1``, else ``full`` (notebook parameter cells)."""
    return quick_value if quick() else full


def environment() -> str:
    """One paragraph on where this run stands: the device (GPU name, or CPU threads), the data
    folder and which data sets are on disk, the offline and quick switches. Printed by the first
    cell of every tutorial; data and weights that are missing download on first use (with a
    progress bar), never under ``JSCC_LAB_OFFLINE=1``."""
    import torch

    if torch.cuda.is_available():
        device = f"GPU {torch.cuda.get_device_name(0)} (cuda)"
    else:
        device = f"CPU, {torch.get_num_threads()} threads (no GPU found)"
    root = data_root()
    have = [name for name in ("kodak", "bsds500", "imagenet_samples", "weights") if (root / name).is_dir()]
    # named, not spelled out: the stored outputs of a notebook do not carry the paths of the machine that ran it
    home = str(Path.home())
    where = "$JSCC_LAB_DATA" if os.environ.get("JSCC_LAB_DATA") else (
        "~" + str(root)[len(home):] if str(root).startswith(home + os.sep) else str(root))
    return (f"jscc_lab: device {device}; data folder {where} (on disk: {', '.join(have) or 'nothing yet'}; "
            f"{'offline: nothing is downloaded' if offline() else 'missing files download on first use'}); "
            f"{'quick mode (JSCC_LAB_QUICK=1): small budgets' if quick() else 'full budgets'}")
