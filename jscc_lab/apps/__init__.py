"""Standalone web apps served with Voila (``jscc-lab explore``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["EXPLORER_NOTEBOOK", "voila_command", "serve"]

EXPLORER_NOTEBOOK = Path(__file__).with_name("explorer.ipynb")


def voila_command(port: int = 8866, open_browser: bool = True, ip: str = "127.0.0.1") -> list[str]:
    """The command line that serves the explorer notebook as a page (code hidden)."""
    cmd = [sys.executable, "-m", "voila", str(EXPLORER_NOTEBOOK), f"--port={port}",
           f"--Voila.ip={ip}"]
    return cmd if open_browser else cmd + ["--no-browser"]


def serve(port: int = 8866, open_browser: bool = True) -> int:
    """Serve the explorer at ``http://127.0.0.1:PORT`` until interrupted; returns Voila's exit code."""
    return subprocess.call(voila_command(port=port, open_browser=open_browser))
