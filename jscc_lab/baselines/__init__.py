"""Separate source-channel coding: the engineered baseline deep JSCC is measured against.

A real image codec at a bit budget (JPEG, WebP, HEVC intra as the BPG stand-in, counted as a BPG
bitstream; AVIF),
then either the ideal channel code (Shannon capacity) or a practical one (5G NR LDPC + QAM from
NVIDIA Sionna, the NR MCS tables of TS 38.214) over the project's channels, with the cliff effect
that comes with it.

One concept per module, flat names here:

* :mod:`~jscc_lab.baselines.codecs` -- ``encode_to_budget``, ``RateControlCache``
* :mod:`~jscc_lab.baselines.capacity` -- ``capacity_bits``, ``awgn_capacity``, ergodic / outage
* :mod:`~jscc_lab.baselines.mcs` -- ``MCS``, ``MCS_TABLE``, ``get_mcs``
* :mod:`~jscc_lab.baselines.ldpc` -- ``LDPCLink``, ``simulate_bler``
* :mod:`~jscc_lab.baselines.bler` -- the measured BLER tables, ``image_success_probability``
* :mod:`~jscc_lab.baselines.pipeline` -- ``separate_transmit``, ``SeparateCoding``, ``select_mcs``
* :mod:`~jscc_lab.baselines.sweep` -- ``separation_sweep``

Example
-------
>>> from jscc_lab.data import sample_images
>>> from jscc_lab.baselines import separate_transmit
>>> x = sample_images(["astronaut"])[0][..., :128, :128]
>>> r = separate_transmit(x, codec="webp", cbr=1/12, snr_db=10.0, channel_code="ldpc",
...                       mcs="qpsk-526/1024", generator=0)
>>> r.mcs, r.failed.tolist()
(['qpsk-526/1024'], [False])
"""

from .bler import bler, bler_table, image_success_probability
from .capacity import (
    awgn_capacity,
    capacity_bits,
    ergodic_capacity,
    instantaneous_capacity,
    outage_capacity,
    outage_probability,
)
from .codecs import (
    CODECS,
    COUNTS,
    DEFAULT_CHROMA,
    RateControlCache,
    RateControlResult,
    bpg_header,
    codec_names,
    coded_bitstream,
    counted_bytes,
    decode,
    default_cache,
    encode,
    encode_to_budget,
)
from .ldpc import LDPCLink, ldpc_transmit, mother_code_length, simulate_bler
from .mcs import CODEWORD_BITS, MCS, MCS_TABLE, NR_TABLE_64QAM, NR_TABLE_256QAM, get_mcs, mcs_names
from .pipeline import CHANNEL_CODES, SeparateCoding, SeparateResult, select_mcs, separate_transmit
from .sweep import psnr_only, separation_sweep

__all__ = [
    "CHANNEL_CODES",
    "CODECS",
    "CODEWORD_BITS",
    "COUNTS",
    "DEFAULT_CHROMA",
    "LDPCLink",
    "MCS",
    "MCS_TABLE",
    "NR_TABLE_64QAM",
    "NR_TABLE_256QAM",
    "RateControlCache",
    "RateControlResult",
    "SeparateCoding",
    "SeparateResult",
    "awgn_capacity",
    "bler",
    "bler_table",
    "bpg_header",
    "capacity_bits",
    "codec_names",
    "coded_bitstream",
    "counted_bytes",
    "decode",
    "default_cache",
    "encode",
    "encode_to_budget",
    "ergodic_capacity",
    "get_mcs",
    "image_success_probability",
    "instantaneous_capacity",
    "ldpc_transmit",
    "mcs_names",
    "mother_code_length",
    "outage_capacity",
    "outage_probability",
    "psnr_only",
    "select_mcs",
    "separate_transmit",
    "separation_sweep",
    "simulate_bler",
]
