"""Image codecs at a bit budget: the *source coding* half of separate source-channel coding.

Codecs (``codec=`` names):

=========  =====================================================  ===================  ========
name       encoder                                                chroma               quality
=========  =====================================================  ===================  ========
``jpeg``   Pillow libjpeg, optimised Huffman tables               ``420`` / ``444``    1 ... 95
``webp``   Pillow libwebp (lossy, ``method=4``)                   ``420`` only         0 ... 100
``hevc``   HEVC intra (x265) in a HEIF file via ``pillow-heif``   ``420`` / ``444``    0 ... 100
``avif``   AV1 intra (libaom) in an AVIF file, ``pillow-avif``    ``420`` / ``444``    0 ... 100
=========  =====================================================  ===================  ========

``hevc`` (alias ``bpg``, ``heif``) is our **stand-in for BPG**: BPG is HEVC intra coding in a
small custom container, the codec every deep JSCC paper compares against, but has no maintained
Python binding; ``pillow-heif`` ships the same x265 encoder. The bits counted are the **whole
file** a standard reader needs, HEIF container included (~350 bytes: ``ftyp`` + ``meta`` with the
HEVC parameter sets; BPG's header is smaller, so at the lowest budgets this slightly
handicaps our stand-in). Default chroma is 4:2:0, as for BPG.

Rate control: the largest quality whose bitstream fits the budget, found by bisection on the
integer quality, sped up by interpolating ``log(size)`` (see :func:`_fit_one`). File size grows
with quality; the returned encoding is always checked to fit, so the budget holds even where that
is not strictly monotone. An image that does not fit even at the lowest quality is a **failure**
(``fits = False``, no bits sent), never sent over budget.
Results are cached per (image, codec, chroma, budget) and every probe per (image, codec,
chroma, quality), in a :class:`RateControlCache`, so sweeps over SNR reuse them.

Example
-------
>>> from jscc_lab.data import sample_images
>>> from jscc_lab.baselines import encode_to_budget
>>> x = sample_images(["astronaut"])[0][..., :128, :128]
>>> r = encode_to_budget(x, "jpeg", max_bits=8000)
>>> bool(r.bits[0] <= 8000), r.x_hat.shape
(True, torch.Size([1, 3, 128, 128]))
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..data import to_image, to_tensor

__all__ = [
    "CODECS",
    "codec_names",
    "encode",
    "decode",
    "encode_to_budget",
    "RateControlResult",
    "RateControlCache",
    "default_cache",
]


@dataclass(frozen=True)
class _Codec:
    name: str
    pil_format: str
    q_min: int
    q_max: int
    chromas: tuple[str, ...]


CODECS: dict[str, _Codec] = {
    "jpeg": _Codec("jpeg", "JPEG", 1, 95, ("420", "444")),
    "webp": _Codec("webp", "WEBP", 0, 100, ("420",)),
    "hevc": _Codec("hevc", "HEIF", 0, 100, ("420", "444")),
    "avif": _Codec("avif", "AVIF", 0, 100, ("420", "444")),
}
_X265_PARAMS = {"x265:pools": "none", "x265:frame-threads": "1"}
_ALIASES = {"bpg": "hevc", "heif": "hevc", "heic": "hevc", "jpg": "jpeg"}


def codec_names() -> list[str]:
    """The valid ``codec=`` names (aliases: ``bpg``/``heif`` -> ``hevc``, ``jpg`` -> ``jpeg``)."""
    return list(CODECS)


def _get_codec(codec, chroma) -> tuple[_Codec, str]:
    key = _ALIASES.get(str(codec).lower(), str(codec).lower()) if isinstance(codec, str) else None
    if key not in CODECS:
        raise ValueError(f"codec must be one of {codec_names()} (or bpg/heif), got {codec!r}")
    spec = CODECS[key]
    chroma = "420" if chroma is None else str(chroma).replace(":", "")
    if chroma not in spec.chromas:
        raise ValueError(f"chroma must be one of {list(spec.chromas)} for codec {key!r}, got {chroma!r}")
    return spec, chroma


_registered = False


def _register_plugins() -> None:
    global _registered
    if not _registered:
        import pillow_avif  # noqa: F401  (registers format="AVIF" with Pillow)
        import pillow_heif

        pillow_heif.register_heif_opener()
        _registered = True


def encode(image: Image.Image, codec: str = "hevc", quality: int = 50, chroma=None) -> bytes:
    """Encode one PIL RGB image at an integer ``quality``; returns the file's bytes."""
    spec, chroma = _get_codec(codec, chroma)
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not (
        spec.q_min <= quality <= spec.q_max
    ):
        raise ValueError(f"quality must be an int in [{spec.q_min}, {spec.q_max}] for {spec.name}, got {quality!r}")
    _register_plugins()
    buf = io.BytesIO()
    if spec.name == "jpeg":
        image.save(buf, format="JPEG", quality=int(quality), optimize=True,
                   subsampling=0 if chroma == "444" else 2)
    elif spec.name == "webp":
        image.save(buf, format="WEBP", quality=int(quality), method=4)
    elif spec.name == "hevc":
        # x265 single-threaded: its thread pool stalls badly on a busy 2-core machine
        image.save(buf, format="HEIF", quality=int(quality), chroma=int(chroma),
                   save_nclx_profile=False, enc_params=dict(_X265_PARAMS))
    else:
        image.save(buf, format="AVIF", quality=int(quality), subsampling=f"{chroma[0]}:{chroma[1]}:{chroma[2]}")
    return buf.getvalue()


def decode(data: bytes) -> torch.Tensor:
    """Decode a file's bytes (any of the codecs) to a ``(1, 3, H, W)`` tensor."""
    _register_plugins()
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return to_tensor(img.convert("RGB"))


class RateControlCache:
    """Memo of rate-control work: probe sizes and chosen encodings, keyed by image content.

    Keys hold a SHA-1 of the image's 8-bit pixels, so the same picture sent at many SNRs (same
    budget) is encoded once. Bounded LRU (``max_entries`` chosen encodings; sizes are tiny).
    """

    def __init__(self, max_entries: int = 20_000):
        self.max_entries = int(max_entries)
        self.sizes: OrderedDict = OrderedDict()  # (img, codec, chroma) -> {quality: bits}
        self.results: OrderedDict = OrderedDict()  # (img, codec, chroma, budget) -> (q, data)
        self.hits = 0
        self.encodes = 0

    def _put(self, store: OrderedDict, key, value) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.max_entries:
            store.popitem(last=False)

    def probes(self, img_key, codec: str, chroma: str) -> dict:
        """The ``{quality: bits}`` measured so far for one image and codec setting."""
        key = (img_key, codec, chroma)
        if key not in self.sizes:
            self._put(self.sizes, key, {})
        self.sizes.move_to_end(key)
        return self.sizes[key]

    def clear(self) -> None:
        self.sizes.clear()
        self.results.clear()
        self.hits = self.encodes = 0

    def __repr__(self) -> str:
        return (f"RateControlCache({len(self.results)} results, {len(self.sizes)} probes, "
                f"{self.hits} hits, {self.encodes} encodes)")


_DEFAULT_CACHE = RateControlCache()


def default_cache() -> RateControlCache:
    """The process-wide cache used when no ``cache=`` is given (``.clear()`` it to start afresh)."""
    return _DEFAULT_CACHE


@dataclass
class RateControlResult:
    """Output of :func:`encode_to_budget` for ``N`` images.

    Attributes
    ----------
    x_hat : decoded images, ``(N, 3, H, W)`` (or a list of ``(1, 3, H, W)`` if given a list);
        an image that did not fit is all zeros here (the caller decides how to score it).
    bits : ``(N,)`` int64 file size in bits (0 where it did not fit).
    budget : ``(N,)`` int64 the budgets asked for.
    quality : ``(N,)`` int64 codec quality used (-1 where it did not fit).
    fits : ``(N,)`` bool.
    data : list of the files' bytes (``b""`` where it did not fit).
    """

    x_hat: torch.Tensor | list
    bits: torch.Tensor
    budget: torch.Tensor
    quality: torch.Tensor
    fits: torch.Tensor
    data: list


def _image_key(x: torch.Tensor) -> tuple[str, int, int]:
    u8 = (x.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    return hashlib.sha1(np.ascontiguousarray(u8).tobytes()).hexdigest(), u8.shape[-2], u8.shape[-1]


def _fit_one(x: torch.Tensor, spec: _Codec, chroma: str, budget: int, cache: RateControlCache):
    """Largest quality whose file fits ``budget`` bits -> ``(quality, bytes)`` or ``(-1, b"")``.

    A bracket search on the integer quality: ``lo`` fits, ``hi`` does not (``q_max + 1`` stands
    for "unknown"). Each step guesses by interpolating ``log(size)``, linear in quality to a good
    approximation, and falls back to halving when a guess does not halve the bracket. Probes of
    the same image at other budgets (cached) narrow the bracket before any encoding.
    """
    img_key = _image_key(x)
    key = (img_key, spec.name, chroma, budget)
    if key in cache.results:
        cache.hits += 1
        cache.results.move_to_end(key)
        return cache.results[key]
    probes = cache.probes(img_key, spec.name, chroma)  # quality -> bits, shared across budgets
    image = to_image(x)
    chosen: dict[int, bytes] = {}

    def size(q: int) -> int:
        if q not in probes:
            data = encode(image, spec.name, q, chroma)
            cache.encodes += 1
            probes[q] = 8 * len(data)
            if probes[q] <= budget:
                chosen[q] = data
        return probes[q]

    fitting = [q for q, b in probes.items() if b <= budget]
    lo = max(fitting, default=None)
    if lo is None:
        if size(spec.q_min) > budget:
            cache._put(cache.results, key, (-1, b""))
            return cache.results[key]
        lo = spec.q_min
    hi = min((q for q, b in probes.items() if q > lo and b > budget), default=spec.q_max + 1)
    halve = False
    while hi - lo > 1:
        if hi > spec.q_max or halve:
            q = (lo + hi) // 2
        else:
            t = (math.log(budget) - math.log(probes[lo])) / (math.log(probes[hi]) - math.log(probes[lo]))
            q = min(max(round(lo + t * (hi - lo)), lo + 1), hi - 1)
        width = hi - lo
        if size(q) <= budget:
            lo = q
        else:
            hi = q
        halve = (hi - lo) > width / 2 and not halve
    data = chosen.get(lo) or encode(image, spec.name, lo, chroma)
    result = (lo, data) if 8 * len(data) <= budget else (-1, b"")
    cache._put(cache.results, key, result)
    return result


def _as_list(images) -> tuple[list[torch.Tensor], bool]:
    if isinstance(images, torch.Tensor):
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(images.shape)}")
        return [im.unsqueeze(0) for im in images], False
    if isinstance(images, (list, tuple)) and images and all(isinstance(t, torch.Tensor) for t in images):
        out = [t if t.ndim == 4 else t.unsqueeze(0) for t in images]
        for i, t in enumerate(out):
            if t.shape[0] != 1 or t.shape[1] != 3:
                raise ValueError(f"images[{i}] must have shape (1, 3, H, W), got {tuple(t.shape)}")
        return out, True
    raise TypeError("images must be a (N, 3, H, W) tensor or a non-empty list of (1, 3, H, W) tensors")


def _budgets(max_bits, n: int) -> list[int]:
    values = max_bits.tolist() if isinstance(max_bits, torch.Tensor) else max_bits
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        values = [values] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"max_bits must be a number or hold one budget per image ({n}), got {len(values)}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"max_bits must be finite and > 0 (bits per image), got {v!r}")
        out.append(int(v))
    return out


def encode_to_budget(images, codec: str = "hevc", max_bits=None, chroma=None,
                     cache: RateControlCache | None = None) -> RateControlResult:
    """Encode each image at the largest quality whose file fits its bit budget.

    Parameters
    ----------
    images : ``(N, 3, H, W)`` float in ``[0, 1]``, or a list of ``(1, 3, H, W)`` (sizes may differ).
    codec : ``"jpeg"``, ``"webp"``, ``"hevc"`` (BPG stand-in; alias ``"bpg"``) or ``"avif"``.
    max_bits : budget in bits, one number or one per image; must be > 0.
    chroma : ``"420"`` (default) or ``"444"`` where the codec allows it.
    cache : a :class:`RateControlCache` (default: :func:`default_cache`).

    Output: a :class:`RateControlResult`; ``bits <= max_bits`` always holds.
    """
    spec, chroma = _get_codec(codec, chroma)
    xs, as_list = _as_list(images)
    if max_bits is None:
        raise ValueError("max_bits must be given: the bit budget per image (> 0)")
    budgets = _budgets(max_bits, len(xs))
    cache = _DEFAULT_CACHE if cache is None else cache
    quality, data, x_hat = [], [], []
    for x, budget in zip(xs, budgets):
        q, d = _fit_one(x, spec, chroma, budget, cache)
        quality.append(q)
        data.append(d)
        x_hat.append(decode(d) if d else torch.zeros_like(x, dtype=torch.float32))
    bits = torch.tensor([8 * len(d) for d in data], dtype=torch.int64)
    return RateControlResult(
        x_hat=x_hat if as_list else torch.cat(x_hat),
        bits=bits,
        budget=torch.tensor(budgets, dtype=torch.int64),
        quality=torch.tensor(quality, dtype=torch.int64),
        fits=torch.tensor([q >= 0 for q in quality]),
        data=data,
    )
