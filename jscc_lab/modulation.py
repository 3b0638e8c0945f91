"""Uncoded QPSK and its closed-form bit error rates: the textbook reference for a channel model.

Gray-mapped QPSK carries 2 bits per complex symbol at unit energy, ``Es = 1``, so with the
project's SNR convention ``Es/N0 = SNR`` and ``Eb/N0 = SNR / 2``. (5G QAM with LDPC coding lives
in :mod:`jscc_lab.baselines`, built on Sionna.)
"""

from __future__ import annotations

import math

import torch

from .channels import make_generator

__all__ = ["random_bits", "qpsk_modulate", "qpsk_demodulate", "qpsk_ber_theory", "bit_error_rate"]


def random_bits(n_images: int, n_bits: int, generator=None) -> torch.Tensor:
    """Uniform random bits, ``(n_images, n_bits)`` of dtype ``torch.uint8``."""
    g = make_generator(generator)
    return torch.randint(0, 2, (n_images, n_bits), generator=g, dtype=torch.uint8)


def qpsk_modulate(bits: torch.Tensor) -> torch.Tensor:
    """Gray-mapped QPSK: ``(N, 2k)`` bits -> ``(N, k)`` complex symbols of unit energy.

    Bit pair ``(b0, b1)`` -> ``((1 - 2 b0) + 1j (1 - 2 b1)) / sqrt(2)``.
    """
    if not isinstance(bits, torch.Tensor) or bits.ndim != 2:
        raise ValueError(f"bits must be a (N, 2k) tensor, got {getattr(bits, 'shape', type(bits))}")
    if bits.shape[1] % 2:
        raise ValueError(f"bits must have an even number of columns (2 per symbol), got {bits.shape[1]}")
    signs = 1.0 - 2.0 * bits.float().reshape(bits.shape[0], -1, 2)
    return torch.view_as_complex(signs.contiguous()) / math.sqrt(2.0)


def qpsk_demodulate(y: torch.Tensor) -> torch.Tensor:
    """Hard decisions for Gray QPSK: ``(N, k)`` complex -> ``(N, 2k)`` uint8 bits."""
    if not isinstance(y, torch.Tensor) or not y.is_complex():
        raise TypeError("y must be a complex tensor of shape (N, k)")
    return (torch.view_as_real(y) < 0).to(torch.uint8).reshape(y.shape[0], -1)


def bit_error_rate(bits: torch.Tensor, bits_hat: torch.Tensor) -> float:
    """Fraction of differing bits."""
    return (bits != bits_hat).float().mean().item()


def qpsk_ber_theory(snr_db, channel: str = "awgn"):
    """Closed-form BER of coherent Gray QPSK at ``SNR = Es/N0`` (dB).

    ``"awgn"``: ``Q(sqrt(SNR)) = erfc(sqrt(SNR/2)) / 2``.
    ``"rayleigh"`` (perfect CSI, fast fading or averaged over block fades):
    ``(1 - sqrt(g / (1 + g))) / 2`` with ``g = Eb/N0 = SNR / 2``.
    Returns a tensor shaped like ``snr_db``.
    """
    snr = torch.pow(10.0, torch.as_tensor(snr_db, dtype=torch.float64) / 10.0)
    if channel == "awgn":
        return 0.5 * torch.special.erfc(torch.sqrt(snr / 2.0))
    if channel == "rayleigh":
        g = snr / 2.0
        return 0.5 * (1.0 - torch.sqrt(g / (1.0 + g)))
    raise ValueError(f'channel must be "awgn" or "rayleigh", got {channel!r}')
