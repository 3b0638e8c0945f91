"""Separate source-channel coding end to end: codec at a bit budget, then a channel code.

``separate_transmit`` is the whiteboard chain in one call::

    x -> codec at B bits -> [ideal code at capacity | 5G LDPC + QAM over the channel] -> x_hat

* ``channel_code="capacity"``: the budget is what an ideal code delivers (:func:`capacity_bits`):
  the upper bound of any separate scheme. Over block fading the image is lost when its fade's
  instantaneous capacity is below the rate used (an *outage*).
* ``channel_code="ldpc"``: the budget is what the MCS carries in whole codewords; the codec's
  real bitstream is LDPC-encoded, QAM-mapped, sent through the channel, demapped and decoded
  (:class:`LDPCLink`). ``mcs=None`` picks, per image, the MCS that maximises the *expected* PSNR
  ``P_ok * PSNR(budget) + (1 - P_ok) * PSNR(fallback)`` from the shipped BLER table
  (:mod:`jscc_lab.baselines.bler`); a fixed ``mcs="16qam-1/2"`` shows the **cliff effect**.

Failures are never dropped: an image whose file does not fit its budget (``"budget"``), whose
fade cannot carry its rate (``"outage"``) or with any codeword decoded in error (``"decoding"``)
is undecodable, and its reconstruction is the **fallback**: by default a mid-grey image (0.5
everywhere), what a receiver shows when it has nothing; pass ``fallback=`` a colour or the
dataset-mean image to follow another paper's convention. Scores averaged over a result include
those images.

Example
-------
>>> from jscc_lab.data import sample_images
>>> from jscc_lab.baselines import separate_transmit
>>> x = sample_images(["astronaut"])[0][..., :128, :128]
>>> r = separate_transmit(x, codec="jpeg", cbr=1/12, snr_db=10.0, channel_code="capacity")
>>> r.failed.tolist(), bool(r.bits[0] <= r.budget_bits[0])
([False], True)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import torch

from ..channels import AWGN, RayleighFading, make_generator
from ..metrics import psnr
from .bler import image_success_probability
from .capacity import capacity_bits, instantaneous_capacity
from .codecs import COUNTS, RateControlCache, _as_list, _get_codec, encode_to_budget
from .ldpc import LDPCLink
from .mcs import MCS_TABLE, get_mcs

__all__ = ["separate_transmit", "SeparateResult", "SeparateCoding", "select_mcs", "CHANNEL_CODES"]

CHANNEL_CODES = ("capacity", "ldpc")


@dataclass
class SeparateResult:
    """What :func:`separate_transmit` returns for ``N`` images.

    Attributes
    ----------
    x_hat : reconstructions ``(N, 3, H, W)`` (a list of ``(1, 3, H, W)`` if given a list); the
        fallback image where ``failed``.
    bits : ``(N,)`` int64 source bits sent (BPG header + coded bitstream, or the whole file with
        ``count="file"``; 0 if it did not fit).
    budget_bits : ``(N,)`` int64 bit budget the codec was given.
    channel_uses : ``(N,)`` int64 complex channel uses ``k = floor(cbr * 3HW)``.
    quality : ``(N,)`` int64 codec quality used (-1 if none fits).
    mcs : per image MCS name (``None`` for the capacity bound).
    failed : ``(N,)`` bool, the image is undecodable.
    reason : per image ``""``, ``"budget"``, ``"outage"`` or ``"decoding"``.
    codewords, codeword_errors : ``(N,)`` int64 LDPC codewords carrying the file, and how many
        failed (zeros for the capacity bound).
    snr_db : ``(N,)`` float32. ``cbr``, ``codec``, ``channel_code`` as given.
    chroma : per image chroma format used (``""`` if nothing was sent).
    count : how source bits were counted (``"bitstream"`` or ``"file"``).
    scale : per image downscaling factor of the coded image: 1, 2 or 4 (0 if nothing was sent).
    """

    x_hat: torch.Tensor | list
    bits: torch.Tensor
    budget_bits: torch.Tensor
    channel_uses: torch.Tensor
    quality: torch.Tensor
    mcs: list
    failed: torch.Tensor
    reason: list
    codewords: torch.Tensor
    codeword_errors: torch.Tensor
    snr_db: torch.Tensor
    cbr: float
    codec: str
    channel_code: str
    chroma: list = field(default_factory=list)
    count: str = "bitstream"
    scale: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)

    @property
    def n_failures(self) -> int:
        return int(self.failed.sum())

    @property
    def failure_rate(self) -> float:
        return float(self.failed.float().mean())

    @property
    def cbr_used(self) -> torch.Tensor:
        """CBR actually used per image, ``(N,)``: channel uses / ``3HW`` (never above ``cbr``)."""
        pixels = torch.tensor([3 * x.shape[-1] * x.shape[-2] for x in _as_list(self.x_hat)[0]])
        return self.channel_uses.double() / pixels

    @property
    def bpp(self) -> torch.Tensor:
        """Source bits per pixel actually sent, ``(N,)``."""
        pixels = torch.tensor([x.shape[-1] * x.shape[-2] for x in _as_list(self.x_hat)[0]])
        return self.bits.double() / pixels

    def summary(self) -> str:
        mcs = sorted({m for m in self.mcs if m}) or ["-"]
        return (f"{self.codec}+{self.channel_code} cbr={self.cbr:.4g} snr={self.snr_db.mean():.1f} dB: "
                f"{len(self.failed)} images, {self.n_failures} failed, mean {self.bits.double().mean():.0f} "
                f"bits of budget {self.budget_bits.double().mean():.0f}, MCS {', '.join(mcs)}"
                + (f", {self.n_downscaled} coded at reduced size" if self.n_downscaled else ""))

    @property
    def n_downscaled(self) -> int:
        """Images coded at 1/2 or 1/4 size to fit their budget."""
        return sum(1 for k in self.scale if k > 1)


def _check_cbr(cbr) -> float:
    if isinstance(cbr, bool) or not isinstance(cbr, numbers.Real):
        raise ValueError(f"cbr must be a number > 0 such as 1/48, got {cbr!r}")
    if not (math.isfinite(float(cbr)) and cbr > 0):
        raise ValueError(f"cbr must be a finite number > 0 such as 1/48, got {cbr!r}")
    return float(cbr)


def _check_snrs(snr_db, n: int) -> torch.Tensor:
    if isinstance(snr_db, bool) or not isinstance(snr_db, (numbers.Real, torch.Tensor, np.ndarray)):
        raise ValueError(f"snr_db must be a float (dB) or a tensor of shape (N,), got {snr_db!r}")
    snr = torch.as_tensor(snr_db, dtype=torch.float32).flatten()
    if snr.numel() == 1:
        snr = snr.expand(n)
    if snr.numel() != n:
        raise ValueError(f"snr_db must be a float or hold one value per image ({n}), got {snr.numel()}")
    if not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite (a value in dB such as 10.0), got {snr_db}")
    return snr.clone()


def _check_channel(channel):
    channel = AWGN() if channel is None else channel
    if not isinstance(channel, (AWGN, RayleighFading)):
        raise ValueError(
            f"channel must be jscc_lab.channels.AWGN() or RayleighFading(...), got {channel!r}"
        )
    return channel


def _fallback_image(fallback, x: torch.Tensor) -> torch.Tensor:
    if isinstance(fallback, numbers.Real) and not isinstance(fallback, bool):
        return torch.full_like(x, float(fallback), dtype=torch.float32)
    fb = torch.as_tensor(fallback, dtype=torch.float32)
    if fb.ndim == 1 and fb.numel() == 3:
        return fb.reshape(1, 3, 1, 1).expand_as(x).clone()
    if fb.ndim == 4 and fb.shape[-2:] != x.shape[-2:] and fb.shape[-2:] == x.shape[-2:][::-1]:
        fb = fb.transpose(-1, -2)  # a landscape mean image scores a portrait picture too
    try:
        return fb.expand_as(x).clone()
    except RuntimeError:
        raise ValueError(
            f"fallback must be a grey level, an RGB colour (3,) or an image shaped like the input "
            f"{tuple(x.shape)}, got shape {tuple(fb.shape)}"
        ) from None


def select_mcs(x: torch.Tensor, codec: str, snr_db: float, channel_uses: int, channel=None,
               chroma=None, fallback=0.5, cache: RateControlCache | None = None,
               count: str = "bitstream", downscale: bool = False):
    """The MCS maximising the expected PSNR of image ``x`` ``(1, 3, H, W)`` at ``snr_db``.

    For each MCS the budget is its payload in ``channel_uses``; the success probability
    ``P_ok`` of all the image's codewords comes from the BLER table
    (:func:`~jscc_lab.baselines.image_success_probability`), and the PSNR at that budget from
    actually encoding the image (cached). Only the fastest MCS with ``P_ok >= 0.999`` and the
    faster ones with ``P_ok >= 0.01`` are encoded; slower safe ones can only score lower.
    Returns ``(mcs, expected_psnr)``.
    """
    fail_psnr = float(psnr(x, _fallback_image(fallback, x)))
    usable = [m for m in MCS_TABLE if m.codewords(channel_uses) > 0]
    if not usable:
        return MCS_TABLE[0], fail_psnr
    p_max = {m.name: image_success_probability(m, snr_db, m.codewords(channel_uses), channel)
             for m in usable}
    safe = [m for m in usable if p_max[m.name] >= 0.999]
    floor_rate = safe[-1].spectral_efficiency if safe else -1.0
    candidates = [m for m in usable if (safe and m is safe[-1])
                  or (m.spectral_efficiency > floor_rate and p_max[m.name] >= 0.01)]
    if not candidates:  # nothing gets through: send the most robust scheme
        return usable[0], fail_psnr
    best, best_score = candidates[0], -math.inf
    for m in candidates:
        rc = encode_to_budget(x, codec, m.payload_bits(channel_uses), chroma=chroma, cache=cache,
                              count=count, downscale=downscale)
        if not bool(rc.fits[0]):
            score = fail_psnr
        else:
            n_cw = -(-int(rc.bits[0]) // m.k)
            p_ok = image_success_probability(m, snr_db, n_cw, channel)
            score = p_ok * float(psnr(x, rc.x_hat)) + (1.0 - p_ok) * fail_psnr
        if score > best_score:
            best, best_score = m, score
    return best, best_score


def _bytes_to_bits(data: bytes, n_cw: int, k: int) -> torch.Tensor:
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    padded = np.zeros(n_cw * k, dtype=np.uint8)
    padded[: bits.size] = bits
    return torch.from_numpy(padded.reshape(n_cw, k))


def _bits_to_bytes(bits: torch.Tensor, n_bytes: int) -> bytes:
    flat = bits.reshape(-1)[: 8 * n_bytes].to(torch.uint8).numpy()
    return np.packbits(flat).tobytes()


def separate_transmit(images, codec: str = "hevc", cbr=1 / 48, snr_db=10.0, channel=None,
                      channel_code: str = "capacity", mcs=None, chroma=None, generator=None,
                      fallback=0.5, outage: float = 0.1, num_iter: int = 20,
                      cache: RateControlCache | None = None, progress: bool = False,
                      count: str = "bitstream", downscale: bool = False) -> SeparateResult:
    """Send images with a real codec and an ideal or a 5G LDPC channel code (see module doc).

    Parameters
    ----------
    images : ``(N, 3, H, W)`` float in ``[0, 1]``, or a list of ``(1, 3, H, W)`` (sizes may differ).
    codec : ``"hevc"`` (BPG stand-in, alias ``"bpg"``), ``"jpeg"``, ``"webp"`` or ``"avif"``.
    cbr : channel bandwidth ratio ``k / (3HW)`` > 0; ``k = floor(cbr * 3HW)`` complex uses.
    snr_db : float or ``(N,)`` tensor, average SNR in dB (finite).
    channel : :class:`~jscc_lab.channels.AWGN` (default) or
        :class:`~jscc_lab.channels.RayleighFading` (``csi="perfect"`` for ``"ldpc"``).
    channel_code : ``"capacity"`` (ideal bound) or ``"ldpc"`` (Sionna 5G LDPC + QAM).
    mcs : ``None`` (best MCS per image) or a fixed MCS name such as ``"16qam-1/2"`` (``"ldpc"`` only).
    chroma : ``"420"``, ``"444"`` or ``"auto"`` (the better of the two per image at its budget);
        default :data:`~jscc_lab.baselines.codecs.DEFAULT_CHROMA`.
    generator : ``torch.Generator`` or int seed (channel noise, fades, padding).
    fallback : reconstruction of a failed image: grey level, RGB colour ``(3,)`` or an image.
    outage : block fading with ``"capacity"``: target outage probability of the rate chosen.
    num_iter : LDPC belief-propagation iterations.
    cache : :class:`RateControlCache` shared across calls (default: the process-wide one).
    progress : show a tqdm bar over the images' rate control.
    count : source bits counted as ``"bitstream"`` (BPG header + coded bitstream, the default, as
        the literature counts BPG) or ``"file"`` (the whole HEIF file, container included).
    downscale : ``True`` codes an image that does not fit its budget at the lowest quality at 1/2
        or 1/4 size, upsampled at the receiver (:func:`~jscc_lab.baselines.encode_to_budget`).

    Output: a :class:`SeparateResult`.
    """
    spec, chroma = _get_codec(codec, chroma)
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")
    xs, as_list = _as_list(images)
    cbr = _check_cbr(cbr)
    snr = _check_snrs(snr_db, len(xs))
    channel = _check_channel(channel)
    if channel_code not in CHANNEL_CODES:
        raise ValueError(f"channel_code must be one of {CHANNEL_CODES}, got {channel_code!r}")
    if mcs is not None and channel_code != "ldpc":
        raise ValueError('mcs applies to channel_code="ldpc" only; leave mcs=None for "capacity"')
    fixed_mcs = get_mcs(mcs) if mcs is not None else None
    if channel_code == "ldpc" and isinstance(channel, RayleighFading) and channel.csi != "perfect":
        raise ValueError('channel must be RayleighFading(csi="perfect") for channel_code="ldpc" '
                         "(coherent QAM needs the gains at the receiver)")
    g = make_generator(generator)
    n = len(xs)
    k_uses = [int(math.floor(cbr * 3 * x.shape[-1] * x.shape[-2])) for x in xs]
    if min(k_uses) < 1:
        raise ValueError(f"cbr={cbr:.4g} gives fewer than one channel use for a "
                         f"{tuple(xs[0].shape[-2:])} image; raise cbr or use larger images")
    fallbacks = [_fallback_image(fallback, x) for x in xs]
    x_hat = [fb.clone() for fb in fallbacks]
    bits = torch.zeros(n, dtype=torch.int64)
    budget = torch.zeros(n, dtype=torch.int64)
    quality = torch.full((n,), -1, dtype=torch.int64)
    codewords = torch.zeros(n, dtype=torch.int64)
    cw_errors = torch.zeros(n, dtype=torch.int64)
    failed = torch.zeros(n, dtype=torch.bool)
    reason = [""] * n
    mcs_used: list = [None] * n
    files: list = [b""] * n
    sent_bytes: list = [b""] * n  # what is counted and sent: BPG header + bitstream (or the file)
    chromas: list = [""] * n
    scales: list = [0] * n
    decoded: list = [None] * n  # reconstruction of each coded image, at full size

    from tqdm.auto import tqdm

    # 1. source coding at each image's budget (choosing the MCS first for "ldpc")
    for i in tqdm(range(n), desc=f"{spec.name} rate control", disable=not progress, leave=False):
        if channel_code == "capacity":
            budget[i] = int(capacity_bits(k_uses[i], float(snr[i]), channel, outage))
        else:
            chosen = fixed_mcs or select_mcs(xs[i], spec.name, float(snr[i]), k_uses[i], channel,
                                             chroma, fallback, cache, count, downscale)[0]
            mcs_used[i] = chosen.name
            budget[i] = chosen.payload_bits(k_uses[i])
        if budget[i] <= 0:
            failed[i], reason[i] = True, "budget"
            continue
        rc = encode_to_budget(xs[i], spec.name, int(budget[i]), chroma=chroma, cache=cache,
                              count=count, downscale=downscale)
        if not bool(rc.fits[0]):
            failed[i], reason[i] = True, "budget"
            continue
        bits[i], quality[i], files[i], sent_bytes[i] = rc.bits[0], rc.quality[0], rc.data[0], rc.sent[0]
        chromas[i], scales[i] = rc.chroma[0], rc.scale[0]
        x_hat[i] = decoded[i] = rc.x_hat

    # 2. the channel
    sent = [i for i in range(n) if not failed[i]]
    if channel_code == "capacity" and isinstance(channel, RayleighFading) and channel.mode == "block" and sent:
        # the fades of these images (drawn by the channel itself): outage if capacity < rate used
        ones = torch.ones(len(sent), 1, dtype=torch.complex64)
        _, h = channel(ones, snr[sent], generator=g, return_gains=True)
        carried = torch.tensor(k_uses)[sent] * instantaneous_capacity(h[:, 0], snr[sent])
        for j, i in enumerate(sent):
            if carried[j] < bits[i]:
                failed[i], reason[i], x_hat[i] = True, "outage", fallbacks[i].clone()
    elif channel_code == "ldpc" and sent:
        groups: dict = {}
        for i in sent:
            groups.setdefault((mcs_used[i], k_uses[i]), []).append(i)
        for (name, k), members in sorted(groups.items()):
            link = LDPCLink(name, num_iter=num_iter)
            n_cw = [-(-int(bits[i]) // link.mcs.k) for i in members]
            m_max = max(n_cw)
            payload = torch.randint(0, 2, (len(members), m_max, link.mcs.k), generator=g, dtype=torch.uint8)
            for j, i in enumerate(members):  # unused codeword slots keep random filler bits
                payload[j, : n_cw[j]] = _bytes_to_bits(sent_bytes[i], n_cw[j], link.mcs.k)
            bits_hat, ok = link(payload, channel, snr[members], channel_uses=k, generator=g)
            for j, i in enumerate(members):
                codewords[i] = n_cw[j]
                cw_errors[i] = int((~ok[j, : n_cw[j]]).sum())
                if cw_errors[i]:
                    failed[i], reason[i], x_hat[i] = True, "decoding", fallbacks[i].clone()
                else:  # every codeword passed the genie CRC: the received bytes are those sent
                    received = _bits_to_bytes(bits_hat[j, : n_cw[j]], len(sent_bytes[i]))
                    if received != sent_bytes[i]:
                        raise RuntimeError("LDPC reported success but the bytes differ")
                    x_hat[i] = decoded[i]  # the received bytes are the coded data: its decoding

    return SeparateResult(
        x_hat=x_hat if as_list else torch.cat(x_hat),
        bits=bits, budget_bits=budget, channel_uses=torch.tensor(k_uses, dtype=torch.int64),
        quality=quality, mcs=mcs_used, failed=failed, reason=reason, codewords=codewords,
        codeword_errors=cw_errors, snr_db=snr, cbr=cbr, codec=spec.name, channel_code=channel_code,
        chroma=chromas, count=count, scale=scales,
    )


class SeparateCoding:
    """A separate-coding system as one callable block, for sweeps that treat every system alike.

    Parameters
    ----------
    codec, channel_code, channel, mcs, chroma, fallback, outage, num_iter, cache :
        as in :func:`separate_transmit`.

    Input: ``images``, ``snr_db``, ``cbr`` (positional, the order of
    :func:`jscc_lab.evaluate.sweep`'s callables) and ``generator=None``.
    Output: a :class:`SeparateResult` (its ``x_hat`` is the reconstruction).

    Example
    -------
    >>> import torch
    >>> bpg_ldpc = SeparateCoding("hevc", "ldpc")
    >>> bpg_ldpc
    SeparateCoding(codec='hevc', channel_code='ldpc', mcs=None)
    """

    def __init__(self, codec: str = "hevc", channel_code: str = "ldpc", channel=None, mcs=None,
                 **kwargs):
        spec, _ = _get_codec(codec, kwargs.get("chroma"))
        if channel_code not in CHANNEL_CODES:
            raise ValueError(f"channel_code must be one of {CHANNEL_CODES}, got {channel_code!r}")
        self.codec, self.channel_code = spec.name, channel_code
        self.channel = _check_channel(channel)
        self.mcs = None if mcs is None else get_mcs(mcs).name
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"SeparateCoding(codec={self.codec!r}, channel_code={self.channel_code!r}, mcs={self.mcs!r})"

    def __call__(self, images, snr_db, cbr, generator=None) -> SeparateResult:
        return separate_transmit(images, codec=self.codec, cbr=cbr, snr_db=snr_db,
                                 channel=self.channel, channel_code=self.channel_code, mcs=self.mcs,
                                 generator=generator, **self.kwargs)
