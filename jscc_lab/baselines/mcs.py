"""Modulation and coding schemes (MCS): a QAM order and a 5G LDPC code rate.

A small table in the spirit of the 5G NR MCS tables (TS 38.214): QPSK, 16-QAM and 64-QAM, each
with a few code rates. Every scheme uses one codeword length, :data:`CODEWORD_BITS` = 1152 coded
bits, so one codeword fills 576 / 288 / 192 QAM symbols; its information block is
``k = rate * 1152`` bits (384 ... 960). 1152 is short enough that a 128x128 crop at CBR 1/48
still carries a codeword, and long enough for a steep waterfall.

Example
-------
>>> from jscc_lab.baselines import get_mcs
>>> m = get_mcs("16qam-1/2")
>>> m.bits_per_symbol, m.k, m.n, m.spectral_efficiency
(4, 576, 1152, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["MCS", "MCS_TABLE", "CODEWORD_BITS", "get_mcs", "mcs_names"]

CODEWORD_BITS = 1152  # divisible by 2, 4 and 6 bits per symbol and by every rate's denominator

_MODULATIONS = {"qpsk": 2, "16qam": 4, "64qam": 6}


@dataclass(frozen=True)
class MCS:
    """One modulation and coding scheme.

    Parameters
    ----------
    modulation : ``"qpsk"``, ``"16qam"`` or ``"64qam"`` (Gray-mapped, unit average energy).
    rate : LDPC code rate ``k / n`` as a string such as ``"1/2"``.
    n : coded bits per codeword.
    """

    modulation: str
    rate: str
    n: int = CODEWORD_BITS

    @property
    def name(self) -> str:
        """``"16qam-1/2"`` style name, accepted by :func:`get_mcs`."""
        return f"{self.modulation}-{self.rate}"

    @property
    def bits_per_symbol(self) -> int:
        return _MODULATIONS[self.modulation]

    @property
    def code_rate(self) -> float:
        return float(Fraction(self.rate))

    @property
    def k(self) -> int:
        """Information bits per codeword."""
        return int(Fraction(self.rate) * self.n)

    @property
    def symbols_per_codeword(self) -> int:
        return self.n // self.bits_per_symbol

    @property
    def spectral_efficiency(self) -> float:
        """Information bits per complex channel use: ``rate * bits_per_symbol``."""
        return self.code_rate * self.bits_per_symbol

    def codewords(self, channel_uses: int) -> int:
        """Whole codewords that fit in ``channel_uses`` complex symbols."""
        return int(channel_uses) // self.symbols_per_codeword

    def payload_bits(self, channel_uses: int) -> int:
        """Source bits this MCS carries in ``channel_uses`` symbols (whole codewords only)."""
        return self.codewords(channel_uses) * self.k

    def __str__(self) -> str:
        return self.name


MCS_TABLE: tuple[MCS, ...] = (
    MCS("qpsk", "1/3"),
    MCS("qpsk", "1/2"),
    MCS("qpsk", "2/3"),
    MCS("qpsk", "3/4"),
    MCS("16qam", "1/2"),
    MCS("16qam", "2/3"),
    MCS("16qam", "3/4"),
    MCS("64qam", "2/3"),
    MCS("64qam", "3/4"),
    MCS("64qam", "5/6"),
)
"""The schemes :func:`~jscc_lab.baselines.select_mcs` chooses from, lowest rate first."""


def mcs_names() -> list[str]:
    """Names of the schemes in :data:`MCS_TABLE`, lowest rate first."""
    return [m.name for m in MCS_TABLE]


def get_mcs(mcs) -> MCS:
    """Look up an MCS by name (``"qpsk-1/2"``, case-insensitive) or pass an :class:`MCS` through."""
    if isinstance(mcs, MCS):
        return mcs
    if isinstance(mcs, str):
        key = mcs.strip().lower().replace("qam16", "16qam").replace("qam64", "64qam")
        for m in MCS_TABLE:
            if m.name == key:
                return m
    raise ValueError(f"mcs must be one of {mcs_names()} (or an MCS), got {mcs!r}")
