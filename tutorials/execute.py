"""Execute tutorials in full and store their outputs compactly (the committed ``.ipynb`` files).

    JSCC_LAB_DATA=../shared/data JSCC_LAB_OFFLINE=1 OMP_NUM_THREADS=1 \\
        python tutorials/execute.py tutorials/06_perceptual_loss.ipynb    # run, then compact
    python tutorials/execute.py --compact-only tutorials/*.ipynb           # outputs as they are

Runs every code cell in the foreground with ``nbclient`` (``jupyter nbconvert --execute`` in the
background has hung on the 2-core machine), in the ``tutorials/`` folder, and writes the outputs
back. Then every PNG output larger than ``--jpeg-above`` KiB (figures of photographs: the
reconstructions; also those saved in the widget state of Output and Image widgets) is stored as
JPEG at quality 95 without chroma subsampling, which looks the same at a third of the size, and JPEG
outputs above 150 KiB (large photo grids) are stored again at quality 85; small
PNGs (line plots) stay. The committed tree travels to a GPU machine
in at most 64 MiB (docs/training.md, "Training on a GPU"), so its notebooks must stay small:
``tests/test_tutorials.py`` checks that no committed PNG output exceeds the threshold.
The paired ``.py`` keeps its text; after editing a ``.py``, carry the change into the notebook with
``jupytext --to ipynb --update X.py -o X.ipynb`` (keeps the outputs) before executing it.
"""

from __future__ import annotations

import argparse
import base64
import io
import re
import sys
import time
from pathlib import Path

#: PNG outputs above this many KiB (base64 text) become JPEG
JPEG_ABOVE_KIB = 96
JPEG_QUALITY = 95
#: JPEG outputs above this many KiB (large photo grids) are stored again at JPEG_LARGE_QUALITY
JPEG_LARGE_KIB = 150
JPEG_LARGE_QUALITY = 85


def _as_jpeg(png_base64: str, quality: int = JPEG_QUALITY) -> str | None:
    """A base64 PNG (or JPEG) as base64 JPEG (4:4:4, ``quality``), or ``None`` when that is not
    smaller."""
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(png_base64)))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality, subsampling=0)
    jpeg = base64.b64encode(buffer.getvalue()).decode("ascii")
    return jpeg if len(jpeg) < len(png_base64) else None


def compact_outputs(nb, above_kib: float = JPEG_ABOVE_KIB) -> int:
    """Replace PNG outputs larger than ``above_kib`` KiB in notebook ``nb`` (an ``nbformat``
    node, changed in place) by JPEG, quality 95, 4:4:4, when that is smaller: cell outputs, and
    in the saved widget state the outputs of ``Output`` widgets and the values of ``Image``
    widgets. Returns the bytes saved."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    outputs += [o for model in state.values() if model.get("model_name") == "OutputModel"
                for o in model.get("state", {}).get("outputs", [])]
    saved = 0
    for output in outputs:
        data = output.get("data", {})
        text = data.get("image/png")
        if text and len(text) > above_kib * 1024 and (jpeg := _as_jpeg(text)):
            del data["image/png"]
            data["image/jpeg"] = jpeg
            saved += len(text) - len(jpeg)
        text = data.get("image/jpeg")
        text = "".join(text) if isinstance(text, list) else text
        jpeg = _as_jpeg(text, JPEG_LARGE_QUALITY) if text and len(text) > JPEG_LARGE_KIB * 1024 else None
        if jpeg and len(jpeg) < 0.9 * len(text):  # once stored at that quality, left as it is
            data["image/jpeg"] = jpeg
            saved += len(text) - len(jpeg)
    for model in state.values():
        if model.get("model_name") != "ImageModel" or model.get("state", {}).get("format") != "png":
            continue
        for buffer in model.get("buffers", []):
            text = buffer.get("data", "")
            if buffer.get("path") == ["value"] and buffer.get("encoding") == "base64" \
                    and len(text) > above_kib * 1024 and (jpeg := _as_jpeg(text)):
                buffer["data"] = jpeg
                model["state"]["format"] = "jpeg"
                saved += len(text) - len(jpeg)
    return saved


def execute(nb, timeout: int = 1800) -> float:
    """Run every code cell of ``nb`` in a fresh ``python3`` kernel in ``tutorials/``; the seconds its
    cells took (the kernel's start-up, which can stall on a busy machine, is not counted)."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(__file__).resolve().parent)}})
    with client.setup_kernel():
        start = time.time()
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
    return time.time() - start


#: the sentence of a tutorial's **Requirements** block that a full run keeps true
RUN_TIME = re.compile(r"Full run: \*\*\d+ s\*\* on one CPU thread")
REPO = Path(__file__).resolve().parents[1]


def record_run_time(path: Path, nb, seconds: float, readme: Path = REPO / "README.md") -> None:
    """Write the measured ``seconds`` of a full run into the header of notebook ``nb`` (and of its
    paired ``.py``) and into the README's tutorial table, so the stated times are measured ones."""
    stated = f"Full run: **{seconds:.0f} s** on one CPU thread"
    for cell in nb.cells:
        if cell.cell_type == "markdown" and RUN_TIME.search(cell.source):
            cell.source = RUN_TIME.sub(stated, cell.source)
            break
    else:
        raise ValueError(f"{path}: no '{RUN_TIME.pattern}' sentence in its header to keep true")
    script = path.with_suffix(".py")
    script.write_text(RUN_TIME.sub(stated, script.read_text(), count=1))
    if readme.is_file():
        approx = "< 1 min" if seconds < 60 else f"~{round(seconds / 60)} min"
        row = re.compile(r"(\[`" + path.stem + r"`\]\(tutorials/" + path.stem + r"\.py\).*?\| )CPU, [^|]*?"
                         r"\(\d+ s full run on one thread\)")
        readme.write_text(row.sub(lambda m: m.group(1) + f"CPU, {approx} ({seconds:.0f} s full run on one thread)",
                                  readme.read_text()))


def main(argv=None) -> None:
    import nbformat

    from jscc_lab import settings
    from jscc_lab.course import KERNELSPEC

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="+", type=Path, help=".ipynb files")
    p.add_argument("--compact-only", action="store_true", help="do not execute; compact the outputs as they are")
    p.add_argument("--jpeg-above", type=float, default=JPEG_ABOVE_KIB,
                   help=f"PNG outputs above this many KiB become JPEG (default {JPEG_ABOVE_KIB})")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell (default 1800)")
    args = p.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            p.error(f"notebooks: {path} is not an existing .ipynb file")
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        seconds = 0.0 if args.compact_only else execute(nb, args.timeout)
        if not args.compact_only and not settings.quick():  # quick budgets are not the stated time
            record_run_time(path, nb, seconds)
        nb.metadata.setdefault("kernelspec", dict(KERNELSPEC))
        saved = compact_outputs(nb, args.jpeg_above)
        nbformat.write(nb, path)
        ran = "" if args.compact_only else f"ran in {seconds:.0f} s, "
        print(f"{path}: {ran}{saved / 1024:.0f} KiB saved by JPEG outputs, {path.stat().st_size / 1024:.0f} KiB",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
