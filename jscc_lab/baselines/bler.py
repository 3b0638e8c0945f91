"""BLER tables: the measured waterfall of every MCS, used to pick the best MCS at an SNR.

Best-MCS selection needs ``BLER(mcs, snr_db)`` at any SNR, fast. We use a **precomputed table
measured with this very chain** (:class:`~jscc_lab.baselines.LDPCLink`: Sionna 5G LDPC, 20 BP
iterations, APP QAM demapping, over :class:`~jscc_lab.channels.AWGN`) for the 37 schemes of
the NR MCS tables (:data:`~jscc_lab.baselines.MCS_TABLE`), shipped in
``_bler_data.py`` and linearly interpolated in dB; below a table's first point BLER is 1, above
its last it is 0, except that past the last measured error the waterfall is extended
log-linearly (a measured 0 only means "below ~1/200", and an image of hundreds of codewords needs
far less). Regenerate it (about 20-30 CPU minutes per channel on 2 cores) with::

    python -m jscc_lab.baselines.bler --channels awgn    # writes jscc_lab/baselines/_bler_data.py

Fast Rayleigh fading (a fresh fade every symbol, perfect CSI: the demapper gets ``y / h`` and
the per-symbol noise variance ``sigma^2 / |h|^2``) has its own measured table,
``"rayleigh-fast"`` (``--channels rayleigh-fast`` remeasures only that one and keeps the others):
each waterfall's BLER = 1/2 point lies 0.4 (QPSK 120/1024) to 6.3 dB (64-QAM 948/1024) to the right
of its AWGN one.

For **block** Rayleigh fading every codeword of an image sees the same gain ``g = |h|^2``
(``Exp(1)``), so the AWGN table applies at the instantaneous SNR ``g * SNR`` and the success
probability of an image of ``M`` codewords is averaged over the fade:
``P_ok = E_g[(1 - BLER_awgn(SNR + 10 log10 g))^M]`` (the outage view of the practical chain).

Example
-------
>>> from jscc_lab.baselines import bler
>>> bler("qpsk-526/1024", 10.0) == 0.0 and bler("qpsk-526/1024", -5.0) == 1.0
True
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from ..channels import AWGN, RayleighFading
from .mcs import MCS_TABLE, get_mcs

__all__ = ["bler", "image_success_probability", "bler_table", "measure_bler_table", "TABLE_CHANNELS"]

TABLE_CHANNELS = ("awgn", "rayleigh-fast")

# quantiles of g ~ Exp(1) for averaging over a block fade (midpoints of 2000 equal-probability bins)
_FADE_GAINS_DB = 10.0 * np.log10(-np.log1p(-(np.arange(2000) + 0.5) / 2000))


def bler_table(channel: str = "awgn") -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """The shipped table ``{mcs name: (snr_db points, bler values)}`` for ``channel``."""
    from ._bler_data import TABLES

    if channel not in TABLES:
        raise ValueError(
            f"channel must be one of {sorted(TABLES)} (the BLER tables shipped), got {channel!r}; "
            f"measure it with: python -m jscc_lab.baselines.bler --channels {' '.join(TABLE_CHANNELS)} "
            "(or pass a fixed mcs=... to separate_transmit)"
        )
    return TABLES[channel]


def table_channel(channel) -> str:
    """Which table serves a :mod:`jscc_lab.channels` channel: ``"awgn"`` or ``"rayleigh-fast"``.

    Block Rayleigh fading uses the AWGN table at the instantaneous SNR (see module doc).
    """
    if channel is None or isinstance(channel, AWGN):
        return "awgn"
    if isinstance(channel, RayleighFading):
        return "rayleigh-fast" if channel.mode == "fast" else "awgn"
    raise TypeError(f"no BLER table for channel {type(channel).__name__}")


def bler(mcs, snr_db, channel: str = "awgn"):
    """Interpolated codeword error rate of ``mcs`` at ``snr_db`` (float or array, in dB)."""
    snr = np.asarray(snr_db, dtype=np.float64)
    if not np.all(np.isfinite(snr)):
        raise ValueError(f"snr_db must be finite, got {snr_db}")
    points, values = (np.asarray(a, dtype=np.float64) for a in bler_table(channel)[get_mcs(mcs).name])
    # BLER cannot rise with the SNR: a measured bump in the tail (one or two errors in ~100
    # codewords) is noise, so the table is read as its running minimum
    values = np.minimum.accumulate(values)
    out = np.interp(snr, points, values, left=1.0, right=0.0)
    # A table point of 0 only says "below ~1/200", yet an image of hundreds of codewords needs
    # the BLER far lower than that: past the last measured error, extend the waterfall
    # log-linearly with the least-squares slope of log10(BLER) over its last (up to four)
    # nonzero points below 0.99 (a fit, because single tail points carry one or two errors).
    tail = np.flatnonzero((values > 0) & (values < 0.99))[-4:]
    if tail.size >= 2:
        slope = np.polyfit(points[tail], np.log10(values[tail]), 1)[0]
        j = tail[-1]
        if slope < 0:
            ext = values[j] * 10.0 ** (slope * (snr - points[j]))
            out = np.where(snr > points[j], np.where(ext < 1e-12, 0.0, ext), out)
    return float(out) if out.ndim == 0 else out


def image_success_probability(mcs, snr_db: float, n_codewords: int, channel=None) -> float:
    """Probability that all ``n_codewords`` codewords of one image decode at average ``snr_db``.

    AWGN / fast fading: ``(1 - BLER)^M`` with the matching table. Block fading: the same,
    averaged over the image's fade ``g = |h|^2 ~ Exp(1)``.
    """
    if n_codewords <= 0:
        return 0.0
    if isinstance(channel, RayleighFading) and channel.mode == "block":
        p = bler(mcs, float(snr_db) + _FADE_GAINS_DB, "awgn")
        return float(np.mean((1.0 - p) ** n_codewords))
    return float((1.0 - bler(mcs, float(snr_db), table_channel(channel))) ** n_codewords)


# ---------------------------------------------------------------------------------------------
# measuring the table
# ---------------------------------------------------------------------------------------------


def _shannon_limit_db(mcs, channel: str) -> float:
    se = get_mcs(mcs).spectral_efficiency
    limit = 10 * math.log10(2**se - 1)
    return limit if channel == "awgn" else limit + 2.5  # fast fading needs ~2.5 dB more at these rates


def measure_bler_table(channel: str = "awgn", n_search: int = 100, n_points: int = 200,
                       step_db: float = 0.5, seed: int = 0, log=print):
    """Measure the waterfall of every MCS in :data:`MCS_TABLE` on ``channel``.

    For each MCS: bisect (``n_search`` codewords per try) for the SNR where BLER crosses 1/2,
    then measure ``n_points`` codewords every ``step_db`` until BLER = 0 above and BLER = 1 below.
    Returns ``{mcs name: (snr points, bler values)}``.
    """
    from .ldpc import simulate_bler

    chan = AWGN() if channel == "awgn" else RayleighFading("fast")
    table = {}
    for i, mcs in enumerate(MCS_TABLE):
        t0 = time.time()
        seed_i = seed + 1000 * i
        lo, hi = _shannon_limit_db(mcs, channel) - 1.0, _shannon_limit_db(mcs, channel) + 8.0
        while hi - lo > step_db / 2:
            mid = 0.5 * (lo + hi)
            if simulate_bler(mcs, mid, n_search, chan, generator=seed_i) > 0.5:
                lo = mid
            else:
                hi = mid
            seed_i += 1
        centre = round(0.5 * (lo + hi) / step_db * 2) * step_db / 2
        points = {}
        for direction in (+1, -1):
            snr = centre if direction > 0 else centre - step_db
            while True:
                value = simulate_bler(mcs, snr, n_points, chan, generator=seed_i)
                seed_i += 1
                points[round(snr, 3)] = value
                if (direction > 0 and value == 0.0) or (direction < 0 and value == 1.0):
                    break
                snr += direction * step_db
        snrs = sorted(points)
        table[mcs.name] = (tuple(snrs), tuple(round(points[s], 4) for s in snrs))
        log(f"{channel:14s} {mcs.name:10s} BLER=1/2 near {centre:5.2f} dB  "
            f"({len(snrs)} points, {time.time() - t0:.0f} s)")
    return table


def _write_tables(tables: dict, path: Path, settings: str) -> None:
    lines = [
        '"""BLER tables measured by jscc_lab.baselines.bler.measure_bler_table (generated file).',
        "",
        f"Settings: {settings}.",
        f"Regenerate: python -m jscc_lab.baselines.bler --channels {' '.join(tables)}",
        '"""',
        "",
        "TABLES = {",
    ]
    for channel, table in tables.items():
        lines.append(f"    {channel!r}: {{")
        for name, (snrs, values) in table.items():
            lines.append(f"        {name!r}: (")
            lines.append(f"            {tuple(snrs)!r},")
            lines.append(f"            {tuple(values)!r},")
            lines.append("        ),")
        lines.append("    },")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def _read_tables(path: Path) -> dict:
    """The ``TABLES`` literal of a file written by :func:`_write_tables` (parsed, not run)."""
    import ast

    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "TABLES" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def main(argv=None) -> None:
    """``python -m jscc_lab.baselines.bler [--channels awgn rayleigh-fast] [--out PATH]``; tables
    of channels already in ``--out`` and not named are kept."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--channels", nargs="+", default=list(TABLE_CHANNELS), choices=TABLE_CHANNELS)
    parser.add_argument("--n-search", type=int, default=100)
    parser.add_argument("--n-points", type=int, default=200)
    parser.add_argument("--step-db", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("_bler_data.py"))
    args = parser.parse_args(argv)
    tables = {}
    if args.out.is_file():  # keep the tables of channels not measured this time
        tables = {k: v for k, v in _read_tables(args.out).items() if k not in args.channels}
    for channel in args.channels:
        tables[channel] = measure_bler_table(channel, args.n_search, args.n_points, args.step_db)
        import sionna
        import torch

        _write_tables(tables, args.out, f"{args.n_points} codewords per point, {args.step_db} dB "
                      f"steps, 20 BP iterations, codeword length {MCS_TABLE[0].n} (rates below 1/5 "
                      f"by repetition of the rate-1/5 code); sionna "
                      f"{sionna.__version__}, torch {torch.__version__}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
