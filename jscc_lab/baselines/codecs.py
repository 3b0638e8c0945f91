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
Python binding; ``pillow-heif`` ships the same x265 encoder.

**Bits counted** (``count=``), as the literature counts BPG:

* ``"bitstream"`` (default for ``hevc`` and ``avif``): the coded bitstream, i.e. the codec's
  parameter sets (HEVC VPS / SPS / PPS from the ``hvcC`` box; AV1 sequence header from ``av1C``)
  and the coded picture data (the ``mdat`` payload), each NAL unit with a 4-byte length, plus a
  **BPG header** of 6 + 3 variable-length bytes (magic, pixel format, colour space and flags, then
  width, height and data length as ``ue7`` numbers: 12 bytes for a 768x512 picture of under
  16 kB; :func:`bpg_header`). That is what a BPG file of the same HEVC data costs (BPG even
  compacts the parameter sets further, so this count is a few bytes conservative).
* ``"file"``: the whole file a standard reader opens, container included. A HEIF file adds about
  360 bytes (``ftyp`` 28, ``meta`` ~320 of which ~120 are the parameter sets, ``mdat`` header 8):
  40 % of the budget of a 256x256 crop at CBR 1/96 and 10 dB. Tutorial 02 shows what it costs.

JPEG and WebP always count the file (their headers are the bitstream's own).
Default chroma is 4:2:0, as for BPG; x265 runs with ``tune=psnr`` (no psycho-visual tuning: the
baselines are judged on PSNR first), :data:`X265_PARAMS`.

Rate control: the largest quality whose bitstream fits the budget, found by bisection on the
integer quality, sped up by interpolating ``log(size)`` (see :func:`_fit_one`). File size grows
with quality; the returned encoding is always checked to fit, so the budget holds even where that
is not strictly monotone. An image that does not fit even at the lowest quality is a **failure**
(``fits = False``, no bits sent), never sent over budget; with ``downscale=True`` it is coded at
half, then a quarter of its width and height instead (``scale`` 2 or 4; the header counts the
coded size) and upsampled by the receiver, as a practical sender might.
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
    "COUNTS",
    "DEFAULT_CHROMA",
    "X265_PARAMS",
    "bpg_header",
    "coded_bitstream",
    "counted_bytes",
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
#: libheif / x265 settings for ``hevc``: single-threaded (x265's pool stalls on a busy small
#: machine) and tuned for PSNR (``tune=psnr`` turns off psycho-visual RDO and adaptive quantisation).
X265_PARAMS = {"x265:pools": "none", "x265:frame-threads": "1", "tune": "psnr"}
COUNTS = ("bitstream", "file")
#: downscaling factors tried in turn (``downscale=True``) when an image does not fit its budget
#: even at the lowest quality: the sender codes a smaller image, the receiver upsamples it.
DOWNSCALES = (1, 2, 4)
#: chroma format used when none is given: ``"auto"`` for HEVC (per image the better of 4:2:0
#: and 4:4:4 at the budget), ``"420"`` otherwise. Measured on Kodak-24 in docs/results.md.
DEFAULT_CHROMA = {"hevc": "auto"}
_ALIASES = {"bpg": "hevc", "heif": "hevc", "heic": "hevc", "jpg": "jpeg"}


def codec_names() -> list[str]:
    """The valid ``codec=`` names (aliases: ``bpg``/``heif`` -> ``hevc``, ``jpg`` -> ``jpeg``)."""
    return list(CODECS)


def _get_codec(codec, chroma) -> tuple[_Codec, str]:
    key = _ALIASES.get(str(codec).lower(), str(codec).lower()) if isinstance(codec, str) else None
    if key not in CODECS:
        raise ValueError(f"codec must be one of {codec_names()} (or bpg/heif), got {codec!r}")
    spec = CODECS[key]
    chroma = DEFAULT_CHROMA.get(key, "420") if chroma is None else str(chroma).replace(":", "")
    allowed = list(spec.chromas) + (["auto"] if len(spec.chromas) > 1 else [])
    if chroma not in allowed:
        raise ValueError(f"chroma must be one of {allowed} for codec {key!r}, got {chroma!r}")
    return spec, chroma


_registered = False


def _register_plugins() -> None:
    global _registered
    if not _registered:
        import pillow_avif  # noqa: F401  (registers format="AVIF" with Pillow)
        import pillow_heif

        pillow_heif.register_heif_opener()
        _registered = True


def encode(image: Image.Image, codec: str = "hevc", quality: int = 50, chroma=None,
           x265_params: dict | None = None) -> bytes:
    """Encode one PIL RGB image at an integer ``quality``; returns the file's bytes.

    ``chroma``: ``"420"`` (default) or ``"444"`` where the codec allows it. ``x265_params``
    (``hevc`` only): libheif encoder settings over :data:`X265_PARAMS`, e.g. ``{"preset":
    "veryslow"}`` or ``{"x265:rskip": "0"}`` (any x265 option behind the ``x265:`` prefix)."""
    spec, chroma = _get_codec(codec, "420" if chroma is None else chroma)
    if x265_params and spec.name != "hevc":
        raise ValueError(f"x265_params apply to codec 'hevc' only, got codec {spec.name!r}")
    if chroma == "auto":
        raise ValueError('chroma="auto" chooses at a bit budget: use encode_to_budget, or give "420" / "444"')
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
                   save_nclx_profile=False, enc_params={**X265_PARAMS, **(x265_params or {})})
    else:
        image.save(buf, format="AVIF", quality=int(quality), subsampling=f"{chroma[0]}:{chroma[1]}:{chroma[2]}")
    return buf.getvalue()


def decode(data: bytes) -> torch.Tensor:
    """Decode a file's bytes (any of the codecs) to a ``(1, 3, H, W)`` tensor."""
    _register_plugins()
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return to_tensor(img.convert("RGB"))


def _boxes(data: bytes, start: int, end: int):
    """ISO-BMFF boxes in ``data[start:end]`` -> ``[(type, payload_start, box_end)]``."""
    out = []
    while start + 8 <= end:
        size, kind = int.from_bytes(data[start:start + 4], "big"), data[start + 4:start + 8]
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[start + 8:start + 16], "big"), 16
        elif size == 0:
            size = end - start
        if size < header or start + size > end:
            raise ValueError("not an ISO-BMFF (HEIF / AVIF) file: a box overruns the file")
        out.append((kind.decode("latin-1"), start + header, start + size))
        start += size
    return out


def _find(data: bytes, boxes, kind: str):
    hits = [b for b in boxes if b[0] == kind]
    if len(hits) != 1:
        raise ValueError(f"expected one {kind!r} box in the file, found {len(hits)}")
    return hits[0]


def coded_bitstream(data: bytes) -> bytes:
    """The coded bitstream inside a HEIF (HEVC) or AVIF (AV1) file of one picture.

    HEVC: the parameter-set NAL units of the ``hvcC`` box, each with a 4-byte length (the form the
    ``mdat`` uses), then the ``mdat`` payload (the picture's slice NAL units). AV1: the ``av1C``
    configuration OBUs, then the ``mdat`` payload. Output: bytes a decoder needs besides the
    container. Raises ``ValueError`` for a file with several pictures (a grid or a thumbnail).
    """
    top = _boxes(data, 0, len(data))
    _, m0, m1 = _find(data, top, "mdat")
    _, meta0, meta1 = _find(data, top, "meta")
    meta = _boxes(data, meta0 + 4, meta1)  # full box: 4 bytes of version and flags
    _, p0, p1 = _find(data, meta, "iprp")
    _, c0, c1 = _find(data, _boxes(data, p0, p1), "ipco")
    props = _boxes(data, c0, c1)
    configs = [b for b in props if b[0] in ("hvcC", "av1C")]
    if len(configs) != 1:
        raise ValueError(f"expected one picture (one hvcC / av1C box), found {len(configs)}")
    kind, b0, b1 = configs[0]
    if kind == "av1C":
        return data[b0 + 4:b1] + data[m0:m1]
    pos, units = b0 + 23, []  # 22 bytes of configuration, then numOfArrays
    for _ in range(data[b0 + 22]):  # per array: NAL type (1), numNalus (2), (length (2), NAL)*
        count, pos = int.from_bytes(data[pos + 1:pos + 3], "big"), pos + 3
        for _ in range(count):
            length = int.from_bytes(data[pos:pos + 2], "big")
            units.append(length.to_bytes(4, "big") + data[pos + 2:pos + 2 + length])
            pos += 2 + length
    if pos != b1:
        raise ValueError("malformed hvcC box: its NAL arrays do not fill it")
    return b"".join(units) + data[m0:m1]


def _ue7(value: int) -> bytes:
    """BPG's ``ue7`` number: 7 bits per byte, most significant first, top bit = more follows."""
    groups = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        groups.append(value & 0x7F)
    return bytes([g | 0x80 for g in reversed(groups[1:])] + [groups[0]])


def bpg_header(width: int, height: int, data_length: int, chroma: str = "420") -> bytes:
    """The header a BPG file puts before ``data_length`` bytes of HEVC data (BPG spec 0.9.5).

    Magic ``BPG\xfb``; pixel format (4:2:0 = 1, 4:4:4 = 3), no alpha, 8 bits; YCbCr, no
    extensions, full range; then width, height and data length as ``ue7`` numbers.
    ``len(bpg_header(768, 512, 9000)) == 12``.
    """
    pixel_format = {"420": 1, "444": 3}[chroma]
    return (b"BPG\xfb" + bytes([pixel_format << 5, 0]) + _ue7(width) + _ue7(height)
            + _ue7(data_length))


def counted_bytes(data: bytes, codec: str, chroma: str, count: str, size: tuple[int, int]) -> bytes:
    """The bytes that are counted and sent for one encoded file (see the module doc).

    ``"file"`` (or JPEG / WebP): the file. ``"bitstream"``: :func:`bpg_header` +
    :func:`coded_bitstream` for HEVC, the same for AV1. ``size`` is ``(H, W)``.
    """
    if count == "file" or codec in ("jpeg", "webp"):
        return data
    stream = coded_bitstream(data)
    return bpg_header(size[1], size[0], len(stream), chroma) + stream


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
    bits : ``(N,)`` int64 bits counted (0 where it did not fit): see ``sent``.
    budget : ``(N,)`` int64 the budgets asked for.
    quality : ``(N,)`` int64 codec quality used (-1 where it did not fit).
    fits : ``(N,)`` bool.
    data : list of the files' bytes (``b""`` where it did not fit).
    sent : list of the bytes counted and sent (:func:`counted_bytes`: BPG header + bitstream, or
        the file with ``count="file"``); ``bits == 8 * len(sent)``.
    chroma : list of the chroma format used per image (``""`` where it did not fit).
    count : ``"bitstream"`` or ``"file"``.
    scale : list of the downscaling factor per image: 1 (full size), 2 or 4 (coded smaller and
        upsampled), 0 where it did not fit.
    """

    x_hat: torch.Tensor | list
    bits: torch.Tensor
    budget: torch.Tensor
    quality: torch.Tensor
    fits: torch.Tensor
    data: list
    sent: list
    chroma: list
    count: str
    scale: list


def _image_key(x: torch.Tensor) -> tuple[str, int, int]:
    u8 = (x.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    return hashlib.sha1(np.ascontiguousarray(u8).tobytes()).hexdigest(), u8.shape[-2], u8.shape[-1]


def _fit_one(x: torch.Tensor, spec: _Codec, chroma: str, budget: int, cache: RateControlCache,
             count: str = "bitstream"):
    """Largest quality whose counted bits fit ``budget`` -> ``(quality, file, sent)``, or
    ``(-1, b"", b"")`` when none fits; ``sent`` is :func:`counted_bytes` of ``file``.

    A bracket search on the integer quality: ``lo`` fits, ``hi`` does not (``q_max + 1`` stands
    for "unknown"). Each step guesses by interpolating ``log(size)``, linear in quality to a good
    approximation, and falls back to halving when a guess does not halve the bracket. Probes of
    the same image at other budgets (cached) narrow the bracket before any encoding.
    """
    img_key = _image_key(x)
    key = (img_key, spec.name, chroma, count, budget)
    if key in cache.results:
        cache.hits += 1
        cache.results.move_to_end(key)
        return cache.results[key]
    probes = cache.probes(img_key, spec.name, f"{chroma}/{count}")  # quality -> bits, all budgets
    image = to_image(x)
    size_hw = tuple(x.shape[-2:])
    chosen: dict[int, tuple[bytes, bytes]] = {}

    def encoded(q: int) -> tuple[bytes, bytes]:
        data = encode(image, spec.name, q, chroma)
        cache.encodes += 1
        return data, counted_bytes(data, spec.name, chroma, count, size_hw)

    def size(q: int) -> int:
        if q not in probes:
            data, sent = encoded(q)
            probes[q] = 8 * len(sent)
            if probes[q] <= budget:
                chosen[q] = (data, sent)
        return probes[q]

    fitting = [q for q, b in probes.items() if b <= budget]
    lo = max(fitting, default=None)
    if lo is None:
        if size(spec.q_min) > budget:
            cache._put(cache.results, key, (-1, b"", b""))
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
    data, sent = chosen.get(lo) or encoded(lo)
    result = (lo, data, sent) if 8 * len(sent) <= budget else (-1, b"", b"")
    cache._put(cache.results, key, result)
    return result


def _fit_best(x: torch.Tensor, spec: _Codec, chroma: str, budget: int, cache: RateControlCache,
              count: str):
    """:func:`_fit_one` for one chroma, or for ``"auto"`` the format (4:2:0 or 4:4:4) whose
    fitting encoding has the higher PSNR (an encoder-side choice: the sender has the original).
    Output: ``(quality, file, sent, chroma used, x_hat (1, 3, h, w) or None)`` at ``x``'s size."""
    from ..metrics import psnr

    best = None
    for option in (spec.chromas if chroma == "auto" else (chroma,)):
        q, data, sent = _fit_one(x, spec, option, budget, cache, count)
        if q < 0:
            continue
        x_hat = decode(data)
        score = float(psnr(x, x_hat)) if chroma == "auto" else 0.0
        if best is None or score > best[0]:
            best = (score, q, data, sent, option, x_hat)
    if best is None:
        return -1, b"", b"", "", None
    return best[1:]


def _fit_scaled(x: torch.Tensor, spec: _Codec, chroma: str, budget: int, cache: RateControlCache,
                count: str, downscale: bool):
    """:func:`_fit_best` at full size, then (``downscale``) at 1/2 and 1/4 of each side until one
    fits; the reconstruction is upsampled back (bicubic). Output: ``(quality, file, sent, chroma,
    x_hat (1, 3, H, W) or None, scale)``, ``scale`` 1, 2 or 4 (0 where nothing fits)."""
    h, w = x.shape[-2:]
    for scale in (DOWNSCALES if downscale else (1,)):
        if min(h, w) // scale < 16:
            break
        small = x if scale == 1 else torch.nn.functional.interpolate(
            x.float(), size=(h // scale, w // scale), mode="bicubic", antialias=True).clamp(0, 1)
        q, data, sent, used, x_hat = _fit_best(small, spec, chroma, budget, cache, count)
        if q >= 0:
            if scale > 1:
                x_hat = torch.nn.functional.interpolate(x_hat, size=(h, w), mode="bicubic").clamp(0, 1)
            return q, data, sent, used, x_hat, scale
    return -1, b"", b"", "", None, 0


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
                     cache: RateControlCache | None = None,
                     count: str = "bitstream", downscale: bool = False) -> RateControlResult:
    """Encode each image at the largest quality whose counted bits fit its bit budget.

    Parameters
    ----------
    images : ``(N, 3, H, W)`` float in ``[0, 1]``, or a list of ``(1, 3, H, W)`` (sizes may differ).
    codec : ``"jpeg"``, ``"webp"``, ``"hevc"`` (BPG stand-in; alias ``"bpg"``) or ``"avif"``.
    max_bits : budget in bits, one number or one per image; must be > 0.
    chroma : ``"420"``, ``"444"`` or ``"auto"`` (per image the one with the higher PSNR at the
        budget) where the codec allows them; default :data:`DEFAULT_CHROMA` for the codec.
    cache : a :class:`RateControlCache` (default: :func:`default_cache`).
    count : ``"bitstream"`` (BPG header + coded bitstream, as the literature counts BPG) or
        ``"file"`` (the whole HEIF / AVIF file); see the module doc.
    downscale : ``True`` codes an image that does not fit even at the lowest quality at 1/2, then
        1/4 of its width and height, upsampled by the receiver (bicubic), rather than send
        nothing; ``False`` (default, the literature's BPG baselines) leaves it unsent.

    Output: a :class:`RateControlResult`; ``bits <= max_bits`` always holds.
    """
    spec, chroma = _get_codec(codec, chroma)
    if count not in COUNTS:
        raise ValueError(f"count must be one of {COUNTS}, got {count!r}")
    xs, as_list = _as_list(images)
    if max_bits is None:
        raise ValueError("max_bits must be given: the bit budget per image (> 0)")
    budgets = _budgets(max_bits, len(xs))
    cache = _DEFAULT_CACHE if cache is None else cache
    quality, data, sent, chromas, x_hat, scales = [], [], [], [], [], []
    for x, budget in zip(xs, budgets):
        q, d, b, c, xh, k = _fit_scaled(x, spec, chroma, budget, cache, count, downscale)
        scales.append(k)
        quality.append(q)
        data.append(d)
        sent.append(b)
        chromas.append(c)
        x_hat.append(xh if xh is not None else torch.zeros_like(x, dtype=torch.float32))
    bits = torch.tensor([8 * len(b) for b in sent], dtype=torch.int64)
    return RateControlResult(
        x_hat=x_hat if as_list else torch.cat(x_hat),
        bits=bits,
        budget=torch.tensor(budgets, dtype=torch.int64),
        quality=torch.tensor(quality, dtype=torch.int64),
        fits=torch.tensor([q >= 0 for q in quality]),
        data=data,
        sent=sent,
        chroma=chromas,
        count=count,
        scale=scales,
    )
