"""Modulation and coding schemes (MCS): a QAM order and a 5G LDPC code rate.

:data:`MCS_TABLE` is the union of the 5G NR MCS tables for the shared data channel, 3GPP TS
38.214 **Table 5.1.3.1-1** (QPSK to 64-QAM, indices 0-28) and **Table 5.1.3.1-2** (QPSK to
256-QAM, indices 0-27): 37 distinct schemes from QPSK at code rate 120/1024 (0.23 bit per
channel use) to 256-QAM at 948/1024 (7.41 bit per channel use). Rates are written as in the
standard, ``R x 1024`` (e.g. ``"qpsk-120/1024"``, ``"256qam-682.5/1024"``).

Every scheme uses one codeword length, :data:`CODEWORD_BITS` = 1152 coded bits, so one codeword
fills 576 / 288 / 192 / 144 QAM symbols; its information block is ``k = round(rate * 1152)``
bits (135 ... 1066). 1152 is short enough that a 128x128 crop at CBR 1/48 still carries a
codeword, and long enough for a steep waterfall. Rates below 1/5 (the lowest rate of the NR
mother code, base graph 2) are reached as NR reaches them: the rate-1/5 codeword is repeated
cyclically to fill 1152 bits (rate matching over the circular buffer) and the receiver adds the
repeated log-likelihood ratios.

Any other ``"<modulation>-<rate>"`` name (``"16qam-1/2"``) is also accepted by :func:`get_mcs`,
for a fixed scheme in a cliff-effect demo; best-MCS selection chooses from :data:`MCS_TABLE` only.

Example
-------
>>> from jscc_lab.baselines import get_mcs, MCS_TABLE
>>> m = get_mcs("16qam-1/2")
>>> m.bits_per_symbol, m.k, m.n, m.spectral_efficiency
(4, 576, 1152, 2.0)
>>> len(MCS_TABLE), MCS_TABLE[0].name, MCS_TABLE[-1].name
(37, 'qpsk-120/1024', '256qam-948/1024')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["MCS", "MCS_TABLE", "NR_TABLE_64QAM", "NR_TABLE_256QAM", "CODEWORD_BITS", "get_mcs",
           "mcs_names"]

CODEWORD_BITS = 1152  # divisible by 2, 4, 6 and 8 bits per symbol

_MODULATIONS = {"qpsk": 2, "16qam": 4, "64qam": 6, "256qam": 8}
_BY_ORDER = {v: k for k, v in _MODULATIONS.items()}

#: TS 38.214 Table 5.1.3.1-1 (MCS index table 1 for PDSCH): ``(Qm, R x 1024)`` for indices 0-28.
NR_TABLE_64QAM: tuple[tuple[int, float], ...] = (
    (2, 120), (2, 157), (2, 193), (2, 251), (2, 308), (2, 379), (2, 449), (2, 526), (2, 602),
    (2, 679), (4, 340), (4, 378), (4, 434), (4, 490), (4, 553), (4, 616), (4, 658), (6, 438),
    (6, 466), (6, 517), (6, 567), (6, 616), (6, 666), (6, 719), (6, 772), (6, 822), (6, 873),
    (6, 910), (6, 948),
)
#: TS 38.214 Table 5.1.3.1-2 (MCS index table 2, with 256-QAM): indices 0-27.
NR_TABLE_256QAM: tuple[tuple[int, float], ...] = (
    (2, 120), (2, 193), (2, 308), (2, 449), (2, 602), (4, 378), (4, 434), (4, 490), (4, 553),
    (4, 616), (4, 658), (6, 466), (6, 517), (6, 567), (6, 616), (6, 666), (6, 719), (6, 772),
    (6, 822), (6, 873), (8, 682.5), (8, 711), (8, 754), (8, 797), (8, 841), (8, 885), (8, 916.5),
    (8, 948),
)


@dataclass(frozen=True)
class MCS:
    """One modulation and coding scheme.

    Parameters
    ----------
    modulation : ``"qpsk"``, ``"16qam"``, ``"64qam"`` or ``"256qam"`` (Gray-mapped, unit energy).
    rate : LDPC code rate as a string, ``"1/2"`` or in the standard's form ``"490/1024"``.
    n : coded bits per codeword.
    """

    modulation: str
    rate: str
    n: int = CODEWORD_BITS

    @property
    def name(self) -> str:
        """``"16qam-490/1024"`` style name, accepted by :func:`get_mcs`."""
        return f"{self.modulation}-{self.rate}"

    @property
    def bits_per_symbol(self) -> int:
        return _MODULATIONS[self.modulation]

    @property
    def k(self) -> int:
        """Information bits per codeword, ``round(rate * n)``."""
        return round(_parse_rate(self.rate) * self.n)

    @property
    def code_rate(self) -> float:
        """The code rate actually used, ``k / n``."""
        return self.k / self.n

    @property
    def symbols_per_codeword(self) -> int:
        return self.n // self.bits_per_symbol

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex channel use: ``k / n * bits_per_symbol``."""
        return self.code_rate * self.bits_per_symbol

    def codewords(self, channel_uses: int) -> int:
        """Whole codewords that fit in ``channel_uses`` complex symbols."""
        return int(channel_uses) // self.symbols_per_codeword

    def payload_bits(self, channel_uses: int) -> int:
        """Source bits this MCS carries in ``channel_uses`` symbols (whole codewords only)."""
        return self.codewords(channel_uses) * self.k

    def __str__(self) -> str:
        return self.name


def _parse_rate(rate: str) -> Fraction:
    num, _, den = str(rate).partition("/")
    return Fraction(num) / Fraction(den or 1)


def _nr_mcs(qm: int, r1024: float) -> MCS:
    return MCS(_BY_ORDER[qm], f"{r1024:g}/1024")


MCS_TABLE: tuple[MCS, ...] = tuple(sorted(
    {_nr_mcs(qm, r) for qm, r in NR_TABLE_64QAM + NR_TABLE_256QAM},
    key=lambda m: (m.spectral_efficiency, m.bits_per_symbol),
))
"""The schemes :func:`~jscc_lab.baselines.select_mcs` chooses from, lowest spectral efficiency
first: both NR tables merged (37 schemes)."""


def mcs_names() -> list[str]:
    """Names of the schemes in :data:`MCS_TABLE`, lowest rate first."""
    return [m.name for m in MCS_TABLE]


_NAME = re.compile(r"^(qpsk|16qam|64qam|256qam)-(\d+(?:\.\d+)?)(?:/(\d+))?$")


def get_mcs(mcs) -> MCS:
    """Look up an MCS by name (``"qpsk-120/1024"``, ``"16qam-1/2"``; case-insensitive) or pass one.

    Any modulation of :data:`MCS_TABLE` with a code rate the 5G LDPC code supports (``k >= 1``,
    rate at most 948/1024) is accepted; names of the NR tables are listed by :func:`mcs_names`.
    """
    if isinstance(mcs, MCS):
        return mcs
    if isinstance(mcs, str):
        key = mcs.strip().lower().replace("qam16", "16qam").replace("qam64", "64qam")
        key = key.replace("qam256", "256qam")
        match = _NAME.match(key)
        if match:
            rate = _parse_rate(f"{match.group(2)}/{match.group(3) or 1}")
            if 0 < rate <= Fraction(948, 1024) and round(rate * CODEWORD_BITS) >= 1:
                modulation = match.group(1)
                for m in MCS_TABLE:  # the table's own spelling of the same scheme
                    if m.modulation == modulation and _parse_rate(m.rate) == rate:
                        return m
                return MCS(modulation, f"{match.group(2)}/{match.group(3) or 1}")
    raise ValueError(
        f"mcs must be '<qpsk|16qam|64qam|256qam>-<rate>' with a rate in (0, 948/1024], e.g. "
        f"'qpsk-120/1024' or '16qam-1/2' (NR tables: {mcs_names()[0]} ... {mcs_names()[-1]}), "
        f"or an MCS, got {mcs!r}"
    )
