"""The kernel manager of ``jscc-lab explore``: at most ``max_kernels`` kernels (open pages) at once.

Voila starts one kernel per page load; a page beyond the cap gets HTTP 503 with a one-line
reason instead of a new kernel of about a gigabyte. Idle kernels are culled by jupyter_server's
own ``cull_idle_timeout`` / ``cull_interval`` / ``cull_connected`` (set by
:func:`jscc_lab.classroom.app.voila_command`).
"""

from __future__ import annotations

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Int

__all__ = ["CappedKernelManager"]


class CappedKernelManager(AsyncMappingKernelManager):
    """An ``AsyncMappingKernelManager`` that refuses a kernel beyond ``max_kernels``."""

    max_kernels = Int(0, config=True, help="most kernels running at once (0: no limit)")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0  # kernels being started (not yet listed)
        self._closing: set = set()  # kernels being shut down (still listed for a moment)

    async def start_kernel(self, *args, **kwargs):
        running = len(set(self.list_kernel_ids()) - self._closing) + self._starting
        if self.max_kernels and running >= self.max_kernels:
            reason = (f"All {self.max_kernels} explorer sessions are in use: close an explorer tab "
                      "or try again when an idle one has been shut down")
            self.log.warning("refused a kernel: %d of %d running", running, self.max_kernels)
            raise web.HTTPError(503, reason, reason=reason)
        self._starting += 1
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self._starting -= 1

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self._closing.add(kernel_id)
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            self._closing.discard(kernel_id)
