"""File helpers: hashes, atomic writes and verified downloads (used for data, weights and
checkpoints alike).

* :func:`sha256_of` the hex SHA-256 of a file;
* :func:`atomic_write` writes through a temp file in the same folder, then renames it: a crash
  mid-write leaves the previous file intact, never a truncated one;
* :func:`download_file` an atomic download checked against its SHA-256 (refused offline:
  ``JSCC_LAB_OFFLINE=1``), raising :class:`DataMissingError` with the folder to fill by hand.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from . import settings

__all__ = ["DataMissingError", "sha256_of", "atomic_write", "atomic_write_bytes", "download_file"]


class DataMissingError(FileNotFoundError):
    """A dataset, weight file or image is not where it should be (the message names the folder)."""


def sha256_of(path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write: Callable, check: Callable | None = None, suffix: str = ".tmp") -> Path:
    """Write ``path`` atomically: ``write(f)`` fills a temp file ``f`` (binary) in the same folder,
    ``check(temp_path)`` may raise to abandon it, then the temp file (usual permissions, synced)
    replaces ``path``. The temp file never outlives the call."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """:func:`atomic_write` of ``data``."""
    return atomic_write(path, lambda f: f.write(data))


def download_file(url: str, dest, sha256: str | None = None, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` atomically: into a temp file, check SHA-256, then rename.

    A hash mismatch deletes the partial file and raises ``OSError``. Refused offline.
    """
    dest = Path(dest)
    if settings.offline():
        raise DataMissingError(f"JSCC_LAB_OFFLINE=1: not downloading {url}; put the file at {dest}")

    def fetch(out) -> None:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            from tqdm.auto import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                      disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    bar.update(len(chunk))

    def verify(tmp) -> None:
        got = sha256_of(tmp)
        if sha256 is not None and got != sha256:
            raise OSError(f"SHA-256 mismatch for {url}: expected {sha256}, got {got}; the partial file "
                          "was deleted. Retry, or place a verified copy at " + str(dest))

    return atomic_write(dest, fetch, verify, suffix=".part")
