"""ipywidgets front ends for a class: the paired-comparison user study (and the explorer).

Widgets are thin: the logic they drive lives in :mod:`jscc_lab.user_study` (trials, recording,
analysis), so it is tested without a browser. Each widget object keeps its controls as
attributes, so a test (or a lecturer's script) can drive the same callbacks a click would.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import ipywidgets as widgets
import torch

from .data import to_image
from .user_study import ATTENTION, ResultsFile, Trial, make_trials

__all__ = ["user_study", "UserStudy", "explorer", "Explorer", "png_bytes", "attention_distortion"]


def png_bytes(x: torch.Tensor) -> bytes:
    """``(1, 3, H, W)`` image tensor -> PNG bytes for an ``ipywidgets.Image``."""
    buf = io.BytesIO()
    to_image(x).save(buf, format="PNG")
    return buf.getvalue()


def attention_distortion(x: torch.Tensor, factor: int = 8) -> torch.Tensor:
    """An obviously worse copy for attention checks: ``factor``-times down- then up-sampled."""
    h, w = x.shape[-2:]
    small = torch.nn.functional.interpolate(x, size=(max(1, h // factor), max(1, w // factor)),
                                            mode="area")
    return torch.nn.functional.interpolate(small, size=(h, w), mode="nearest")


class UserStudy:
    """A 2AFC study session for one participant (see :func:`user_study`).

    ``original(image)`` returns the ``(1, 3, H, W)`` original of an image identifier and
    ``reconstruct(image, system, cbr)`` (``system`` is ``"ours"`` or ``"ref"``) a reconstruction;
    attention trials show the original against :func:`attention_distortion` of it.
    Answers go to ``results_path`` one JSON line at a time; a new session with the same
    participant resumes at the first unanswered trial.
    """

    def __init__(self, original, reconstruct, results_path, participant: str, images, cbr_ours: float,
                 cbr_refs, repeats: int = 1, seed: int = 0, clock=time.monotonic):
        if not participant or not isinstance(participant, str):
            raise ValueError("participant must be a non-empty string (a pseudonym, not a name)")
        self.original, self.reconstruct = original, reconstruct
        self.participant, self.clock = participant, clock
        self.results = ResultsFile(results_path)
        self.trials = make_trials(images, cbr_ours, cbr_refs, participant, repeats=repeats, seed=seed)
        self.progress = widgets.HTML()
        self.reference = widgets.Image(format="png")
        self.left = widgets.Image(format="png")
        self.right = widgets.Image(format="png")
        self.left_button = widgets.Button(description="Left is closer", button_style="info",
                                          layout=widgets.Layout(width="48%"))
        self.right_button = widgets.Button(description="Right is closer", button_style="info",
                                           layout=widgets.Layout(width="48%"))
        self.left_button.on_click(lambda _: self.answer("left"))
        self.right_button.on_click(lambda _: self.answer("right"))
        self.widget = widgets.VBox([
            self.progress,
            widgets.HTML("<b>Reference</b>"), self.reference,
            widgets.HTML("<b>Which of these two looks closer to the reference?</b>"),
            widgets.HBox([self.left, self.right]),
            widgets.HBox([self.left_button, self.right_button]),
        ])
        self.current: Trial | None = None
        self._shown_at = 0.0
        self._next()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    @property
    def remaining(self) -> list[Trial]:
        done = self.results.answered(self.participant)
        return [t for t in self.trials if t.index not in done]

    def _next(self) -> None:
        todo = self.remaining
        n_done = len(self.trials) - len(todo)
        if not todo:
            self.current = None
            self.progress.value = (f"<b>Done: all {len(self.trials)} comparisons recorded in "
                                   f"{self.results.path}. Thank you!</b>")
            self.left_button.disabled = self.right_button.disabled = True
            return
        self.current = todo[0]
        t = self.current
        original = self.original(t.image)
        if t.kind == ATTENTION:
            ours, ref = original, attention_distortion(original)
        else:
            ours, ref = self.reconstruct(t.image, "ours", t.cbr_ours), self.reconstruct(t.image, "ref", t.cbr_ref)
        shown = (ours, ref) if self.current.left == "ours" else (ref, ours)
        self.reference.value = png_bytes(original)
        self.left.value, self.right.value = png_bytes(shown[0]), png_bytes(shown[1])
        self.progress.value = (f"Participant <code>{self.participant}</code>: "
                               f"comparison {n_done + 1} of {len(self.trials)}")
        self._shown_at = self.clock()

    def answer(self, choice: str) -> dict:
        """Record ``"left"`` or ``"right"`` for the current trial and show the next one."""
        if self.current is None:
            raise RuntimeError("the study is finished: no trial is waiting for an answer")
        record = self.results.record(self.participant, self.current, choice,
                                     time=self.clock() - self._shown_at)
        self._next()
        return record


def user_study(original, reconstruct, results_path, participant: str, images, cbr_ours: float, cbr_refs,
               repeats: int = 1, seed: int = 0) -> UserStudy:
    """Start (or resume) a 2AFC study for ``participant``; display ``study.widget``.

    Parameters
    ----------
    original : callable ``image -> (1, 3, H, W)`` tensor of the original
    reconstruct : callable ``(image, system, cbr) -> (1, 3, H, W)``, ``system`` "ours" or "ref"
    results_path : JSON-lines file shared by all participants (appended, never rewritten)
    participant : a pseudonym; reusing it resumes that participant's session
    images : image identifiers passed to ``stimuli`` through ``trial.image``
    cbr_ours, cbr_refs : CBR of our system and the reference CBRs it is compared against
    """
    return UserStudy(original, reconstruct, Path(results_path), participant, images, cbr_ours, cbr_refs,
                     repeats=repeats, seed=seed)


# ---------------------------------------------------------------------------------------------
# the explorer
# ---------------------------------------------------------------------------------------------


def _cbr_label(cbr: float) -> str:
    return f"1/{round(1 / cbr)}"


def _parse_checkpoint_name(name: str):
    """``adjscc-psnr-awgn-cbr1_12`` -> ``("psnr", "awgn", 1/12)``; ``perceptual-awgn-cbr1_48`` ->
    ``("perceptual", "awgn", 1/48)``; anything else -> ``None``."""
    parts = name.split("-")
    if len(parts) < 3 or not parts[-1].startswith("cbr"):
        return None
    num, _, den = parts[-1][3:].partition("_")
    try:
        cbr = int(num) / int(den)
    except ValueError:
        return None
    kind = "perceptual" if parts[0] == "perceptual" else ("psnr" if "psnr" in parts else None)
    return (kind, parts[-2], cbr) if kind else None


def default_images() -> dict:
    """Images offered by the explorer: the bundled samples, plus Kodak when it is on disk
    (never downloaded from here)."""
    from . import data, settings

    images = {name: x for name, x in zip(data.SAMPLE_NAMES, data.sample_images())}
    folder = settings.data_root() / "kodak"
    for i in range(1, 25):
        path = folder / f"kodim{i:02d}.png"
        if path.is_file():
            images[f"kodim{i:02d}"] = data.load_image(path)
    return images


class Explorer:
    """Side-by-side explorer: original, PSNR-optimised deep JSCC, perceptual deep JSCC and
    separate coding (HEVC-intra + capacity-achieving code), with live PSNR / LPIPS (and DISTS).

    Controls: image (or an uploaded one), SNR (dB), CBR (those with shipped checkpoints), realism
    beta (perceptual model), channel (AWGN / Rayleigh block fading), zoom. Work is cached per
    (system, image, CBR, SNR, channel, beta), noise is seeded per SNR, and a slider fires on
    release, so moving back to a setting redraws instantly.

    Parameters
    ----------
    images : ``{name: (1, 3, H, W)}``; default :func:`default_images`
    models : ``{("psnr" | "perceptual", cbr): model}``; default: every shipped AWGN checkpoint
    crop : side of the centre crop shown (smaller is faster)
    metrics : metrics shown under each image (``"dists"`` is slower on a CPU)
    """

    SNR_RANGE = (0.0, 20.0)

    def __init__(self, images=None, models=None, crop: int = 256, metrics=("psnr", "lpips"),
                 seed: int = 0, separate: bool = True):
        from . import metrics as metric_module

        self.images = dict(images) if images is not None else default_images()
        if not self.images:
            raise ValueError("images is empty: give at least one (1, 3, H, W) image")
        self.models = dict(models) if models is not None else self._shipped_models()
        if isinstance(crop, bool) or not isinstance(crop, int) or crop < 8:
            raise ValueError(f"crop must be an int >= 8 (pixels), got {crop!r}")
        self.crop, self.seed, self.separate = crop, seed, separate
        self.metric_names = tuple(metrics)
        self._metric = metric_module
        self._cache: dict = {}
        cbrs = sorted({cbr for _, cbr in self.models}) or [1 / 48]
        # start where the most systems have a checkpoint (the perceptual model's CBR)
        start = max(cbrs, key=lambda c: sum(cbr == c for _, cbr in self.models))

        style = {"description_width": "70px"}
        self.image_choice = widgets.Dropdown(options=list(self.images), description="image", style=style)
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="upload")
        self.snr = widgets.FloatSlider(value=10.0, min=self.SNR_RANGE[0], max=self.SNR_RANGE[1],
                                       step=1.0, description="SNR (dB)", continuous_update=False,
                                       style=style)
        self.cbr = widgets.SelectionSlider(options=[(_cbr_label(c), c) for c in cbrs],
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
        names = ["original", "PSNR deep JSCC", "perceptual deep JSCC"]
        names += ["HEVC + capacity"] if separate else []
        for name in names:
            self.panels[name] = (widgets.Image(format="png"), widgets.Image(format="png"), widgets.HTML())
        for control in (self.image_choice, self.snr, self.cbr, self.beta, self.channel_choice, self.zoom):
            control.observe(self.update, names="value")
        self.upload.observe(self._on_upload, names="value")
        columns = [widgets.VBox([widgets.HTML(f"<b>{name}</b>"), img, zoom, text])
                   for name, (img, zoom, text) in self.panels.items()]
        self.widget = widgets.VBox([
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
        from . import pretrained

        models = {}
        for name in pretrained.available():
            parsed = _parse_checkpoint_name(name)
            if parsed and parsed[1] == "awgn":
                models[(parsed[0], parsed[2])] = pretrained.load(name)
        return models

    def _on_upload(self, change) -> None:
        from PIL import Image

        from .data import to_tensor

        for item in change["new"]:
            with Image.open(io.BytesIO(item["content"])) as img:
                img.load()
                self.images[item["name"]] = to_tensor(img)
        self.image_choice.options = list(self.images)
        self.image_choice.value = list(self.images)[-1]

    def _view(self) -> torch.Tensor:
        from .data import center_crop

        name = self.image_choice.value
        x = self.images[name]
        side = min(self.crop, *x.shape[-2:])
        return self._cached(("view", name, id(x), side), lambda: center_crop(x, side).contiguous())

    def _channel(self):
        from .channels import AWGN, RayleighFading

        return AWGN() if self.channel_choice.value == "AWGN" else RayleighFading("block")

    def _cached(self, key, compute):
        if key not in self._cache:
            if len(self._cache) > 512:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = compute()
        return self._cache[key]

    @torch.inference_mode()
    def reconstruct(self, system: str) -> torch.Tensor | None:
        """The current reconstruction of ``system`` (a panel name), or ``None`` if unavailable."""
        x, cbr, snr = self._view(), self.cbr.value, float(self.snr.value)
        channel_name = self.channel_choice.value
        base = (self.image_choice.value, x.shape, cbr, snr, channel_name)
        generator = torch.Generator().manual_seed(self.seed * 1000 + int(snr * 10))
        if system == "original":
            return x
        if system == "HEVC + capacity":
            from .baselines import separate_transmit

            def run():
                return separate_transmit(x, codec="hevc", cbr=cbr, snr_db=snr,
                                         channel=self._channel(), channel_code="capacity",
                                         generator=generator).x_hat
            return self._cached(("separate",) + base, run)
        kind = "psnr" if system.startswith("PSNR") else "perceptual"
        model = self.models.get((kind, cbr))
        if model is None:
            return None
        s = self._cached((kind, "s") + base[:4], lambda: model.encode(x, snr))
        y = self._cached((kind, "y") + base, lambda: self._channel()(s, snr, generator=generator))
        if kind == "perceptual":
            beta = float(self.beta.value)
            return self._cached((kind, "x", beta) + base,
                                lambda: model.decode(y, snr, size=tuple(x.shape[-2:]), beta=beta))
        return self._cached((kind, "x") + base, lambda: model.decode(y, snr, size=tuple(x.shape[-2:])))

    def _scores(self, x, x_hat) -> str:
        values = self._metric.evaluate(x, x_hat, metrics=self.metric_names)
        return " · ".join(f"{k.upper()} {v.item():.3f}" if k != "psnr" else f"PSNR {v.item():.2f} dB"
                          for k, v in values.items())

    def _render(self, name: str, x: torch.Tensor, x_hat: torch.Tensor) -> tuple[bytes, bytes, str]:
        """PNG, zoom PNG and metric text of one panel; cached with the reconstruction itself."""
        key = ("render", id(x_hat), bool(self.zoom.value), self.metric_names)
        if key in self._cache:
            return self._cache[key][1]
        h, w = x_hat.shape[-2:]
        zoom = b""
        if self.zoom.value:
            part = x_hat[..., h // 2 - h // 8: h // 2 + h // 8, w // 2 - w // 8: w // 2 + w // 8]
            zoom = png_bytes(torch.nn.functional.interpolate(part, scale_factor=4, mode="nearest"))
        text = "" if name == "original" else self._scores(x, x_hat)
        # keep x_hat alive with its rendering so that id() stays unique while cached
        self._cached(key, lambda: (x_hat, (png_bytes(x_hat), zoom, text)))
        return self._cache[key][1]

    def update(self, change=None) -> None:
        """Recompute what the controls changed and redraw every panel."""
        self.status.value = "computing…"
        started = time.perf_counter()
        x = self._view()
        for name, (img, zoom, text) in self.panels.items():
            x_hat = self.reconstruct(name)
            if x_hat is None:
                img.value, zoom.value = b"", b""
                img.layout.display = zoom.layout.display = "none"
                text.value = f"<i>no shipped checkpoint at CBR {_cbr_label(self.cbr.value)}</i>"
                continue
            picture, detail, scores = self._render(name, x, x_hat)
            img.layout.display = ""
            zoom.layout.display = "" if detail else "none"
            if img.value != picture:
                img.value = picture
            if zoom.value != detail:
                zoom.value = detail
            text.value = scores
        self.status.value = (f"{self.image_choice.value}, {x.shape[-1]}x{x.shape[-2]} crop, "
                             f"CBR {_cbr_label(self.cbr.value)}, {self.snr.value:g} dB, "
                             f"{self.channel_choice.value}: {1000 * (time.perf_counter() - started):.0f} ms")


def explorer(images=None, models=None, crop: int = 256, metrics=("psnr", "lpips"), separate=True):
    """Build an :class:`Explorer`; leave it as a cell's last line (or ``display`` it) to show it."""
    return Explorer(images=images, models=models, crop=crop, metrics=metrics, separate=separate)
