"""Bandwidth saving of the perceptual JSCC model at matched perceptual quality.

For each metric (LPIPS-alex, which is in the training loss, and DISTS and LPIPS-vgg, which are
not) and each reference system, finds the CBR the reference needs to equal our quality at our
CBR (a monotone cubic in log CBR through its measured curve; the HEVC references are measured on
a dense grid of 19 CBRs from 1/128 to 1/6) and prints ``saving = 1 - r / CBR_needed`` with a
paired bootstrap 95 % interval over images and the interpolation error (how far the saving moves
under linear interpolation instead). Never extrapolates: outside the reference's measured CBR
range it prints a bound ("> 66.7 %").

Ours (``--ours``, default ``perceptual-awgn-cbr1_48``) is one registered name or checkpoint file,
or one per CBR; a rate-adaptive model (``model.cbrs``, e.g. TAEJSCC) is evaluated at each of its
CBRs (``--cbrs`` picks a subset) and the saving is computed at each of them. CBRs are always
read from the models (``model.cbrs`` / ``model.cbr``), never from their names.

References: ``adjscc`` (our PSNR-optimised ADJSCC checkpoints ``adjscc-psnr-awgn-cbr1_*``),
``psnr-model`` (any PSNR-trained model(s) named by ``--psnr-reference``: one rate-adaptive model
or one checkpoint per CBR; default the same ADJSCC checkpoints), ``hevc-capacity`` (HEVC intra +
an ideal code at the Shannon capacity), ``hevc-ldpc`` (HEVC intra + 5G LDPC with the best MCS per
image).

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/bandwidth_saving.py
    python benchmarks/bandwidth_saving.py --images 8 --crop 256 --references adjscc   # minutes

Images: Kodak by default (``--images N``: the first N); ``--folder PATH`` takes any photos
instead (``--count N``: the first N usable files sorted by name, ``--min-size S``: skip images
whose shorter side is below S pixels, both also apply to Kodak); ``--crop`` centre-crops them
(``taejscc-*`` stand for the registered names of a rate-adaptive perceptual / PSNR pair):

    python benchmarks/bandwidth_saving.py --folder photos/ --count 20 --min-size 512 --crop 512 \\
        --ours taejscc-perceptual --cbrs 1/48 1/24 --references psnr-model hevc-ldpc \\
        --psnr-reference taejscc-psnr --json photos.json

Our model is also evaluated at beta = 0 (its MSE + LPIPS end) and at any ``--betas`` for the table
and the figure if it is realism-conditioned; the saving is computed at ``--beta``. The realism
table then gives, per CBR, each metric at beta 0 and at ``--beta`` and the relative change (the
knob is real when DISTS and LPIPS-vgg fall by at least ``REALISM_TARGET`` while PSNR falls), and
the diagnostics of every row (mean signed bias per RGB channel, chroma kept, the grid score of
:func:`jscc_lab.metrics.grid_rms`) are stored. ``--figure`` draws the
reconstructions of a few images beside each other (original, the PSNR references, ours at beta 0
and ``--beta``, HEVC + capacity, HEVC + LDPC, all at ``--figure-cbr``, default our smallest CBR)
with the per-image scores of the same rows; ``--curves-figure`` draws quality vs CBR of every
reference with our model as a point (a curve when it has several CBRs). ``--json`` writes the
setup, the images (file name and SHA-256 of the pixels as used, after the crop), the per-image
rows and the savings as numbers (a bound reads ``{"saving": null, "bound": "above",
"bound_value": 0.667}``). ``--rows-from`` reuses the rows of an earlier ``--json`` run with the
same setup, so that redrawing the figures takes seconds; it refuses rows made on other images:

    python benchmarks/bandwidth_saving.py --crop 256 --json rows.json --figure grid.jpg
    python benchmarks/bandwidth_saving.py --crop 256 --rows-from rows.json --curves-figure curves.png

``--resweep SYSTEM ...`` with ``--rows-from`` sweeps those systems again (a reference whose
checkpoint changed, or ours) and reuses the file's rows of the rest (HEVC takes the longest).

Kodak-24 at full size with all references takes a while on a CPU (the HEVC rate control and
DISTS dominate); ``--images`` / ``--crop`` make a quick version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

from jscc_lab import pretrained
from jscc_lab.channels import cbr_label
from jscc_lab.data import IMAGE_SUFFIXES, center_crop, kodak, load_image
from jscc_lab.evaluate import (
    bandwidth_saving,
    curve,
    format_table,
    reconstruct,
    reference_cbrs,
    save_json,
    separate_coding,
    summarize,
    sweep,
)
from jscc_lab.metrics import higher_is_better, psnr
from jscc_lab.models import perceptual as _perceptual  # noqa: F401  (registers "perceptual")
from jscc_lab.systems import ModelSystem, as_system

DEFAULT_OURS = "perceptual-awgn-cbr1_48"
ADJSCC_NAME = "adjscc-psnr-awgn-cbr1_{}"
DEFAULT_PSNR_REFERENCE = [ADJSCC_NAME.format(d) for d in (96, 48, 24, 12)]
REFERENCES = ("adjscc", "psnr-model", "hevc-capacity", "hevc-ldpc")
MODEL_REFERENCES = ("adjscc", "psnr-model")  # drawn before ours in --figure
LABELS = {"adjscc": "PSNR deep JSCC (ADJSCC)", "psnr-model": "PSNR model",
          "hevc-capacity": "HEVC + capacity", "hevc-ldpc": "HEVC + 5G LDPC"}
#: the setup a --rows-from file must share with the command line (besides its images)
SETUP_KEYS = ("ours", "snr", "seed")
#: row keys that are not metric values
ROW_KEYS = ("system", "cbr", "cbr_used", "snr_db", "beta", "image")
#: colour and grid diagnostics stored in every row (cheap, pixel-level; not used for savings)
DIAGNOSTICS = ("bias_r", "bias_g", "bias_b", "chroma_ratio", "grid")
#: relative fall of DISTS and LPIPS-vgg from beta 0 to beta 1 that makes the realism knob "real"
REALISM_TARGET = 0.10


# ---- images ---------------------------------------------------------------------------------


def _image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the file's header (the pixels are not decoded)."""
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def select_images(names, images, count: int = 0, min_size: int = 0, crop: int = 0):
    """``(names, images)`` kept: those whose shorter side is at least ``min_size``, the first
    ``count`` of them (0 = all), centre-cropped to ``crop`` (0 = full size)."""
    pairs = [(n, x) for n, x in zip(names, images) if min(x.shape[-2:]) >= min_size]
    if count:
        pairs = pairs[:count]
    if not pairs:
        raise SystemExit(f"no image is left (min size {min_size}, count {count or 'all'})")
    if crop:
        small = next(((n, x) for n, x in pairs if min(x.shape[-2:]) < crop), None)
        if small is not None:
            h, w = small[1].shape[-2:]
            raise SystemExit(f"{small[0]} ({w}x{h}) is smaller than --crop {crop}; pass --min-size {crop} "
                             "to skip such images")
        pairs = [(n, center_crop(x, crop)) for n, x in pairs]
    return [n for n, _ in pairs], [x for _, x in pairs]


def folder_images(folder, count: int = 0, min_size: int = 0, crop: int = 0):
    """``(file names, (1, 3, H, W) images)`` of the image files in ``folder`` sorted by name:
    the first ``count`` (0 = all) whose shorter side is at least ``min_size``, centre-cropped to
    ``crop`` (0 = full size). Only the chosen files are decoded."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"--folder {folder} is not a folder")
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: p.name)
    if not files:
        raise SystemExit(f"--folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if min_size:
        files = [p for p in files if min(_image_size(p)) >= min_size]
    if count:
        files = files[:count]
    if not files:
        raise SystemExit(f"--folder {folder} holds no image whose shorter side is at least {min_size} px")
    return select_images([p.name for p in files], [load_image(p) for p in files], crop=crop)


def kodak_images(count: int = 0, min_size: int = 0, crop: int = 0):
    """``(file names, images)`` of Kodak, chosen like :func:`folder_images`."""
    return select_images([f"kodim{i:02d}.png" for i in range(1, 25)], kodak(), count, min_size, crop)


def _images(args):
    if args.folder:
        return folder_images(args.folder, args.count, args.min_size, args.crop)
    return kodak_images(args.count, args.min_size, args.crop)


def pixels_sha256(x) -> str:
    """SHA-256 of an image's pixels as evaluated: its shape and float32 values (little endian)."""
    a = x.detach().cpu().contiguous().numpy().astype("<f4")
    digest = hashlib.sha256(repr(tuple(a.shape)).encode())
    digest.update(a.tobytes())
    return digest.hexdigest()


def image_ids(names, images) -> list[dict]:
    """``[{"name", "sha256"}, ...]``: which images, in which order, rows were made on."""
    return [{"name": n, "sha256": pixels_sha256(x)} for n, x in zip(names, images)]


def check_images(saved, current: list[dict], path) -> None:
    """Refuse (one line) rows made on other images than ``current``: names and pixels, in order."""
    if not isinstance(saved, list) or not saved:
        raise SystemExit(f"{path} records no images (made by an older version?); rerun without --rows-from")

    def describe(entry):
        return "nothing" if entry is None else f"{entry.get('name')} (sha256 {str(entry.get('sha256'))[:12]})"

    for i in range(max(len(saved), len(current))):
        old = saved[i] if i < len(saved) and isinstance(saved[i], dict) else None
        new = current[i] if i < len(current) else None
        if old is None or new is None or (old.get("name"), old.get("sha256")) != (new["name"], new["sha256"]):
            what = ("other pixels (another crop or an edited file)"
                    if old and new and old.get("name") == new["name"] else "another image")
            raise SystemExit(f"{path} was made on other images: image {i} is {describe(old)} there but "
                             f"{describe(new)} now: {what}; rerun without --rows-from")


def _images_label(args) -> str:
    source = (Path(args.folder).name or str(args.folder)) if args.folder else "Kodak"
    return f"{source} {args.crop}x{args.crop} centre crops" if args.crop else source


# ---- systems --------------------------------------------------------------------------------


def _load(name_or_path: str):
    try:
        return pretrained.load_model(name_or_path)
    except FileNotFoundError as err:
        raise SystemExit(str(err)) from None


def _cbrs_text(cbrs) -> str:
    return ", ".join(cbr_label(c) for c in cbrs)


def model_system(models: Mapping, label: str) -> tuple[ModelSystem, list[float]]:
    """``(system, cbrs)`` for :func:`jscc_lab.evaluate.sweep` from ``{name: model}``: a
    :class:`~jscc_lab.systems.ModelSystem` and the CBRs it serves, ascending.

    One rate-adaptive model (``model.rate_adaptive``, ``model.cbrs``) serves its CBRs; otherwise
    each model has one CBR (``model.cbr``) and the system is the zoo ``{cbr: model}``. CBRs come
    from the models' declared attributes only; two models at the same CBR, or a rate-adaptive
    model among others, are refused (``label`` names the option in the message).
    """
    if not models:
        raise SystemExit(f"{label}: no model given")
    if len(models) == 1:
        ((name, model),) = models.items()
        if model.rate_adaptive:
            system = ModelSystem(model, name=name)
            return system, list(system.cbrs)
    adaptive = [n for n, m in models.items() if m.rate_adaptive]
    if adaptive:
        raise SystemExit(f"{label}: {adaptive[0]} is rate-adaptive; give it alone, or single-CBR checkpoints")
    table: dict[float, tuple[str, object]] = {}
    for name, model in models.items():
        try:
            (c,) = ModelSystem(model).cbrs
        except ValueError:
            raise SystemExit(f"{label}: {name} has neither .cbrs nor .cbr") from None
        same = next((other for k, (other, _) in table.items() if math.isclose(k, c, rel_tol=1e-9)), None)
        if same is not None:
            raise SystemExit(f"{label}: {same} and {name} both have CBR {cbr_label(c)}; give one checkpoint per CBR")
        table[c] = (name, model)
    system = ModelSystem({c: table[c][1] for c in sorted(table)}, name=label)
    return system, list(system.cbrs)


def _realism(system) -> bool:
    """Whether the system (or model) takes a realism weight ``beta``: its declared ``realism``."""
    return as_system(system).realism


def select_cbrs(available, wanted, label: str = "--cbrs") -> list[float]:
    """The CBRs of ``available`` named in ``wanted`` (``"1/48"`` strings; empty = all)."""
    if not wanted:
        return list(available)
    out = []
    for text in wanted:
        try:
            c = float(Fraction(str(text)))
        except (ValueError, ZeroDivisionError):
            raise SystemExit(f"{label}: {text!r} is not a CBR such as 1/48") from None
        match = next((a for a in available if math.isclose(a, c, rel_tol=1e-9)), None)
        if match is None:
            raise SystemExit(f"{label}: CBR {text} is not served (available: {_cbrs_text(available)})")
        out.append(match)
    return list(dict.fromkeys(out))


def _references(args) -> dict:
    """``{name: system}`` for each requested reference (see :func:`jscc_lab.evaluate.sweep`)."""
    systems = {}
    for ref in args.references:
        if ref == "adjscc":
            if args.adjscc_checkpoint:
                files = [item.split("=", 1) for item in args.adjscc_checkpoint]
                if any(len(f) != 2 for f in files):
                    raise SystemExit("--adjscc-checkpoint takes CBR=PATH items, e.g. 1/48=runs/x/last.pt")
                models = {path: _load(path) for _, path in files}
                systems[ref], _ = model_system(models, "--adjscc-checkpoint")
                wrong = [f"{c}={path} (its model has CBR {cbr_label(models[path].cbr)})" for c, path in files
                         if not models[path].rate_adaptive
                         and not math.isclose(float(Fraction(c)), float(models[path].cbr), rel_tol=1e-9)]
                if wrong:
                    raise SystemExit(f"--adjscc-checkpoint: {', '.join(wrong)}")
                continue
            cbrs = [float(Fraction(c)) for c in args.adjscc_cbrs]
            names = [ADJSCC_NAME.format(round(1 / c)) for c in cbrs]
            missing = [n for n in names if n not in pretrained.available()]
            if missing:
                print(f"skipping adjscc: checkpoints {missing} are not registered", file=sys.stderr)
                continue
            system, found = model_system({n: pretrained.load(n) for n in names}, "adjscc")
            if len(found) != len(cbrs) or not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(found, sorted(cbrs))):
                raise SystemExit(f"adjscc: the checkpoints {names} serve CBRs {_cbrs_text(found)}, "
                                 f"not {_cbrs_text(sorted(cbrs))}")
            systems[ref] = system
        elif ref == "psnr-model":
            models = {n: _load(n) for n in args.psnr_reference}
            system, cbrs = model_system(models, "--psnr-reference")
            if len(cbrs) < 2:
                raise SystemExit(f"--psnr-reference: a reference curve needs at least 2 CBRs, "
                                 f"{' '.join(args.psnr_reference)} serve {_cbrs_text(cbrs)}")
            systems[ref] = system
        else:
            systems[ref] = separate_coding("hevc", "capacity" if ref == "hevc-capacity" else "ldpc")
    return systems


def hevc_cbrs(values: list[str]) -> list[float]:
    """The CBRs of the separate-coding reference curves: ``["dense"]`` is
    :func:`jscc_lab.evaluate.reference_cbrs` (1/128 to 1/6, neighbours at most 2^(1/4) apart),
    otherwise fractions such as ``1/48``."""
    if values == ["dense"]:
        return reference_cbrs()
    return [float(Fraction(c)) for c in values]


def _label(ref: str, args) -> str:
    if ref == "psnr-model" and len(args.psnr_reference) == 1:
        return f"PSNR model ({args.psnr_reference[0]})"
    return LABELS[ref]


def _ours_label(beta, args) -> str:
    return f"perceptual, β = {beta:g}" if beta is not None else f"ours ({' '.join(args.ours)})"


# ---- rows and JSON --------------------------------------------------------------------------


def json_doc(setup: dict, images: list[dict], rows: list[dict], savings: list[dict],
             realism: list[dict] | None = None) -> dict:
    """The ``--json`` document (written with :func:`jscc_lab.evaluate.save_json`: valid JSON, no
    NaN / Infinity; such row values become ``null``). The per-image diagnostics
    (:data:`DIAGNOSTICS`) keep three significant digits, the files stay small."""
    rows = [{k: float(f"{v:.3g}") if k in DIAGNOSTICS and isinstance(v, float) else v for k, v in r.items()}
            for r in rows]
    return {"setup": setup, "images": images, "rows": rows, "savings": savings, "realism": realism or []}


def realism_table(rows: list[dict], cbrs, metrics, beta: float) -> list[dict]:
    """Per CBR and metric: ours' mean at beta 0 and at ``beta``, the relative change, and for DISTS
    and LPIPS-vgg whether it falls by at least :data:`REALISM_TARGET` ("met" / "missed")."""
    table = []
    for cbr in cbrs:
        for metric in metrics:
            at0 = curve(rows, metric, system="ours", beta=0.0).get(cbr)
            at1 = curve(rows, metric, system="ours", beta=beta).get(cbr)
            if at0 is None or at1 is None:
                continue
            a, b = sum(at0) / len(at0), sum(at1) / len(at1)
            change = b / a - 1 if metric != "psnr" else b - a
            target = ("met" if change <= -REALISM_TARGET else "missed") if metric in ("dists", "lpips_vgg") else "-"
            table.append({"cbr": cbr_label(cbr), "metric": metric, "beta0": a, f"beta{beta:g}": b,
                          "change": f"{change:+.2f} dB" if metric == "psnr" else f"{100 * change:+.1f} %",
                          "target": target})
    return table


def _rows_from(path: str, setup: dict, images: list[dict], needed: dict[str, list[tuple]]) -> list[dict]:
    """Rows of an earlier ``--json`` run, refused unless made on the same images and setup and
    holding every system (and ``(cbr, beta)`` of ours) in ``needed``."""
    try:
        saved = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise SystemExit(f"cannot read --rows-from {path}: {err}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("rows"), list):
        raise SystemExit(f"{path} is not a --json file of this benchmark")
    if not saved["rows"]:
        raise SystemExit(f"{path} holds no per-image rows (written with --json-without-rows): run the "
                         "benchmark again with --json to reuse its rows")
    check_images(saved.get("images"), images, path)
    keys = SETUP_KEYS + (("psnr_reference",) if "psnr-model" in needed else ())
    differ = {k: (saved.get("setup", {}).get(k), setup.get(k)) for k in keys
              if saved.get("setup", {}).get(k) != setup.get(k)}
    if differ:
        raise SystemExit(f"{path} was run with another setup ({{option: (file, now)}}: {differ}); "
                         "pass the same options or rerun without --rows-from")
    rows = [{k: (math.nan if v is None and k not in ROW_KEYS else v) for k, v in r.items()} for r in saved["rows"]]
    missing = [name for name in needed if not any(r["system"] == name for r in rows)]
    missing += [f"{name} at CBR {cbr_label(c)}" + ("" if b is None else f", beta {b:g}")
                for name, points in needed.items() if name not in missing for c, b in points
                if not any(r["system"] == name and math.isclose(r["cbr"], c, rel_tol=1e-9) and r["beta"] == b
                           for r in rows)]
    if missing:
        raise SystemExit(f"{path} holds no rows of {missing}; rerun without --rows-from")
    return rows


def _row(rows, system: str, cbr: float, image: int, beta=None) -> dict | None:
    for r in rows:
        if (r["system"] == system and math.isclose(r["cbr"], cbr, rel_tol=1e-9)
                and r["image"] == image and r["beta"] == beta):
            return r
    return None


# ---- figures --------------------------------------------------------------------------------


def _figure(path: str, args, names, images, model, systems, rows, cbr: float, betas) -> None:
    """Reconstructions of ``--figure-images`` side by side, titled with their rows' scores."""
    from jscc_lab.plotting import show_images

    panels = ([(ref, systems[ref], None, _label(ref, args)) for ref in MODEL_REFERENCES if ref in systems]
              + [("ours", model, b, _ours_label(b, args)) for b in betas]
              + [(ref, systems[ref], None, LABELS[ref]) for ref in ("hevc-capacity", "hevc-ldpc")
                 if ref in systems])
    panels = [p for p in panels if _row(rows, p[0], cbr, 0, p[2]) is not None]
    shown, titles = [], []
    for k, i in enumerate(args.figure_images):
        x = images[i]
        stem = Path(names[i]).stem
        shown.append(x)
        titles.append(f"original ({stem})" if k == 0 else stem)
        for name, system, beta, label in panels:
            x_hat = reconstruct(system, images, args.snr, cbr=cbr, beta=beta, indices=[i], seed=args.seed)[0]
            row = _row(rows, name, cbr, i, beta)
            if abs(float(psnr(x, x_hat)) - row["psnr"]) > 1e-3:
                raise SystemExit(f"the {label} reconstruction of image {i} does not match its row "
                                 "(rows from another setup?)")
            scores = " · ".join(f"{m.upper().replace('_', '-')} {row[m]:.3f}" for m in ("lpips", "dists")
                                if m in row)
            shown.append(x_hat)
            titles.append((f"{label}, {cbr_label(cbr)}\n" if k == 0 else "")
                          + f"{row['psnr']:.2f} dB · {scores}")
    fig = show_images(shown, titles, ncols=len(panels) + 1, size=2.7)
    fig.suptitle(f"{_images_label(args)}, AWGN {args.snr:g} dB, CBR {cbr_label(cbr)}: "
                 "PSNR · LPIPS-alex · DISTS of each panel", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, pil_kwargs={"quality": 85} if path.lower().endswith((".jpg", ".jpeg")) else None)
    print(f"wrote {path}", file=sys.stderr)


def _curves_figure(path: str, args, rows, references, ours_cbrs, betas) -> None:
    """Quality vs CBR of each reference (mean, 95 % interval) with our model as points (one
    CBR) or curves (several)."""
    import matplotlib.pyplot as plt

    from jscc_lab.plotting import plot_quality_vs_cbr

    metrics = [m for m in ("dists", "lpips", "lpips_vgg") if m in args.metrics] or list(args.metrics)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        curves = {_label(ref, args): curve(rows, metric, system=ref) for ref in references}
        points = {}
        for b in reversed(betas):  # the operating point first: drawn largest
            ours = {c: v for c, v in curve(rows, metric, system="ours", beta=b).items()
                    if any(math.isclose(c, k, rel_tol=1e-9) for k in ours_cbrs)}
            if len(ours) == 1:
                points[_ours_label(b, args)] = next(iter(ours.items()))
            else:
                curves[_ours_label(b, args)] = ours
        better = "higher" if higher_is_better(metric) else "lower"
        plot_quality_vs_cbr(curves, metric.upper().replace("_", "-") + f" ({better} is better)",
                            points=points, ax=ax, legend=False)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=9)
    fig.suptitle(f"{_images_label(args)}, AWGN {args.snr:g} dB: mean over {len(set(r['image'] for r in rows))} "
                 "images, 95 % intervals", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=100)
    print(f"wrote {path}", file=sys.stderr)


# ---- command line ---------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ours", "--model", nargs="+", default=[DEFAULT_OURS], metavar="NAME",
                        help="our model: registered name(s) or checkpoint path(s), one rate-adaptive "
                             "model or one per CBR (default %(default)s)")
    parser.add_argument("--cbrs", nargs="+", default=[], metavar="CBR",
                        help="evaluate ours at these of its CBRs, e.g. 1/48 1/24 (default: all)")
    parser.add_argument("--snr", type=float, default=10.0, help="AWGN SNR in dB")
    parser.add_argument("--beta", type=float, default=1.0, help="realism weight of our model")
    parser.add_argument("--betas", nargs="+", type=float, default=[], metavar="B",
                        help="more realism weights of ours to evaluate and draw, e.g. 0.5 (beta 0 and --beta always)")
    parser.add_argument("--metrics", nargs="+", default=["lpips", "dists", "lpips_vgg"])
    parser.add_argument("--references", nargs="+", default=["adjscc", "hevc-capacity", "hevc-ldpc"],
                        choices=list(REFERENCES))
    parser.add_argument("--adjscc-cbrs", nargs="+", default=["1/96", "1/48", "1/24", "1/12"])
    parser.add_argument("--adjscc-checkpoint", nargs="+", default=[], metavar="CBR=PATH",
                        help="ADJSCC checkpoint files instead of the registered ones, e.g. 1/48=runs/x/last.pt")
    parser.add_argument("--psnr-reference", nargs="+", default=DEFAULT_PSNR_REFERENCE, metavar="NAME",
                        help="the psnr-model reference: one rate-adaptive model or one checkpoint per CBR "
                             "(registered names or paths; default %(default)s)")
    parser.add_argument("--hevc-cbrs", nargs="+", default=["dense"],
                        help="CBRs of the HEVC reference curves: 'dense' (default: 19 CBRs from 1/128 "
                             "to 1/6, neighbours at most 2^(1/4) apart) or fractions such as 1/48")
    parser.add_argument("--folder", default="", metavar="PATH", help="a folder of images instead of Kodak")
    parser.add_argument("--count", "--images", type=int, default=0, metavar="N",
                        help="first N images sorted by name, after --min-size (0 = all)")
    parser.add_argument("--min-size", type=int, default=0, metavar="S",
                        help="skip images whose shorter side is below S pixels")
    parser.add_argument("--crop", type=int, default=0, help="centre crop side (0 = full images)")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="", help="also write the setup, images, rows and savings to this file")
    parser.add_argument("--json-without-rows", action="store_true",
                        help="leave the per-image rows out of --json (a small file with the savings; it cannot "
                             "serve --rows-from)")
    parser.add_argument("--rows-from", default="", metavar="JSON",
                        help="reuse the rows of an earlier --json run on the same images and setup instead of sweeping")
    parser.add_argument("--resweep", nargs="+", default=[], metavar="SYSTEM",
                        help="with --rows-from: sweep these systems again (ours or a reference, e.g. psnr-model "
                             "after its checkpoint changed) and reuse the file's rows of the rest")
    parser.add_argument("--figure", default="", metavar="PATH", help="write the reconstructions side by side here")
    parser.add_argument("--figure-images", nargs="+", type=int, default=[3, 4, 12], metavar="I",
                        help="image numbers (0-based) shown in --figure (default: a face, fine detail, water)")
    parser.add_argument("--figure-cbr", default="", metavar="CBR",
                        help="our CBR shown in --figure (default: the smallest evaluated)")
    parser.add_argument("--curves-figure", default="", metavar="PATH", help="write quality vs CBR here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    names, images = _images(args)
    ids = image_ids(names, images)
    bad = [i for i in args.figure_images if not 0 <= i < len(images)] if args.figure else []
    if bad:
        raise SystemExit(f"--figure-images {bad} are outside the {len(images)} images")
    model, available = model_system({n: _load(n) for n in args.ours}, "--ours")
    ours_cbrs = select_cbrs(available, args.cbrs)
    figure_cbr = select_cbrs(ours_cbrs, [args.figure_cbr], "--figure-cbr")[0] if args.figure_cbr else ours_cbrs[0]
    realism = _realism(model)
    # beta 0: the MSE + LPIPS end
    betas = sorted(dict.fromkeys([0.0, *args.betas, args.beta])) if realism else [None]
    beta = args.beta if realism else None
    metrics = list(dict.fromkeys(["psnr", *args.metrics, *DIAGNOSTICS]))
    setup = {"ours": list(args.ours), "cbrs": ours_cbrs, "snr": args.snr, "seed": args.seed, "beta": beta,
             "folder": args.folder or "kodak", "count": args.count, "min_size": args.min_size,
             "crop": args.crop, "images": len(images), "references": list(args.references),
             "psnr_reference": list(args.psnr_reference) if "psnr-model" in args.references else None}
    print(f"{len(images)} images from {args.folder or 'Kodak'}{f' (centre {args.crop} px)' if args.crop else ''}, "
          f"AWGN {args.snr:g} dB, ours: {' '.join(args.ours)} at CBR {_cbrs_text(ours_cbrs)}"
          + (f", beta={args.beta:g}" if realism else ""), file=sys.stderr)
    systems = _references(args)
    wrong = sorted(set(args.resweep) - {"ours", *systems})
    if wrong or (args.resweep and not args.rows_from):
        raise SystemExit(f"--resweep {' '.join(wrong or args.resweep)}: needs --rows-from and names among "
                         f"ours, {', '.join(systems)}")
    swept = set(args.resweep) if args.rows_from else {"ours", *systems}
    rows = []
    if args.rows_from:
        needed = {"ours": [(c, b) for c in ours_cbrs for b in betas], **{ref: [] for ref in systems}}
        needed = {k: v for k, v in needed.items() if k not in swept}
        rows = [r for r in _rows_from(args.rows_from, setup, ids, needed) if r["system"] not in swept]
    if "ours" in swept:
        rows += sweep(model, images, [args.snr], metrics=metrics, cbrs=ours_cbrs, betas=betas, name="ours",
                      seed=args.seed)
    for ref, system in systems.items():
        if ref in swept:
            cbrs = hevc_cbrs(args.hevc_cbrs) if ref.startswith("hevc") else None
            rows += sweep(system, images, [args.snr], metrics=metrics, cbrs=cbrs, name=ref, seed=args.seed)

    shown = [m for m in metrics if all(m in r for r in rows)]  # rows of an older --json may lack some
    print(format_table(summarize(rows), columns=["system", "cbr", "cbr_used", "snr_db", "beta", "n", *shown]))
    print()
    knob = realism_table(rows, ours_cbrs, list(dict.fromkeys(["psnr", *args.metrics])), args.beta) \
        if realism and args.beta > 0 else []
    if knob:
        print(format_table(knob, columns=["cbr", "metric", "beta0", f"beta{args.beta:g}", "change", "target"], digits=4))
        print()
    table, savings = [], []
    for ours_cbr in ours_cbrs:
        for ref in systems:
            for metric in args.metrics:
                ours = curve(rows, metric, system="ours", beta=beta)[ours_cbr]
                result = bandwidth_saving(ours, curve(rows, metric, system=ref), metric=metric,
                                          cbr=ours_cbr, n_boot=args.n_boot, seed=args.seed)
                table.append({"reference": ref, **result.as_row()})
                savings.append({"reference": ref, **result.as_dict()})
    print(format_table(table, columns=["reference", "metric", "cbr", "quality", "cbr_needed", "saving"], digits=4))
    if args.json:
        save_json(json_doc(setup, ids, [] if args.json_without_rows else rows, savings, knob), args.json, digits=5)
    if args.figure:
        _figure(args.figure, args, names, images, model, systems, rows, figure_cbr, betas)
    if args.curves_figure:
        _curves_figure(args.curves_figure, args, rows, list(systems), ours_cbrs, betas)
    print(f"\n({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
