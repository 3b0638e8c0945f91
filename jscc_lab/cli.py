"""The ``jscc-lab`` command line. Each sub-command lives in a function taking parsed args;
``main(argv)`` is what the console script and the tests call.

    jscc-lab demo [--out DIR] [--snr 0 10 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _demo(args) -> int:
    from .demo import run_demo

    run_demo(out_dir=Path(args.out), snrs_db=args.snr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jscc-lab", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="send the sample photos through AWGN and Rayleigh channels")
    demo.add_argument("--out", default="jscc_lab_demo", help="folder for the figure and table")
    demo.add_argument("--snr", type=float, nargs="+", default=None, help="SNRs in dB")
    demo.set_defaults(func=_demo)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
