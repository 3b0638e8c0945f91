"""The separation baseline beside the literature's anchors: Kodak-24 full size, AWGN 10 dB.

Rows: HEVC intra (the BPG stand-in) at the capacity budget in 4:2:0, 4:4:4 and ``auto`` (per
image the better of the two at its budget, the package default), bits counted as the coded
bitstream plus a BPG header, and 4:2:0 counting the whole HEIF file (the container's cost);
then HEVC over 5G LDPC + QAM with the best NR MCS per image (default chroma). Columns: CBR
1/96, 1/48, 1/24, 1/16, 1/12. Mean PSNR over the 24 images (failures scored as grey, none at 10 dB).

Anchors (cited literature values, not computed here):

* BPG + capacity: CompressAI's ``results/image/kodak/bpg_444_x265_ycbcr.json`` read at
  ``bpp = 3 x CBR x log2(1 + 10)``; WITT's figure ``AWGN_kodak_fix_snr10_psnr_bandwidth.png`` agrees.
* BPG + 5G LDPC: the curves of WITT, NTSCC (JSAC 2022) and NTSCC+ at 10 dB (no 1/96 point).

Run::

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 python benchmarks/separation_anchors.py
    python benchmarks/separation_anchors.py --systems capacity     # only the capacity rows
    python benchmarks/separation_anchors.py --images 2 --quick     # smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from jscc_lab.baselines import separation_sweep
from jscc_lab.channels import cbr_label
from jscc_lab.data import center_crop, kodak
from jscc_lab.evaluate import save_json

CBRS = (1 / 96, 1 / 48, 1 / 24, 1 / 16, 1 / 12)
SNR_DB = 10.0
ANCHORS = {  # cited values (see module doc), dB
    "BPG + capacity (anchor)": (27.5, 29.8, 32.6, 34.6, 36.3),
    "BPG + 5G LDPC (anchor)": (None, 28.8, 31.4, 33.2, 34.7),
}
VARIANTS = {  # label -> (channel_code, separate_transmit options)
    "HEVC 4:2:0 + capacity": ("capacity", {"chroma": "420"}),
    "HEVC 4:4:4 + capacity": ("capacity", {"chroma": "444"}),
    "HEVC auto + capacity (default)": ("capacity", {"chroma": "auto"}),
    "HEVC 4:2:0 + capacity, whole HEIF file counted": ("capacity", {"chroma": "420", "count": "file"}),
    "HEVC auto + 5G LDPC (default)": ("ldpc", {"chroma": "auto"}),
    "HEVC auto + capacity, coded smaller where it does not fit": ("capacity", {"chroma": "auto", "downscale": True}),
}
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "separation_anchors_kodak24.json"
FIXED_QUALITIES = tuple(range(0, 50, 2))  # bpp 0.05 .. ~2: spans the anchors at 10 dB


#: x265 settings tried against the default (libheif's preset, ``tune=psnr``): BPG's own choice
#: (``-m 8``: preset veryslow, tune ssim) and options that trade speed for rate-distortion.
X265_OPTIONS = {
    "default (tune psnr)": {},
    "preset veryslow": {"preset": "veryslow"},
    "preset placebo, rskip 0, tskip, rd-refine": {"preset": "placebo", "x265:rskip": "0", "x265:tskip": "1",
                                                   "x265:rd-refine": "1"},
    "preset veryslow, tune ssim (as BPG -m 8)": {"preset": "veryslow", "tune": "ssim"},
    "SAO off": {"x265:sao": "0"},
}
X265_OPTION_QUALITIES = (22, 28, 34, 40, 46)  # 4:4:4 bpp ~0.35 .. 1.3 on Kodak: spans 1/24 .. 1/12 at 10 dB


def fixed_quality_curve(images, chroma: str, qualities=FIXED_QUALITIES, x265_params=None) -> dict:
    """The codec's rate-distortion curve averaged as CompressAI averages BPG: every image at the
    same quality, then the mean bits per pixel (BPG header + bitstream) and the mean PSNR per
    quality. ``{"bpp": [...], "psnr": [...]}``, one entry per quality."""
    from jscc_lab.baselines import counted_bytes, decode, encode
    from jscc_lab.data import to_image
    from jscc_lab.metrics import psnr

    bpp, quality_db = [], []
    for q in qualities:
        rates, scores = [], []
        for x in images:
            data = encode(to_image(x), "hevc", q, chroma, x265_params=x265_params)
            sent = counted_bytes(data, "hevc", chroma, "bitstream", tuple(x.shape[-2:]))
            rates.append(8 * len(sent) / (x.shape[-1] * x.shape[-2]))
            scores.append(float(psnr(x, decode(data))))
        bpp.append(sum(rates) / len(rates))
        quality_db.append(sum(scores) / len(scores))
    return {"bpp": bpp, "psnr": quality_db}


def read_at_cbrs(curve: dict, cbrs=CBRS, snr_db: float = SNR_DB) -> list[float | None]:
    """PSNR of a fixed-quality curve at ``bpp = 3 CBR log2(1 + SNR)`` (linear in log bpp);
    ``None`` where that bpp lies outside the measured range (never extrapolated)."""
    import math

    import numpy as np

    out = []
    for c in cbrs:
        target = math.log(3 * c * math.log2(1 + 10 ** (snr_db / 10)))
        logs = np.log(curve["bpp"])
        inside = logs.min() <= target <= logs.max()
        out.append(round(float(np.interp(target, logs, curve["psnr"])), 3) if inside else None)
    return out


def table(rows: dict[str, list], cbrs) -> str:
    """Markdown table: one row per system, one column per CBR (dB, 2 decimals)."""
    out = ["| system (Kodak-24, AWGN 10 dB, PSNR dB) | " + " | ".join(cbr_label(c) for c in cbrs) + " |",
           "|---|" + "---:|" * len(cbrs)]
    for label, values in rows.items():
        cells = ["-" if v is None else f"{v:.2f}" for v in values]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def gaps(result: dict) -> str:
    """Distance of the default systems to their anchors, per CBR (dB; negative = below)."""
    lines = []
    for ours, anchor in (("HEVC auto + capacity (default)", "BPG + capacity (anchor)"),
                         ("HEVC auto + 5G LDPC (default)", "BPG + 5G LDPC (anchor)")):
        if ours not in result["psnr"]:
            continue
        diffs = [None if a is None else round(o - a, 2)
                 for o, a in zip(result["psnr"][ours], ANCHORS[anchor])]
        lines.append(f"{ours} minus {anchor}: {diffs}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--quick", action="store_true", help="256x256 centre crops")
    parser.add_argument("--systems", nargs="+", default=["capacity", "ldpc", "fixed-quality"],
                        choices=["capacity", "ldpc", "fixed-quality", "x265-options"],
                        help="fixed-quality: the codec's curve averaged over images at each quality, "
                             "as CompressAI's BPG anchor is, read at the anchors' bpp; x265-options: "
                             "that curve (4:4:4) under the x265 settings of X265_OPTIONS")
    parser.add_argument("--match", default="", metavar="TEXT",
                        help="run only the capacity / ldpc variants whose label contains TEXT")
    args = parser.parse_args(argv)
    images = kodak()[: args.images]
    if args.quick:
        images = [center_crop(x, 256) for x in images]
    result = json.loads(args.out.read_text()) if args.out.is_file() else {"psnr": {}, "failures": {}, "seconds": {}}
    result["meta"] = {"images": len(images), "snr_db": SNR_DB, "cbrs": [cbr_label(c) for c in CBRS],
                      "crop": 256 if args.quick else None}
    for label, (code, options) in VARIANTS.items():
        if code not in args.systems or args.match not in label:
            continue
        t0 = time.perf_counter()
        rows = separation_sweep(images, [SNR_DB], CBRS, codec="hevc", channel_code=code,
                                generator=0, progress=False, **options)
        result["psnr"][label] = [round(r["psnr"], 3) for r in rows]
        result["failures"][label] = [r["failures"] for r in rows]
        result["seconds"][label] = round(time.perf_counter() - t0, 1)
        print(f"{label}: {result['psnr'][label]} ({result['seconds'][label]:.0f} s)", flush=True)
        save_json(result, args.out)
    if "fixed-quality" in args.systems:
        for chroma in ("420", "444"):
            label = f"HEVC {chroma[0]}:{chroma[1]}:{chroma[2]}, fixed quality averaged (as the BPG anchor)"
            t0 = time.perf_counter()
            curve = fixed_quality_curve(images, chroma)
            result.setdefault("fixed_quality_curves", {})[chroma] = curve
            result["psnr"][label] = read_at_cbrs(curve)
            result["seconds"][label] = round(time.perf_counter() - t0, 1)
            print(f"{label}: {result['psnr'][label]} ({result['seconds'][label]:.0f} s)", flush=True)
            save_json(result, args.out)
    if "x265-options" in args.systems:
        for name, params in X265_OPTIONS.items():
            t0 = time.perf_counter()
            curve = fixed_quality_curve(images, "444", X265_OPTION_QUALITIES, x265_params=params)
            result.setdefault("x265_options", {})[name] = {
                "params": params, "curve": curve, "psnr": read_at_cbrs(curve, CBRS[2:]),
                "seconds": round(time.perf_counter() - t0, 1)}
            print(f"x265 {name}: {result['x265_options'][name]['psnr']} at {[cbr_label(c) for c in CBRS[2:]]}", flush=True)
            save_json(result, args.out)
    for chroma, curve in result.get("fixed_quality_curves", {}).items():  # read again: never extrapolated
        result["psnr"][f"HEVC {chroma[0]}:{chroma[1]}:{chroma[2]}, fixed quality averaged (as the BPG anchor)"] = read_at_cbrs(curve)
    for v in result.get("x265_options", {}).values():
        v["psnr"] = read_at_cbrs(v["curve"], CBRS[2:])
    save_json(result, args.out)
    shown = {**{k: v for k, v in result["psnr"].items()}, **ANCHORS}
    text = table(shown, CBRS) + "\n\n" + gaps(result)
    if result.get("x265_options"):
        text += ("\n\nx265 settings, HEVC 4:4:4 fixed quality averaged over the images, PSNR (dB) at "
                 + " / ".join(cbr_label(c) for c in CBRS[2:]) + ":\n"
                 + "\n".join(f"- {name}: {v['psnr']}" for name, v in result["x265_options"].items()))
    print(text)
    args.out.with_suffix(".txt").write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
