"""The ideal channel code: Shannon capacity, the bound no practical code beats.

With ``k`` complex channel uses per image and the project's SNR convention (``SNR = P/sigma^2``
per complex symbol), an ideal code delivers error-free

* **AWGN**: ``k * log2(1 + SNR)`` bits per image (:func:`capacity_bits`), and nothing above it.
* **Fast Rayleigh fading** (a codeword spans many independent fades, receiver knows ``h``): the
  *ergodic* capacity ``E_h[log2(1 + |h|^2 SNR)] = e^{1/SNR} E1(1/SNR) / ln 2`` bits per use
  (:func:`ergodic_capacity`), a little below AWGN at the same average SNR.
* **Block Rayleigh fading** (one fade ``h`` per image, unknown to the transmitter): no positive
  rate is reliable; the transmitter picks a rate ``R`` and the image is lost (an *outage*) when
  the instantaneous capacity ``log2(1 + |h|^2 SNR)`` falls below it, with probability
  ``P_out(R) = 1 - exp(-(2^R - 1) / SNR)`` (:func:`outage_probability`). The epsilon-outage
  capacity ``log2(1 - SNR ln(1 - eps))`` is the rate that is lost with probability ``eps``
  (:func:`outage_capacity`).

Example
-------
>>> from jscc_lab.baselines import capacity_bits
>>> int(capacity_bits(12288, 10.0))        # Kodak at CBR 1/96 and 10 dB: ~5.3 kB
42509
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "awgn_capacity",
    "capacity_bits",
    "ergodic_capacity",
    "outage_probability",
    "outage_capacity",
    "instantaneous_capacity",
]


def _snr_linear(snr_db) -> torch.Tensor:
    snr = torch.as_tensor(snr_db, dtype=torch.float64)
    if snr.is_complex() or not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be a finite real number (dB) or tensor, got {snr_db}")
    return torch.pow(10.0, snr / 10.0)


def awgn_capacity(snr_db) -> torch.Tensor:
    """AWGN capacity ``log2(1 + SNR)`` in bits per complex channel use (float or tensor in)."""
    return torch.log2(1.0 + _snr_linear(snr_db))


def ergodic_capacity(snr_db) -> torch.Tensor:
    """Rayleigh ergodic capacity ``E[log2(1 + |h|^2 SNR)]``, ``|h|^2 ~ Exp(1)``, bits per use."""
    from scipy.special import exp1

    x = (1.0 / _snr_linear(snr_db)).numpy()
    x = np.minimum(x, 700.0)  # e^{x} E1(x) ~ 1/x for large x; keep exp finite
    return torch.as_tensor(np.exp(x) * exp1(x) / math.log(2.0))


def instantaneous_capacity(gain, snr_db) -> torch.Tensor:
    """``log2(1 + |h|^2 SNR)`` for complex gains ``h`` (or real power gains ``|h|^2``)."""
    gain = torch.as_tensor(gain)
    power = gain.abs().square() if gain.is_complex() else gain
    return torch.log2(1.0 + power.double() * _snr_linear(snr_db))


def outage_probability(rate, snr_db) -> torch.Tensor:
    """Block Rayleigh: ``P(log2(1 + |h|^2 SNR) < rate) = 1 - exp(-(2^rate - 1) / SNR)``."""
    rate = torch.as_tensor(rate, dtype=torch.float64)
    if (rate < 0).any():
        raise ValueError(f"rate must be >= 0 bits per channel use, got {rate}")
    return 1.0 - torch.exp(-(torch.pow(2.0, rate) - 1.0) / _snr_linear(snr_db))


def outage_capacity(snr_db, outage: float) -> torch.Tensor:
    """Largest rate (bits per use) whose block-fading outage probability is ``outage``."""
    if not (0.0 < float(outage) < 1.0):
        raise ValueError(f"outage must be a probability in (0, 1), got {outage}")
    return torch.log2(1.0 - _snr_linear(snr_db) * math.log1p(-float(outage)))


def capacity_bits(k, snr_db, channel=None, outage: float = 0.1) -> torch.Tensor:
    """Bits per image an ideal code delivers in ``k`` complex uses, rounded down.

    ``channel`` ``None`` / AWGN: ``k log2(1 + SNR)``; fast Rayleigh: ``k`` times the ergodic
    capacity; block Rayleigh: ``k`` times the ``outage``-outage capacity (the image is then lost
    when its own fade cannot carry that rate; see :func:`outage_probability`).
    """
    from ..channels import RayleighFading

    k_t = torch.as_tensor(k, dtype=torch.float64)
    if (k_t <= 0).any():
        raise ValueError(f"k must be > 0 complex channel uses, got {k}")
    if isinstance(channel, RayleighFading):
        per_use = ergodic_capacity(snr_db) if channel.mode == "fast" else outage_capacity(snr_db, outage)
    else:
        per_use = awgn_capacity(snr_db)
    return torch.floor(k_t * per_use).to(torch.int64)
