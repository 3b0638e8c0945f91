"""The ``jscc-lab`` command line. Each sub-command lives in a function taking parsed args;
``main(argv)`` is what the console script and the tests call.

    jscc-lab demo [--out DIR] [--snr 0 10 20]
    jscc-lab explore [--port 8866] [--no-browser]
    jscc-lab train CONFIG.toml [--resume] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=Path(args.out), snrs_db=args.snr)
    return 0


def _parse_override(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a TOML value (``steps=100``, ``val_snr_db=[0, 10]``);
    anything TOML cannot read is taken as a plain string (``cbr=1/48``, ``out_dir=runs/x``)."""
    import tomllib

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    return key.strip(), parsed


def _train(args) -> int:
    import dataclasses
    import json
    import os
    import tomllib

    from .train import load_config, train

    with open(args.config, "rb") as f:
        if tomllib.load(f).get("model") == "perceptual":  # the two-stage GAN trainer
            from .train_gan import main as train_gan_main

            flags = (["--resume"] if args.resume else []) + [
                a for key, value in args.set or [] for a in ("--set", f"{key}={json.dumps(value)}")]
            return train_gan_main([str(args.config), *flags])
    config = load_config(args.config)
    if args.set:
        config = dataclasses.replace(config, **dict(args.set))
    result = train(config, resume=args.resume, progress=not args.no_progress)
    best = result["best"] or {}
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"finished {config.name} at step {result['step']}: best validation PSNR "
              f"{best.get('val_psnr_db', float('nan')):.2f} dB (step {best.get('step')}); "
              f"checkpoints in {config.output_dir}")
    return 0


def _explore(args) -> int:
    from .apps import serve

    return serve(port=args.port, open_browser=not args.no_browser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jscc-lab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="send the sample photos through AWGN and Rayleigh channels")
    demo.add_argument("--out", default="jscc_lab_demo", help="folder for the figure and table")
    demo.add_argument("--snr", type=float, nargs="+", default=None, help="SNRs in dB")
    demo.set_defaults(func=_demo)

    train = sub.add_parser("train", help="train a model from a TOML config (see jscc_lab/configs)")
    train.add_argument("config", help="TOML file of jscc_lab.train.TrainConfig fields")
    train.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    train.add_argument("--set", type=_parse_override, action="append", metavar="KEY=VALUE",
                       help="override a config field (repeatable), e.g. --set cbr=1/48")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    explore = sub.add_parser("explore", help="serve the explorer widgets as a web page (Voila)")
    explore.add_argument("--port", type=int, default=8866)
    explore.add_argument("--no-browser", action="store_true", help="do not open a browser")
    explore.set_defaults(func=_explore)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
