"""The practical channel code: 5G NR LDPC + QAM from NVIDIA Sionna (PyTorch PHY), sent over the
project's own channels (:mod:`jscc_lab.channels`), so the SNR convention is the one every deep
JSCC model in this package sees: ``SNR = E|s|^2 / sigma^2`` per complex symbol (``Es/N0``).

Chain, per image::

    bits -> LDPC5GEncoder -> Mapper(QAM) -> channel(s, snr_db) -> equalise -> Demapper(APP)
         -> LDPC5GDecoder (belief propagation) -> bits_hat

Error detection is a genie: a codeword has failed when any of its decoded information bits differs
from what was sent (a real link attaches a CRC, 24 bits per 5G transport block; its overhead is
not counted here).

Channels: :class:`~jscc_lab.channels.AWGN`, and :class:`~jscc_lab.channels.RayleighFading` with
``csi="perfect"`` (coherent QAM needs the receiver to know ``h``). Whatever its equaliser, the
demapper is fed the zero-forced symbols ``y / h`` with the effective noise variance
``sigma^2 / |h|^2`` per symbol, which is exactly what the APP demapper needs.

Example
-------
>>> import torch
>>> from jscc_lab.baselines import simulate_bler
>>> simulate_bler("qpsk-526/1024", snr_db=6.0, n_codewords=50, generator=0)
0.0
"""

from __future__ import annotations

from functools import lru_cache

import torch

from ..channels import AWGN, RayleighFading, make_generator, snr_db_to_noise_var
from .mcs import MCS, get_mcs

__all__ = ["LDPCLink", "ldpc_transmit", "simulate_bler", "receive", "mother_code_length"]

_CHUNK = 2048  # codewords per encoder / decoder call: bounds memory, keeps calls vectorised


def mother_code_length(mcs: MCS) -> int:
    """Coded bits the 5G LDPC encoder itself outputs for ``mcs``: ``mcs.n``, or for a rate
    below 1/5 (the lowest rate of base graph 2) the longest length at rate >= 1/5 that is a
    multiple of the bits per symbol; those bits are then repeated cyclically up to ``mcs.n``."""
    if 5 * mcs.k >= mcs.n:
        return mcs.n
    m = mcs.bits_per_symbol
    return (5 * mcs.k) // m * m


@lru_cache(maxsize=64)
def _blocks(mcs_name: str, num_iter: int):
    """Sionna blocks for one MCS (building the parity-check matrices takes ~0.1 s, so cache)."""
    from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
    from sionna.phy.mapping import Demapper, Mapper

    mcs = get_mcs(mcs_name)
    m = mcs.bits_per_symbol
    encoder = LDPC5GEncoder(mcs.k, mother_code_length(mcs), num_bits_per_symbol=m)
    decoder = LDPC5GDecoder(encoder, num_iter=num_iter, hard_out=True)
    return encoder, decoder, Mapper("qam", m), Demapper("app", "qam", m)


class LDPCLink:
    """One MCS as a callable block: ``bits_hat, ok = link(bits, channel, snr_db)``.

    Parameters
    ----------
    mcs : an :class:`~jscc_lab.baselines.MCS` or its name, e.g. ``"16qam-1/2"``.
    num_iter : belief-propagation iterations of the LDPC decoder (20, Sionna's default).

    Input
    -----
    bits : ``(N, M, k)`` tensor of 0/1 (any dtype): ``M`` codewords of ``k = mcs.k`` information
        bits for each of ``N`` images.
    channel : a :mod:`jscc_lab.channels` channel (default AWGN).
    snr_db : float or ``(N,)`` tensor.
    channel_uses : complex symbols per image (default: just the codewords); unused symbols are
        filled with random QAM symbols so the transmit power stays 1.
    generator : ``torch.Generator`` or int seed for the channel and the padding.

    Output
    ------
    bits_hat : ``(N, M, k)`` float32 hard decisions.
    ok : ``(N, M)`` bool, True where the codeword decoded without error.
    """

    def __init__(self, mcs, num_iter: int = 20):
        self.mcs: MCS = get_mcs(mcs)
        if isinstance(num_iter, bool) or not isinstance(num_iter, int) or num_iter < 1:
            raise ValueError(f"num_iter must be an int >= 1, got {num_iter!r}")
        self.num_iter = num_iter
        self.encoder, self.decoder, self.mapper, self.demapper = _blocks(self.mcs.name, num_iter)
        n_mother = mother_code_length(self.mcs)
        # rate matching below rate 1/5: coded bit j is sent at positions j, j + n_mother, ...
        self._repeat = torch.arange(self.mcs.n) % n_mother if n_mother < self.mcs.n else None
        self._n_mother = n_mother

    def __repr__(self) -> str:
        return f"LDPCLink({self.mcs.name!r}, num_iter={self.num_iter})"

    def modulate(self, bits: torch.Tensor) -> torch.Tensor:
        """``(B, k)`` information bits -> ``(B, n / m)`` complex QAM symbols of unit energy."""
        out = []
        for chunk in bits.float().split(_CHUNK):
            coded = self.encoder(chunk)
            if self._repeat is not None:
                coded = coded[:, self._repeat]
            out.append(self.mapper(coded))
        return torch.cat(out).to(torch.complex64)

    def demodulate(self, y: torch.Tensor, noise_var: torch.Tensor) -> torch.Tensor:
        """``(B, n / m)`` equalised symbols + noise variances -> ``(B, k)`` decoded bits."""
        out = []
        for y_chunk, nv_chunk in zip(y.split(_CHUNK), noise_var.split(_CHUNK)):
            llr = self.demapper(y_chunk, nv_chunk)
            if self._repeat is not None:  # combine the repeated copies of each coded bit
                combined = llr.new_zeros(llr.shape[0], self._n_mother)
                llr = combined.index_add_(1, self._repeat.to(llr.device), llr)
            out.append(self.decoder(llr))
        return torch.cat(out)

    def __call__(self, bits, channel=None, snr_db=10.0, channel_uses=None, generator=None):
        if not isinstance(bits, torch.Tensor) or bits.ndim != 3 or bits.shape[2] != self.mcs.k:
            raise ValueError(
                f"bits must be a (N, M, k={self.mcs.k}) tensor for {self.mcs.name}, got "
                f"{tuple(getattr(bits, 'shape', ()))}"
            )
        n_img, n_cw, k = bits.shape
        sym_per_cw = self.mcs.symbols_per_codeword
        used = n_cw * sym_per_cw
        channel_uses = used if channel_uses is None else int(channel_uses)
        if channel_uses < used:
            raise ValueError(
                f"channel_uses={channel_uses} cannot carry {n_cw} codewords of {sym_per_cw} "
                f"symbols ({used} needed)"
            )
        g = make_generator(generator)
        with torch.no_grad():
            s = self.modulate(bits.reshape(-1, k)).reshape(n_img, used)
            if channel_uses > used:  # idle symbols: random QAM, so the image keeps mean power 1
                pad_bits = torch.randint(
                    0, 2, (n_img, (channel_uses - used) * self.mcs.bits_per_symbol), generator=g
                ).float()
                s = torch.cat([s, self.mapper(pad_bits).to(torch.complex64)], dim=1)
            y, noise_var = receive(channel, s, snr_db, generator=g)
            y = y[:, :used].reshape(-1, sym_per_cw)
            noise_var = noise_var[:, :used].reshape(-1, sym_per_cw)
            bits_hat = self.demodulate(y, noise_var).reshape(n_img, n_cw, k)
        ok = (bits_hat == bits.float()).all(dim=-1)
        return bits_hat, ok


def receive(channel, s: torch.Tensor, snr_db, generator=None):
    """Send ``s`` ``(N, k)`` through ``channel``; return what a coherent QAM demapper needs.

    Output: ``y`` ``(N, k)`` complex, zero-forced so that ``y = s + noise``, and the per-symbol
    noise variance ``(N, k)`` float: ``sigma^2`` for AWGN, ``sigma^2 / |h|^2`` after a fade.
    """
    channel = AWGN() if channel is None else channel
    snr = torch.as_tensor(snr_db, dtype=torch.float32)
    sigma2 = snr_db_to_noise_var(snr).reshape(-1, 1).expand(s.shape[0], 1)
    if isinstance(channel, AWGN):
        y = channel(s, snr_db, generator=generator)
        return y, sigma2.expand(s.shape).contiguous()
    if isinstance(channel, RayleighFading):
        if channel.csi != "perfect":
            raise ValueError(
                'channel must give the receiver its gains for coherent QAM: use '
                'RayleighFading(csi="perfect") with channel_code="ldpc"'
            )
        y, h = channel(s, snr_db, generator=generator, return_gains=True)
        gain = h.abs().square().clamp_min(1e-12)
        if channel.equalizer == "mmse":  # undo the MMSE shrinkage: back to y / h
            y = y * (gain + sigma2) / gain
        return y, (sigma2 / gain).contiguous()
    raise TypeError(
        "channel must be jscc_lab.channels.AWGN() or RayleighFading(csi='perfect'), got "
        f"{type(channel).__name__}"
    )


def ldpc_transmit(bits, mcs, channel=None, snr_db=10.0, channel_uses=None, generator=None,
                  num_iter: int = 20):
    """Functional form of :class:`LDPCLink`: ``bits_hat, ok = ldpc_transmit(bits, mcs, ...)``."""
    return LDPCLink(mcs, num_iter=num_iter)(bits, channel, snr_db, channel_uses, generator)


def simulate_bler(mcs, snr_db: float, n_codewords: int = 500, channel=None, generator=None,
                  num_iter: int = 20) -> float:
    """Block (codeword) error rate of ``mcs`` at ``snr_db``, measured on random codewords.

    Each codeword is sent as its own row, so with ``RayleighFading(mode="block")`` every codeword
    sees its own fade. Output: a float in ``[0, 1]``.
    """
    link = LDPCLink(mcs, num_iter=num_iter)
    if isinstance(n_codewords, bool) or not isinstance(n_codewords, int) or n_codewords < 1:
        raise ValueError(f"n_codewords must be an int >= 1, got {n_codewords!r}")
    g = make_generator(generator)
    bits = torch.randint(0, 2, (n_codewords, 1, link.mcs.k), generator=g)
    _, ok = link(bits, channel, float(snr_db), generator=g)
    return 1.0 - ok.float().mean().item()
