"""The explorer as a web page served with Voila (``jscc-lab explore``).

:func:`serve` runs Voila in its own process group with a cap on concurrent kernels (one per open
page, :mod:`jscc_lab.classroom.kernels`), culls kernels whose page is gone, prints one line when the
page can be opened, and forwards Ctrl-C / SIGTERM: the server and every kernel end with it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["EXPLORER_NOTEBOOK", "voila_command", "serve", "url_of"]

EXPLORER_NOTEBOOK = Path(__file__).with_name("explorer.ipynb")
KERNEL_MANAGER = "jscc_lab.classroom.kernels.CappedKernelManager"


def voila_command(port: int = 8866, open_browser: bool = True, ip: str = "127.0.0.1",
                  max_kernels: int = 8, cull_idle: int = 300) -> list[str]:
    """The command line that serves the explorer notebook as a page (code hidden).

    ``max_kernels``: most pages (kernels) at once, 0 for no limit; ``cull_idle``: seconds after
    which a kernel with no page connected is shut down (0: never). A closed page also shuts its
    kernel down at once (Voila's ``beforeunload`` beacon); the culler catches those that never
    connected or whose beacon was lost. The beacon carries no XSRF token (Voila never sets the
    cookie: voila-dashboards/voila#1458), so the XSRF check is off, as on any server without
    authentication; the only request it guards here is that shutdown, which needs the kernel's
    random id.
    """
    interval = max(1, min(60, cull_idle // 4))
    cmd = [sys.executable, "-m", "voila", str(EXPLORER_NOTEBOOK), f"--port={port}",
           f"--Voila.ip={ip}", "--Voila.port_retries=0", "--Voila.tornado_settings=disable_check_xsrf=True",
           f"--VoilaConfiguration.multi_kernel_manager_class={KERNEL_MANAGER}",
           f"--CappedKernelManager.max_kernels={max_kernels}",
           f"--CappedKernelManager.cull_idle_timeout={cull_idle}",
           f"--CappedKernelManager.cull_interval={interval}",
           "--CappedKernelManager.cull_connected=False"]
    return cmd if open_browser else cmd + ["--no-browser"]


def url_of(ip: str, port: int) -> str:
    """The address to open: ``ip`` itself, or this machine's name when serving every interface."""
    host = socket.gethostname() if ip in ("0.0.0.0", "::", "") else ip
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _check_port(ip: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as err:
            raise OSError(f"cannot serve on {ip} port {port} ({err.strerror or err}); "
                          "choose another --port or --ip") from None


def _listening(ip: str, port: int) -> bool:
    host = "127.0.0.1" if ip in ("0.0.0.0", "") else ("::1" if ip == "::" else ip)
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _tree(pid: int) -> list:
    """``pid`` and its descendants as ``psutil.Process`` objects (empty without psutil)."""
    try:
        import psutil

        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except Exception:  # noqa: BLE001  (no psutil, or the process is gone)
        return []


def serve(port: int = 8866, open_browser: bool = True, ip: str = "127.0.0.1", max_kernels: int = 8,
          cull_idle: int = 300, grace: float = 20.0) -> int:
    """Serve the explorer at ``http://IP:PORT/`` until Voila exits or Ctrl-C / SIGTERM arrives.

    A signal is forwarded to Voila as SIGTERM (it shuts its kernels down); whatever of its
    process tree is left after ``grace`` seconds is killed. Returns 0 after a signal, else
    Voila's exit status. Raises ``OSError`` when Voila is missing or the port is taken.
    """
    if importlib.util.find_spec("voila") is None:
        raise OSError("voila is not installed: pip install voila")
    _check_port(ip, port)
    proc = subprocess.Popen(voila_command(port=port, open_browser=open_browser, ip=ip,
                                          max_kernels=max_kernels, cull_idle=cull_idle),
                            start_new_session=True)
    stop: dict = {}
    known: dict = {}  # pid -> psutil.Process of every process seen in Voila's tree

    def remember() -> None:
        for p in _tree(proc.pid):
            known.setdefault(p.pid, p)

    def forward(signum, frame) -> None:
        if stop:  # a second Ctrl-C: do not wait any longer
            stop["at"] = -float("inf")
            return
        stop["at"], stop["signal"] = time.monotonic(), signum
        remember()
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass

    handlers = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    ready, last_scan = False, 0.0
    try:
        while True:
            try:
                code = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            if stop and time.monotonic() - stop["at"] > grace:
                remember()
                _kill_group(proc.pid)
            elif not stop:
                if time.monotonic() - last_scan > 1.0:
                    remember()
                    last_scan = time.monotonic()
                if not ready and _listening(ip, port):
                    ready = True
                    limit = f"at most {max_kernels} pages at once" if max_kernels else "no page limit"
                    print(f"jscc-lab explore: ready at {url_of(ip, port)} ({limit}, one kernel of "
                          "about 1 GiB each; the first render of a page takes 10-20 s; Ctrl-C stops)",
                          flush=True)
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
        _kill_group(proc.pid)
        for p in known.values():  # kernels run in sessions of their own: end them by process id
            try:
                if p.is_running():
                    p.kill()
            except Exception:  # noqa: BLE001  (gone meanwhile)
                pass
    if stop:
        print(f"jscc-lab explore: stopped ({signal.Signals(stop['signal']).name}); the server and its "
              "kernels have ended", flush=True)
        return 0
    return code


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
