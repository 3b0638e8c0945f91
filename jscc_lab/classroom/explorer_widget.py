"""The explorer: one image sent through deep JSCC and separate coding side by side, with sliders
for SNR, CBR and realism (:func:`explorer` in a notebook, :func:`explorer_app` for the web page).

Reconstructions run through :func:`jscc_lab.systems.transmit` (the one seeding rule), a
background thread prefetches the neighbouring settings, and the widget keeps its controls as
attributes so a test or a lecturer's script can drive the same callbacks a click would.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import math
import threading
import time
import weakref
from typing import NamedTuple

import ipywidgets as widgets
import torch

from ..channels import cbr_label
from ..data import to_image

__all__ = ["explorer", "explorer_app", "Explorer", "default_images", "png_bytes"]


def png_bytes(x: torch.Tensor) -> bytes:
    """``(1, 3, H, W)`` image tensor -> PNG bytes for an ``ipywidgets.Image`` (fast zlib level 1:
    a few percent larger, several times quicker to write than the default)."""
    buf = io.BytesIO()
    to_image(x).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()



def default_images() -> dict:
    """Images offered by the explorer: the bundled samples, plus Kodak when it is on disk
    (never downloaded from here)."""
    from .. import data, settings

    images = {name: x for name, x in zip(data.SAMPLE_NAMES, data.sample_images())}
    folder = settings.data_root() / "kodak"
    for i in range(1, 25):
        path = folder / f"kodim{i:02d}.png"
        if path.is_file():
            images[f"kodim{i:02d}"] = data.load_image(path)
    return images


_PREFETCHERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_prefetchers() -> None:
    for prefetcher in list(_PREFETCHERS):
        prefetcher.stop()


class _Prefetcher:
    """One daemon thread that computes what the user will probably ask for next (the
    neighbouring slider positions) while they look at the current view.

    ``compute(key)`` does the work and caches it. The thread stands aside while the foreground
    computes (it checks between tasks) and uses ``threads`` torch threads (default as many as
    the foreground: it runs while the user looks, and a task in hand when they move is short), a
    new :meth:`plan` replaces the queue, and the foreground
    :meth:`wait_for` a key being computed instead of computing it twice. A failure in the
    background is kept in ``errors``; the foreground recomputes that key and raises there.
    """

    def __init__(self, compute, threads: int | None = None):
        self._compute = compute
        self._threads = threads
        self._cond = threading.Condition()
        self._todo: list = []
        self._running: dict = {}
        self._foreground = 0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.errors: list = []
        _PREFETCHERS.add(self)

    def plan(self, keys) -> None:
        """Replace the queue with ``keys`` (most likely first)."""
        with self._cond:
            if self._stopped:
                return
            self._todo = list(keys)
            if self._thread is None:
                threads = self._threads or torch.get_num_threads()
                self._thread = threading.Thread(target=self._loop, args=(threads,),
                                                name="explorer-prefetch", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    @contextlib.contextmanager
    def foreground(self):
        """While inside, the background thread starts no new task."""
        with self._cond:
            self._foreground += 1
        try:
            yield
        finally:
            with self._cond:
                self._foreground -= 1
                self._cond.notify_all()

    def wait_for(self, key) -> None:
        """Block until the background thread has finished ``key`` if it is computing it."""
        with self._cond:
            done = self._running.get(key)
        if done is not None:
            done.wait()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and nothing runs; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._todo and not self._running, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Drop the queue and wait for the task in hand (at interpreter exit, so that no torch
        call is cut off midway)."""
        with self._cond:
            self._todo = []
            self._stopped = True
            self._cond.notify_all()
        self.join(timeout)

    def _loop(self, threads: int) -> None:
        torch.set_num_threads(threads)  # per thread with OpenMP: leaves a core to the foreground
        while True:
            with self._cond:
                self._cond.wait_for(lambda: (self._todo and not self._foreground) or self._stopped)
                if self._stopped:
                    return
                key = self._todo.pop(0)
                done = self._running[key] = threading.Event()
            try:
                self._compute(key)
            except Exception as error:  # noqa: BLE001  (re-raised by the foreground's own call)
                self.errors.append((key, error))
            finally:
                with self._cond:
                    del self._running[key]
                    done.set()
                    self._cond.notify_all()


class _View(NamedTuple):
    """Everything a panel depends on: the explorer's controls, frozen."""

    image: str
    image_id: int
    side: int
    cbr: float
    snr: float
    channel: str
    beta: float
    zoom: bool


class Explorer:
    """Side-by-side explorer: original, PSNR-optimised deep JSCC, perceptual deep JSCC and
    separate coding (HEVC-intra + capacity-achieving code), with live PSNR / LPIPS (and DISTS).

    Controls: image (or an uploaded one), SNR (dB), CBR (those with shipped checkpoints), realism
    beta (perceptual model), channel (AWGN / Rayleigh block fading), zoom. Sliders fire on
    release. Each panel (reconstruction, PNGs and metrics) is cached per (system, image, CBR,
    SNR, channel, beta) with noise seeded per SNR, so moving back to a setting redraws at once;
    a control redraws only the panels it affects, the original's LPIPS/DISTS features are
    computed once per image, and with ``prefetch=True`` a background thread computes the
    positions of the control moved last (nearest first), then neighbouring SNR, beta and CBR
    positions, while the user looks, so a slider step usually finds its panels ready. ``status`` shows "computing…" while the foreground works.
    A separate-coding image that did not arrive is replaced by a note saying so, and why
    (``lost[name]``); the zoomed crops carry a caption (``zoom_captions[name]``).

    Parameters
    ----------
    images : ``{name: (1, 3, H, W)}``; default :func:`default_images`
    models : ``{("psnr" | "perceptual", cbr): model}``; default: every shipped AWGN checkpoint
    crop : side of the centre crop shown (smaller is faster)
    metrics : metrics shown under each image (``"dists"`` is slower on a CPU)
    prefetch : compute neighbouring slider positions in the background
    prefetch_threads : torch threads of the background thread (default: the foreground's;
        ``benchmarks/widget_latency.py --prefetch-threads 1 2`` compares)
    amp : precision of the models: ``"auto"`` (bf16 autocast where
        :func:`jscc_lab.precision.choose_amp` finds it measurably faster), ``"bf16"`` or
        ``"none"`` (fp32); the choice and why are in ``amp_reason``. Metrics are computed in fp32.
    """

    SNR_RANGE = (0.0, 20.0)

    def __init__(self, images=None, models=None, crop: int = 256, metrics=("psnr", "lpips"),
                 seed: int = 0, separate: bool = True, prefetch: bool = True,
                 prefetch_threads: int | None = None, amp: str = "auto"):
        from ..metrics import Scorer
        from ..precision import check_amp, choose_amp

        check_amp(amp)

        self.images = dict(images) if images is not None else default_images()
        if not self.images:
            raise ValueError("images is empty: give at least one (1, 3, H, W) image")
        self.models = dict(models) if models is not None else self._shipped_models()
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 8:
            raise ValueError(f"crop must be an int >= 8 (pixels), got {crop!r}")
        self.crop, self.seed, self.separate = crop, seed, separate
        params = next((p for m in self.models.values() for p in m.parameters()), None)
        self.device = params.device if params is not None else torch.device("cpu")
        #: bf16 autocast for the models (or fp32), and why
        self.amp, self.amp_reason = choose_amp(self.device, amp)
        self.metric_names = tuple(metrics)
        self._scorer = Scorer(self.metric_names, max_bytes=2**28)
        for fn in self._scorer.functions.values():  # LPIPS / DISTS backbones: about 2x faster on the CPU
            if isinstance(fn, torch.nn.Module):
                fn.to(memory_format=torch.channels_last)
        self._cache: dict = {}
        self._lock = threading.Lock()
        if prefetch_threads is not None and (isinstance(prefetch_threads, bool) or not isinstance(prefetch_threads, int)
                                             or prefetch_threads < 1):
            raise ValueError(f"prefetch_threads must be an int >= 1 or None, got {prefetch_threads!r}")
        self._prefetcher = _Prefetcher(self._compute_panel, prefetch_threads) if prefetch else None
        cbrs = sorted({cbr for _, cbr in self.models}) or [1 / 48]
        # start where the most systems have a checkpoint (the perceptual model's CBR)
        start = max(cbrs, key=lambda c: sum(cbr == c for _, cbr in self.models))

        style = {"description_width": "70px"}
        self.image_choice = widgets.Dropdown(options=list(self.images), description="image", style=style)
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="upload")
        self.snr = widgets.FloatSlider(value=10.0, min=self.SNR_RANGE[0], max=self.SNR_RANGE[1],
                                       step=1.0, description="SNR (dB)", continuous_update=False,
                                       style=style)
        self.cbr = widgets.SelectionSlider(options=[(cbr_label(c), c) for c in cbrs],
                                           value=start, description="CBR",
                                           continuous_update=False, style=style)
        self.beta = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.1,
                                        description="realism β", continuous_update=False,
                                        style=style)
        self.channel_choice = widgets.ToggleButtons(options=["AWGN", "Rayleigh block"],
                                                    description="channel", style=style)
        self.zoom = widgets.Checkbox(value=True, description="zoom ×4 on the centre")
        self.status = widgets.HTML()
        self.panels = {}
        self.lost = {}  # per panel: the note shown instead of an image that did not arrive
        self.zoom_captions = {}
        names = ["original", "PSNR deep JSCC", "perceptual deep JSCC"]
        names += ["HEVC + capacity"] if separate else []
        for name in names:
            detail = widgets.Image(format="png")
            detail.add_class("jscc-lab-pixelated")  # the x4 zoom is done by the browser
            self.panels[name] = (widgets.Image(format="png"), detail, widgets.HTML())
            self.lost[name] = widgets.HTML(layout=widgets.Layout(display="none"))
            self.zoom_captions[name] = widgets.HTML("<small>centre, zoomed ×4</small>")
        for control in (self.image_choice, self.snr, self.cbr, self.beta, self.channel_choice, self.zoom):
            control.observe(self.update, names="value")
        self.upload.observe(self._on_upload, names="value")
        columns = [widgets.VBox([widgets.HTML(f"<b>{name}</b>"), img, self.lost[name],
                                 self.zoom_captions[name], zoom, text])
                   for name, (img, zoom, text) in self.panels.items()]
        self.widget = widgets.VBox([
            widgets.HTML("<style>.jscc-lab-pixelated { image-rendering: pixelated; }</style>"),
            widgets.HBox([self.image_choice, self.upload, self.channel_choice]),
            widgets.HBox([self.snr, self.cbr, self.beta, self.zoom]),
            self.status, widgets.HBox(columns),
        ])
        self.update()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    @staticmethod
    def _shipped_models() -> dict:
        """Every shipped AWGN checkpoint by ``(objective, cbr)``, found by its registry fields; a
        rate-adaptive model (the stronger family) wins where both exist, so the single-CBR
        checkpoints it covers are not loaded. Models are put in ``channels_last`` (their
        convolutions run faster on the CPU)."""
        from fractions import Fraction

        from .. import pretrained
        from ..models import AtCBR

        models = {}
        names = pretrained.find(channel="awgn")
        entries = {name: pretrained.info(name) for name in names}
        for name in sorted(names, key=lambda n: not entries[n].get("cbrs")):  # rate-adaptive first
            entry = entries[name]
            cbrs = [float(Fraction(c)) for c in entry.get("cbrs") or [entry["cbr"]]]
            wanted = [c for c in cbrs if (entry["objective"], c) not in models]
            if not wanted:
                continue
            model = pretrained.load(name).to(memory_format=torch.channels_last)
            for cbr in wanted:
                models[(entry["objective"], cbr)] = AtCBR(model, cbr) if entry.get("cbrs") else model
        return models

    def _on_upload(self, change) -> None:
        from PIL import Image

        from ..data import to_tensor

        for item in change["new"]:
            with Image.open(io.BytesIO(item["content"])) as img:
                img.load()
                self.images[item["name"]] = to_tensor(img)
        self.image_choice.options = list(self.images)
        self.image_choice.value = list(self.images)[-1]

    def view(self) -> _View:
        """The current settings of every control."""
        x = self.images[self.image_choice.value]
        return _View(self.image_choice.value, id(x), min(self.crop, *x.shape[-2:]), self.cbr.value,
                     float(self.snr.value), self.channel_choice.value, float(self.beta.value),
                     bool(self.zoom.value))

    def _cached(self, key, compute):
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._lock:
            while len(self._cache) > 1024:
                self._cache.pop(next(iter(self._cache)))
            return self._cache.setdefault(key, value)

    def _image(self, view: _View) -> torch.Tensor:
        from ..data import center_crop

        x = self.images[view.image]
        return self._cached(("view", view.image, view.image_id, view.side),
                            lambda: center_crop(x, view.side).contiguous())

    @staticmethod
    def _channel(name: str):
        from ..channels import AWGN, RayleighFading

        return AWGN() if name == "AWGN" else RayleighFading("block")

    def _image_number(self, view: _View) -> int:
        """The image's number for the seeding rule: its position in the image list."""
        return list(self.images).index(view.image)

    def reconstruct(self, system: str, view: _View | None = None) -> torch.Tensor | None:
        """The reconstruction ``(1, 3, side, side)`` of ``system`` (a panel name) at ``view``
        (default: the current controls), or ``None`` without a checkpoint for it.

        Run by :func:`jscc_lab.systems.transmit` with the noise of
        :func:`jscc_lab.systems.noise_generator` ``(seed, image number, snr)`` (the image number
        is its position in ``images``): :func:`jscc_lab.evaluate.sweep` of the same model on the
        same crop gives the same ``x_hat``."""
        from ..systems import ModelSystem, transmit

        view = self.view() if view is None else view
        x, cbr, snr = self._image(view), view.cbr, view.snr
        if system == "original":
            return x
        if system == "HEVC + capacity":
            return self._separate(view)[0]
        kind = "psnr" if system.startswith("PSNR") else "perceptual"
        model = self.models.get((kind, cbr))
        if model is None:
            return None
        sent = ModelSystem(model, channel=self._channel(view.channel))
        beta = view.beta if sent.realism else None
        key = (kind, "x", beta, view.image, view.image_id, view.side, cbr, snr, view.channel)
        return self._cached(key, lambda: transmit(sent, x, snr, cbr, beta=beta, seed=self.seed,
                                                  image=self._image_number(view), device=self.device,
                                                  bf16=self.amp))

    def _separate(self, view: _View) -> tuple[torch.Tensor, str]:
        """Separate coding at ``view``: ``(x_hat, reason)``, ``reason`` ``""`` or why the image
        was lost (``"budget"``, ``"outage"``, ``"decoding"``); cached. Noise by the seeding rule."""
        from ..systems import SeparateSystem, noise_generator

        def run():
            g = noise_generator(self.seed, self._image_number(view), view.snr)
            result = SeparateSystem("hevc", "capacity", channel=self._channel(view.channel)).result(
                self._image(view), view.snr, view.cbr, generator=g)
            return result.x_hat, result.reason[0] if bool(result.failed[0]) else ""

        return self._cached(("separate", view.image, view.image_id, view.side, view.cbr, view.snr,
                             view.channel), run)

    def _scores(self, x, x_hat) -> str:
        values = self._scorer(x, x_hat)
        return " · ".join(f"{k.upper()} {v.item():.3f}" if k != "psnr" else f"PSNR {v.item():.2f} dB"
                          for k, v in values.items())

    def _panel_key(self, name: str, view: _View) -> tuple:
        """What panel ``name`` depends on: beta matters to the perceptual panel only, SNR and
        channel not to the original."""
        if name == "original":
            view = view._replace(snr=0.0, channel="", beta=0.0, cbr=0.0)
        elif name != "perceptual deep JSCC":
            view = view._replace(beta=0.0)
        return ("panel", name, view)

    def _compute_panel(self, key) -> tuple[bytes, bytes, str, str] | None:
        """PNG, zoom PNG, metric text and why the image was lost (``""`` if it arrived) of one
        panel (``None`` without a checkpoint); cached."""
        _, name, view = key

        def render():
            x_hat = self.reconstruct(name, view)
            if x_hat is None:
                return None
            lost = self._separate(view)[1] if name == "HEVC + capacity" else ""
            h, w = x_hat.shape[-2:]
            zoom = b""
            if view.zoom:
                zoom = png_bytes(x_hat[..., h // 2 - h // 8: h // 2 + h // 8, w // 2 - w // 8: w // 2 + w // 8])
            text = "" if name == "original" else self._cached(  # the zoom does not change scores
                ("scores", name, view._replace(zoom=False)), lambda: self._scores(self._image(view), x_hat))
            return png_bytes(x_hat), zoom, text, lost

        return self._cached(key, render)

    def _panel(self, name: str, view: _View):
        key = self._panel_key(name, view)
        if self._prefetcher is not None:
            self._prefetcher.wait_for(key)
        return self._compute_panel(key)

    def _neighbours(self, view: _View, moved: str | None = None) -> list:
        """Panel keys to prefetch, likeliest first. The control moved last (``moved``: ``"snr"``,
        ``"beta"``, ``"cbr"`` or ``"channel"``) goes first, over its whole range, nearest
        positions first (someone exploring tends to keep moving the same slider); then one step
        of SNR and beta, the neighbouring CBRs and the other channel, then SNR and beta further
        away, then the remaining CBRs."""
        low, high = self.SNR_RANGE
        step, beta_step = float(self.snr.step), float(self.beta.step)
        systems = [n for n in self.panels if n != "original"]
        perceptual = [n for n in systems if n == "perceptual deep JSCC"]

        def snr_ring(distance: int) -> list:
            return [self._panel_key(n, view._replace(snr=snr)) for snr in
                    (view.snr + distance * step, view.snr - distance * step) if low <= snr <= high for n in systems]

        def beta_ring(distance: int) -> list:
            return [self._panel_key(n, view._replace(beta=round(beta, 6))) for beta in
                    (view.beta + distance * beta_step, view.beta - distance * beta_step)
                    if -1e-9 <= beta <= 1 + 1e-9 for n in perceptual]

        cbrs = sorted((value for _, value in self.cbr.options), key=lambda c: abs(math.log(c / view.cbr)))
        near_cbrs = [c for c in cbrs[1:] if abs(math.log(c / view.cbr)) < math.log(2.5)]
        snr_steps = range(1, round((high - low) / step) + 1)
        beta_steps = range(1, round(1 / beta_step) + 1)
        other_channels = [self._panel_key(n, view._replace(channel=c)) for c in self.channel_choice.options
                          if c != view.channel for n in systems]
        keys = {"snr": [k for d in snr_steps for k in snr_ring(d)],
                "beta": [k for d in beta_steps for k in beta_ring(d)],
                "cbr": [self._panel_key(n, view._replace(cbr=c)) for c in cbrs[1:] for n in systems],
                "channel": other_channels}.get(moved, [])
        keys += snr_ring(1) + beta_ring(1)
        keys += [self._panel_key(n, view._replace(cbr=c)) for c in near_cbrs for n in systems]
        keys += other_channels
        for distance in snr_steps[1:]:
            keys += snr_ring(distance) + beta_ring(distance)
        keys += [self._panel_key(n, view._replace(cbr=c)) for c in cbrs[1:] if c not in near_cbrs
                 for n in systems]
        with self._lock:
            return [k for k in dict.fromkeys(keys) if k not in self._cache]

    def wait_prefetched(self, timeout: float | None = None) -> bool:
        """Block until the background thread has computed every planned neighbour (benchmarks,
        tests); ``True`` at once without prefetching."""
        return True if self._prefetcher is None else self._prefetcher.join(timeout)

    def update(self, change=None) -> None:
        """Redraw the panels the controls changed, then plan the neighbours' prefetch."""
        self.status.value = "computing…"
        started = time.perf_counter()
        view = self.view()
        context = self._prefetcher.foreground() if self._prefetcher else contextlib.nullcontext()
        with context:
            for name, (img, zoom, text) in self.panels.items():
                panel = self._panel(name, view)
                lost, caption = self.lost[name], self.zoom_captions[name]
                if panel is None:
                    img.value, zoom.value = b"", b""
                    img.layout.display = zoom.layout.display = caption.layout.display = "none"
                    lost.layout.display = "none"
                    text.value = f"<i>no shipped checkpoint at CBR {cbr_label(view.cbr)}</i>"
                    continue
                picture, detail, scores, reason = panel
                if img.value != picture:
                    img.value = picture
                if zoom.value != detail:
                    zoom.value = detail
                    zoom.width = str(4 * (view.side // 4))
                if reason:  # say so instead of showing the receiver's grey stand-in
                    lost.value = _lost_note(reason, view.side)
                    scores += " <small>(scored as the mid-grey image the receiver shows)</small>"
                img.layout.display = "none" if reason else ""
                lost.layout.display = "" if reason else "none"
                zoom.layout.display = caption.layout.display = "" if detail and not reason else "none"
                text.value = scores
        self.status.value = (f"{view.image}, {view.side}x{view.side} crop, CBR {cbr_label(view.cbr)}, "
                             f"{view.snr:g} dB, {view.channel}: "
                             f"{1000 * (time.perf_counter() - started):.0f} ms")
        if self._prefetcher is not None:
            moved = {id(self.snr): "snr", id(self.beta): "beta", id(self.cbr): "cbr",
                     id(self.channel_choice): "channel"}.get(id((change or {}).get("owner")))
            self._prefetcher.plan(self._neighbours(view, moved))


_LOST_WHY = {"budget": "even the smallest HEVC file needs more bits than the channel carries",
             "outage": "the fade was too deep for the code rate (outage)",
             "decoding": "the channel decoder failed"}


def _lost_note(reason: str, side: int) -> str:
    """A box the size of the image saying that it did not arrive, and why."""
    why = _LOST_WHY.get(reason, reason)
    return (f'<div style="width:{side}px;height:{side}px;box-sizing:border-box;display:flex;'
            'flex-direction:column;justify-content:center;align-items:center;text-align:center;'
            'border:2px dashed #b00020;color:#b00020;padding:8px">'
            f"<b>image lost: decoding failed</b><small>{why}</small></div>")


def explorer(images=None, models=None, crop: int = 256, metrics=("psnr", "lpips"), separate=True,
             prefetch: bool = True, amp: str = "auto"):
    """Build an :class:`Explorer`; leave it as a cell's last line (or ``display`` it) to show it."""
    return Explorer(images=images, models=models, crop=crop, metrics=metrics, separate=separate,
                    prefetch=prefetch, amp=amp)


def explorer_app(**kwargs) -> widgets.VBox:
    """The explorer of the web page (``jscc-lab explore``): a status line shows at once
    ("loading the models…") while a background thread builds the :class:`Explorer` (``kwargs``
    as for :func:`explorer`) and draws its first view; then the status turns to ready (or says
    why the explorer could not start) and the explorer appears below it."""
    import html

    status = widgets.HTML("<b>Loading the models…</b> the first view appears in 10-20 s")
    box = widgets.VBox([status])
    started = time.perf_counter()

    def build():
        try:
            box.explorer = Explorer(**kwargs)
        except Exception as err:  # noqa: BLE001  (shown on the page, where the lecturer looks)
            status.value = (f"<b>The explorer could not start:</b> {html.escape(type(err).__name__)}: "
                            f"{html.escape(str(err))}")
            return
        box.children = [status, box.explorer.widget]
        status.value = (f"<b>Ready</b> (models loaded and first view drawn in "
                        f"{time.perf_counter() - started:.0f} s): move a slider")

    threading.Thread(target=build, name="explorer-build", daemon=True).start()
    return box
