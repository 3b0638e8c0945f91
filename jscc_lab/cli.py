"""The ``jscc-lab`` command line. Each sub-command lives in a function taking parsed args;
``main(argv)`` is what the console script and the tests call.

    jscc-lab demo [--out DIR] [--snr 0 10 20]
    jscc-lab explore [--ip 127.0.0.1] [--port 8866] [--max-sessions 8] [--cull-idle 300] [--no-browser]
    jscc-lab train CONFIG.toml [--resume | --overwrite] [--set KEY=VALUE ...]
    jscc-lab course build OUT [--force] [--only NN_topic ...]
    jscc-lab site build OUT

A user error (a missing or malformed config, a ``--set`` value of the wrong type, an unwritable
output folder, a run that would be overwritten, ...) is one line on stderr and exit status 2,
never a traceback. The trainers are imported inside the functions that need them, so importing
this module stays cheap and no trainer imports it back at import time.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

DESCRIPTION = """\
jscc-lab: the command line of jscc_lab, a teaching lab for deep joint source-channel coding
(deep JSCC) of images over wireless channels.

  demo     compare the shipped deep JSCC models with separate coding and analog
           transmission on sample photos; writes a figure and a metrics table
  train    train a model from a TOML config (resumable; see jscc_lab/configs/)
  export   turn a training checkpoint into a small shipped one and register it
  explore  serve the interactive explorer as a web page (Voila)
  course   build the graded course (nbgrader): instructor and student notebooks
  site     build the website: README, tutorials with their outputs, results, guides

Run `jscc-lab COMMAND --help` for the options of each command."""

EPILOG = """\
examples:
  jscc-lab demo --out jscc_lab_demo
  jscc-lab train jscc_lab/configs/adjscc_cpu.toml --set steps=500 --set cbr=1/48
  jscc-lab train runs/adjscc-cpu/config.toml --resume
  jscc-lab export runs/taejscc-psnr-awgn/best.pt taejscc-psnr-awgn
  jscc-lab explore --ip 0.0.0.0 --port 8866 --max-sessions 30 --no-browser
  jscc-lab course build course
  jscc-lab site build site"""

#: the files that mark a folder as holding a training run
RUN_FILES = ("last.pt", "best.pt", "config.toml")


class UserError(Exception):
    """A mistake in what the user asked for: reported as one line on stderr, exit status 2."""


def _one_line(message) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the hand-wrapped descriptions and appends ``(default: ...)`` to each option's help,
    except where there is nothing to show (flags, ``None``)."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block) with exit status 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        if "\n" not in kwargs.get("description", "\n"):  # one paragraph: wrap it here
            kwargs["description"] = textwrap.fill(kwargs["description"], width=88)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


# ---- demo ------------------------------------------------------------------------------------


def _check_writable_folder(folder: Path, flag: str) -> None:
    from .checkpoints import check_writable

    try:
        check_writable(folder, f"to {flag} {folder}", f"with {flag}")
    except OSError as err:
        raise UserError(str(err)) from None


def _demo(args) -> int:
    out = Path(args.out)
    _check_writable_folder(out, "--out")
    from .checkpoints import CheckpointError
    from .demo import run_demo

    try:
        run_demo(out_dir=out, snrs_db=args.snr, amp=args.amp)
    except (OSError, CheckpointError) as err:  # missing checkpoints / weights, a full disk, ...
        raise UserError(err) from None
    return 0


def _finite_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port lies in 1..65535, got {value}")
    return value


# ---- train: config and --set overrides -------------------------------------------------------


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    return key.strip(), value


def load_train_config(path, overrides=()):
    """:func:`jscc_lab.train.config.load_train_config`, its problems as :class:`UserError`."""
    from .train.config import ConfigError
    from .train.config import load_train_config as load

    try:
        return load(path, overrides)
    except ConfigError as err:
        raise UserError(err) from None


def _check_run_folder(config, resume: bool, overwrite: bool, main_process: bool) -> None:
    out = config.output_dir
    existing = [name for name in RUN_FILES if (out / name).is_file()]
    if not existing or resume:
        return
    if not overwrite:
        raise UserError(f"{out} already holds a training run ({', '.join(existing)}); continue it with "
                        "--resume, or start it afresh with --overwrite (deletes its checkpoints), "
                        "or train into another folder with --set out_dir=PATH")
    if main_process:  # start afresh: no stale checkpoint of the old run may survive a short new one
        for name in ("last.pt", "best.pt"):
            (out / name).unlink(missing_ok=True)


def _train(args) -> int:
    config = load_train_config(args.config, args.set or ())
    main_process = int(os.environ.get("RANK", 0)) == 0
    _check_run_folder(config, args.resume, args.overwrite, main_process)

    from .checkpoints import CheckpointError
    from .train import PerceptualTrainConfig

    perceptual = isinstance(config, PerceptualTrainConfig)
    try:
        if perceptual:
            from .train import TrainingDiverged, train_perceptual

            try:
                result = train_perceptual(config, resume=args.resume, progress=not args.no_progress)
            except TrainingDiverged as err:
                raise UserError(err) from None
        else:
            from .train import train

            result = train(config, resume=args.resume, progress=not args.no_progress)
    except (OSError, CheckpointError, ValueError) as err:  # data / weights / checkpoints / out_dir
        raise UserError(err) from None
    if not main_process:
        return 0
    if perceptual:
        logged = [h for h in result["history"] if "loss" in h]
        validated = [h for h in result["history"] if "val_psnr_db" in h]
        summary = f"training loss {logged[-1]['loss']:.4g}" if logged else "no steps run"
        if validated:
            v = validated[-1]
            summary += (f", validation PSNR {v['val_psnr_db']:.2f} dB / LPIPS {v['val_lpips_beta0']:.3f} "
                        f"at beta=0, LPIPS {v['val_lpips_beta1']:.3f} at beta=1")
        print(f"finished {config.name} ({config.stage}) at step {result['step']}: {summary}; "
              f"checkpoints in {config.output_dir}")
    else:
        best = result["best"] or {}
        print(f"finished {config.name} at step {result['step']}: best validation PSNR "
              f"{best.get('val_psnr_db', float('nan')):.2f} dB (step {best.get('step')}); "
              f"checkpoints in {config.output_dir}")
    return 0


# ---- export ----------------------------------------------------------------------------------

def _export(args) -> int:
    import re

    from .checkpoints import CheckpointError, export_checkpoint, load_checkpoint, training_stages
    from .pretrained import CHECKPOINT_DIR, register

    src, out = Path(args.checkpoint), Path(args.out) if args.out else CHECKPOINT_DIR
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", args.name):
        raise UserError(f"name must be lower-case letters, digits, '-', '_' or '.', e.g. taejscc-psnr-awgn; "
                        f"got {args.name!r}")
    if not src.is_file():
        raise UserError(f"checkpoint: no file at {src}")
    _check_writable_folder(out, "--out")
    dst = out / f"{args.name}.pt"
    try:
        ckpt = load_checkpoint(src)
        spec, prov = ckpt.get("model") or {}, ckpt.get("provenance") or {}
        stages = training_stages(src)
        wall = sum(st.get("wall_time_s") or 0.0 for st in stages)
        cpu = sum(st.get("cpu_time_s") or 0.0 for st in stages)
        steps = sum(st.get("steps") or 0 for st in stages)
        extra = {"stages": stages, "total_wall_time_s": round(wall, 1), "total_cpu_time_s": round(cpu, 1),
                 "exported_from": str(src), "dtype": "float16"}
        from .models import MODELS

        published = getattr(MODELS.get(spec.get("name")), "published_weights", None) or None
        try:
            export_checkpoint(src, dst, extra, half=True, published=published)
        except ValueError as err:  # the module was trained: it must travel in the file
            print(f"note: {_one_line(err)}; storing it in {dst.name}")
            export_checkpoint(src, dst, extra, half=True)
        kwargs = spec.get("kwargs") or {}
        description = args.description or (
            f"{spec.get('name')} ({', '.join(f'{k}={v}' for k, v in kwargs.items())}), "
            f"{' -> '.join(str(st.get('objective')) for st in stages)}, {steps} steps, "
            f"{wall / 3600:.2f} h wall on {prov.get('device', 'unknown device')}")
        if not args.no_register:
            realism = bool(kwargs.get("realism", getattr(MODELS.get(spec.get("name")), "realism", False)))
            perceptual = realism or any(st.get("objective") in ("distortion", "gan") for st in stages)
            fields = {"model": spec.get("name"), "objective": "perceptual" if perceptual else "psnr",
                      "channel": spec.get("channel"), "realism": realism,
                      "device": prov.get("device"), "steps": steps, "wall_time_s": round(wall, 1),
                      "cpu_time_s": round(cpu, 1)}
            fields.update({k: kwargs[k] for k in ("cbrs", "cbr") if k in kwargs})
            register(dst, args.name, description, root=out, **fields)
    except (OSError, CheckpointError) as err:
        raise UserError(err) from None
    registered = "" if args.no_register else f", registered as {args.name} in {out / 'registry.json'}"
    print(f"exported {src} -> {dst} ({dst.stat().st_size / 2**20:.1f} MiB, {len(stages)} stage(s), {steps} steps, "
          f"{wall / 3600:.2f} h wall){registered}")
    return 0


# ---- explore ---------------------------------------------------------------------------------


def _explore(args) -> int:
    from .classroom.app import serve

    try:
        return serve(port=args.port, open_browser=not args.no_browser, ip=args.ip,
                     max_kernels=args.max_sessions, cull_idle=args.cull_idle)
    except OSError as err:  # voila is not installed, the port is taken, ...
        raise UserError(err) from None


# ---- course ----------------------------------------------------------------------------------


def _course_build(args) -> int:
    try:
        from .course import build, summary
    except ImportError as err:  # nbgrader is not installed
        raise UserError(f"{err}; install the course extra: pip install -e '.[course]'") from None
    try:
        build(args.out, names=args.only, force=args.force, source=args.source)
    except (OSError, ValueError, RuntimeError) as err:
        raise UserError(err) from None
    print(summary(args.out))
    print(f"course in {args.out}: instructor/ (solutions), student/ (release), gradebook.db, "
          f"nbgrader_config.py; run the nbgrader commands in {args.out} (docs/instructor_guide.md)")
    return 0


# ---- site ------------------------------------------------------------------------------------


def _site_build(args) -> int:
    try:
        from .site import build_site
    except ImportError as err:  # sphinx / myst-nb are not installed
        raise UserError(f"{err}; install the site extra: pip install -e '.[site]'") from None
    out = Path(args.out)
    _check_writable_folder(out, "OUT")
    try:
        index = build_site(out)
    except (OSError, RuntimeError, ImportError) as err:  # ImportError: the MathJax files are missing
        raise UserError(err) from None
    warnings = (out / "build-warnings.txt").read_text().strip()
    print(f"site in {out}: open {index}" + (f" ({len(warnings.splitlines())} build warning(s) in "
                                             f"{out / 'build-warnings.txt'})" if warnings else ""))
    return 0


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


# ---- the parser ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jscc-lab", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo_help = ("send the scikit-image sample photos (astronaut, coffee, chelsea, rocket) over an "
                 "AWGN channel with the shipped PSNR-optimised and perceptual deep JSCC models "
                 "(CBR 1/48), separate coding (HEVC-intra at the channel-capacity bit budget) and "
                 "uncoded analog transmission; print a PSNR / LPIPS / DISTS table (PSNR / LPIPS "
                 "with JSCC_LAB_QUICK=1) and write demo.png and demo.md")
    demo = sub.add_parser("demo", help="compare deep JSCC with separate coding and analog "
                          "transmission over AWGN on sample photos", description=demo_help)
    demo.add_argument("--out", default="jscc_lab_demo", help="folder for demo.png and demo.md")
    demo.add_argument("--snr", type=_finite_float, nargs="+", default=None, metavar="DB",
                      help="channel SNRs in dB (default: 0 10 20; 10 with JSCC_LAB_QUICK=1)")
    demo.add_argument("--amp", choices=("auto", "bf16", "none"), default="auto",
                      help="precision of the deep JSCC models: bf16 autocast where a timed probe finds "
                           "it faster (auto, the default), bf16, or none (fp32)")
    demo.set_defaults(func=_demo)

    train_help = ("train a model from a TOML config of jscc_lab.train.TrainConfig fields (or "
                  "jscc_lab.train.PerceptualTrainConfig when model = \"perceptual\"); "
                  "checkpoints last.pt / best.pt and config.toml go to out_dir (default runs/NAME)")
    train = sub.add_parser("train", help="train a model from a TOML config (see jscc_lab/configs)",
                           description=train_help)
    train.add_argument("config", help="TOML config file, e.g. jscc_lab/configs/adjscc_cpu.toml")
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run in out_dir from its last.pt")
    again.add_argument("--overwrite", action="store_true",
                       help="start afresh in an out_dir that already holds a run (deletes its last.pt and best.pt)")
    train.add_argument("--set", type=_split_override, action="append", metavar="KEY=VALUE",
                       help="override a config field (repeatable), e.g. --set steps=500 --set cbr=1/48 "
                            "--set val_snr_db=0,10,20")
    train.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")
    train.set_defaults(func=_train)

    export_help = ("copy a training checkpoint (a run's best.pt / last.pt) without optimiser state, as float16, "
                   "into the shipped checkpoints and register it under NAME; its provenance lists every "
                   "training stage behind it (the runs it was started from via init_from); frozen published "
                   "weights (the TAEF2 encoder of a TAEJSCC) are left to their weight file")
    export = sub.add_parser("export", help="turn a training checkpoint into a shipped, registered one",
                            description=export_help)
    export.add_argument("checkpoint", help="a run's best.pt or last.pt")
    export.add_argument("name", help="registry name, family-objective-channel[-cbr], e.g. taejscc-psnr-awgn")
    export.add_argument("--out", default=None, help="checkpoint folder (default: assets/checkpoints)")
    export.add_argument("--description", default=None, help="registry description (default: made from the stages)")
    export.add_argument("--no-register", action="store_true", help="write the file only")
    export.set_defaults(func=_export)

    explore_help = ("serve the explorer widgets (tutorial 09) as a web page (Voila, code hidden); "
                    "every open page runs its own kernel (about 1 GiB), so the number of pages "
                    "at once is capped and kernels whose page is gone are shut down; Ctrl-C or "
                    "SIGTERM ends the server and every kernel")
    explore = sub.add_parser("explore", help="serve the explorer widgets as a web page (Voila)",
                             description=explore_help)
    explore.add_argument("--ip", default="127.0.0.1",
                         help="address to listen on; 0.0.0.0 serves every network interface (a class)")
    explore.add_argument("--port", type=_port, default=8866, help="port of the web page")
    explore.add_argument("--max-sessions", type=_count, default=8, metavar="N",
                         help="most pages (kernels) at once; more get a 'sessions in use' page; 0: no limit")
    explore.add_argument("--cull-idle", type=_count, default=300, metavar="SECONDS",
                         help="shut a kernel down after this long with no page connected; 0: never")
    explore.add_argument("--no-browser", action="store_true", help="do not open a browser")
    explore.set_defaults(func=_explore)

    course_help = ("build a graded course from the tutorials with nbgrader (pip install -e '.[course]'): "
                   "OUT/instructor/ holds every notebook with its solutions and outputs, OUT/student/ the "
                   "release without solutions (prompts, empty answer cells, tests; the lesson's outputs "
                   "stay); OUT/gradebook.db and OUT/nbgrader_config.py let nbgrader release, collect and "
                   "autograde in OUT")
    course = sub.add_parser("course", help="build the graded course (nbgrader): instructor and student "
                            "notebooks", description=course_help)
    course_sub = course.add_subparsers(dest="course_command", required=True, metavar="COMMAND")
    course_build = course_sub.add_parser("build", help="write OUT/instructor, OUT/student and the gradebook",
                                         description=course_help)
    course_build.add_argument("out", metavar="OUT", help="course folder to write (new or empty)")
    course_build.add_argument("--force", action="store_true",
                              help="rebuild in a folder that holds a course (replaces instructor/, student/ "
                                   "and gradebook.db; submissions stay)")
    course_build.add_argument("--only", nargs="+", metavar="NN_topic", default=None,
                              help="build only these tutorials, e.g. --only 01_channels 02_separate_coding")
    course_build.add_argument("--source", default=None, metavar="REQUIREMENT",
                              help="pip requirement the notebooks install jscc_lab from where it is missing "
                                   "(Colab, Binder), e.g. git+https://github.com/OWNER/jscc_lab")
    course_build.set_defaults(func=_course_build)

    site_help = ("build the project website with Sphinx + MyST-NB (pip install -e '.[site]'): the README, "
                 "every tutorial with its stored outputs (not re-executed) and download links, the results, "
                 "training and teaching documents; open OUT/index.html")
    site = sub.add_parser("site", help="build the website", description=site_help)
    site_sub = site.add_subparsers(dest="site_command", required=True, metavar="COMMAND")
    site_build = site_sub.add_parser("build", help="write the HTML site into OUT", description=site_help)
    site_build.add_argument("out", metavar="OUT", help="folder for the HTML (created; files in it are replaced)")
    site_build.set_defaults(func=_site_build)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as err:
        print(f"jscc-lab {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
