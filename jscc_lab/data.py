"""Images in, tensors out: conversions, the bundled sample photos, Kodak, BSDS500, CIFAR-10 and
random-crop training sets.

Image convention (DESIGN.md): ``torch.float32``, shape ``(N, 3, H, W)``, values in ``[0, 1]``.
Loaders of image sets return a list of ``(1, 3, H, W)`` tensors at native size (sizes differ
between images); :func:`center_crop` and :class:`RandomCrops` make batches of one size.

Data sets are looked up under ``$JSCC_LAB_DATA`` (``kodak/``, ``bsds500/{train,val,test}/``,
``cifar10/``); a missing set is downloaded from a pinned source with SHA-256 checks and a progress
bar, unless ``JSCC_LAB_OFFLINE=1``, in which case the error names the folder to fill.

Example
-------
>>> from jscc_lab.data import sample_images, to_image
>>> x = sample_images()[0]          # (1, 3, 512, 512) astronaut, no download
>>> to_image(x).size
(512, 512)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import settings
from .files import DataMissingError, download_file, sha256_of  # noqa: F401  (public here too)

__all__ = [
    "to_tensor",
    "to_image",
    "load_image",
    "load_folder",
    "sample_images",
    "SAMPLE_NAMES",
    "kodak",
    "kodak_crops",
    "bsds500",
    "cifar10",
    "center_crop",
    "RandomCrops",
    "download_file",
    "DataMissingError",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")

# Pinned public copies whose bytes match the SHA-256 list shipped in jscc_lab/datasets.sha256
# (provenance: ../shared/data/README.md of this project).
KODAK_URL = (
    "https://raw.githubusercontent.com/Zelex/images/"
    "0b8a89db599a384124fb991b85d40cfd63c73d58/kodak/{name}"
)
BSDS500_URL = (
    "https://raw.githubusercontent.com/BIDS/BSDS500/"
    "a04b7c6c3a9f0ace74bf205c72a43d32e1c72722/BSDS500/data/images/{split}/{name}"
)
BSDS500_SPLITS = ("train", "val", "test")


def _array_to_float(a: np.ndarray, name: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if a.size and (a.min() < 0.0 or a.max() > 1.0):
            raise ValueError(
                f"{name} is floating point with values in [{a.min():.3g}, {a.max():.3g}]; "
                "float images must lie in [0, 1] (divide 8-bit data by 255)"
            )
        return a
    raise TypeError(
        f"{name} has dtype {a.dtype}; expected uint8, uint16 or float in [0, 1]"
    )


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """PIL image of any common mode -> float32 (H, W, 3) in [0, 1]."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(img, dtype=np.uint16).astype(np.float32) / 65535.0
        return np.repeat(a[..., None], 3, axis=2)
    if img.mode == "I":  # 32-bit ints, as Pillow opens many 16-bit PNGs
        a = np.asarray(img, dtype=np.int64)
        peak = 65535.0 if a.max(initial=0) > 255 else 255.0
        return np.repeat((a.astype(np.float32) / peak)[..., None], 3, axis=2).clip(0, 1)
    if img.mode == "F":  # 32-bit float luminance on Pillow's 0-255 scale (as convert("F") gives)
        a = np.asarray(img, dtype=np.float32) / 255.0
        return _array_to_float(np.repeat(a[..., None], 3, axis=2), "image (mode F, 0-255 scale)")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # composite on white: what a viewer shows for a transparent region
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _one_to_hwc(image, name: str) -> np.ndarray:
    if isinstance(image, Image.Image):
        return _pil_to_array(image)
    if isinstance(image, np.ndarray):
        a = image
        if a.ndim == 2:
            a = a[..., None]
        if a.ndim != 3:
            raise ValueError(f"{name} must be (H, W) or (H, W, C) as an array, got shape {a.shape}")
        if a.shape[2] not in (1, 3, 4) and a.shape[0] in (1, 3, 4):
            raise ValueError(
                f"{name} looks channels-first {a.shape}; numpy images must be (H, W, C)"
            )
        a = _array_to_float(a, name)
        if a.shape[2] == 1:
            a = np.repeat(a, 3, axis=2)
        elif a.shape[2] == 4:  # RGBA: composite on white
            alpha = a[..., 3:4]
            a = a[..., :3] * alpha + (1.0 - alpha)
        elif a.shape[2] != 3:
            raise ValueError(f"{name} must have 1, 3 or 4 channels, got {a.shape[2]}")
        return a
    raise TypeError(
        f"{name} must be a PIL.Image or a numpy array, got {type(image).__name__}"
    )


def to_tensor(images) -> torch.Tensor:
    """PIL image(s) or numpy array(s) -> ``(N, 3, H, W)`` float32 in ``[0, 1]``.

    Accepts one image or a list of same-size images. Grayscale is repeated to 3 channels,
    RGBA / LA / transparent palette images are composited on white, palette and CMYK are
    converted to RGB, 16-bit images are scaled by 1/65535, uint8 by 1/255; float arrays must
    already lie in ``[0, 1]``.
    """
    if isinstance(images, (Image.Image, np.ndarray)):
        images = [images]
    if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
        raise TypeError(
            f"images must be a PIL.Image, a numpy array or a list of them, got {type(images).__name__}"
        )
    if len(images) == 0:
        raise ValueError("images is empty; give at least one image")
    arrays = [_one_to_hwc(im, f"images[{i}]") for i, im in enumerate(images)]
    shapes = {a.shape[:2] for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"images have different sizes {sorted(shapes)}; convert them one at a time or crop "
            "them to one size with jscc_lab.data.center_crop"
        )
    if 0 in arrays[0].shape[:2]:
        raise ValueError(f"images must be at least 1x1 pixels, got {arrays[0].shape[:2]}")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def to_image(x: torch.Tensor):
    """``(3, H, W)`` or ``(N, 3, H, W)`` tensor in ``[0, 1]`` -> PIL image (``N == 1``) or a list.

    Values are clamped to ``[0, 1]`` and rounded to 8 bits.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"x must have shape (N, 3, H, W) or (3, H, W), got {tuple(x.shape)}")
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"x must be a real floating-point image tensor, got dtype {x.dtype}")
    arr = (x.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8)
    arr = arr.permute(0, 2, 3, 1).cpu().numpy()
    if arr.shape[3] == 1:
        arr = arr[..., 0]
    out = [Image.fromarray(a) for a in arr]
    return out[0] if len(out) == 1 else out


def load_image(path) -> torch.Tensor:
    """Read one image file as a ``(1, 3, H, W)`` tensor (any mode handled by :func:`to_tensor`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path}")
    with Image.open(path) as img:
        img.load()
        return to_tensor(img)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_folder(folder) -> list[torch.Tensor]:
    """All images in ``folder`` (sorted by name) as a list of ``(1, 3, H, W)`` tensors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataMissingError(f"image folder {folder} does not exist")
    files = _image_files(folder)
    if not files:
        raise DataMissingError(f"image folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return [load_image(f) for f in files]


def center_crop(x: torch.Tensor, size) -> torch.Tensor:
    """Centre crop ``(N, 3, H, W)`` to ``size`` (int or ``(h, w)``); raises if the image is smaller."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size}")
    if x.shape[-2] < h or x.shape[-1] < w:
        raise ValueError(f"size {(h, w)} is larger than the image {tuple(x.shape[-2:])}")
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]


# ---------------------------------------------------------------------------------------------
# bundled samples (no download)
# ---------------------------------------------------------------------------------------------

SAMPLE_NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def sample_images(names: Sequence[str] = SAMPLE_NAMES) -> list[torch.Tensor]:
    """scikit-image's bundled colour photos as ``(1, 3, H, W)`` tensors; needs no network.

    ``astronaut`` 512x512, ``coffee`` 400x600, ``chelsea`` 300x451, ``rocket`` 427x640.
    """
    import skimage.data

    if isinstance(names, str):
        names = (names,)
    unknown = [n for n in names if n not in SAMPLE_NAMES]
    if unknown:
        raise ValueError(f"unknown sample image(s) {unknown}; valid names: {', '.join(SAMPLE_NAMES)}")
    return [to_tensor(getattr(skimage.data, n)()) for n in names]


# ---------------------------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _manifest() -> dict[str, str]:
    """``relative path -> sha256`` of the files of Kodak and BSDS500 (shipped with the package)."""
    text = (Path(__file__).parent / "datasets.sha256").read_text()
    pairs = (line.split() for line in text.splitlines() if line.strip())
    return {path: digest for digest, path in pairs}


def _ensure_set(subdir: str, url_of) -> Path:
    """Return ``data_root()/subdir`` complete, downloading the missing files when allowed."""
    expected = {p.split("/")[-1]: h for p, h in _manifest().items() if p.rsplit("/", 1)[0] == subdir}
    folder = settings.data_root() / subdir
    missing = [n for n in expected if not (folder / n).is_file()]
    if not missing:
        return folder
    if settings.offline():
        raise DataMissingError(
            f"{len(missing)} of {len(expected)} files of {subdir!r} are missing from {folder} "
            f"(e.g. {missing[0]}) and JSCC_LAB_OFFLINE=1 forbids downloading: put the files in "
            f"{folder}, or point JSCC_LAB_DATA at a folder that holds {subdir}/"
        )
    from tqdm.auto import tqdm

    for name in tqdm(missing, desc=f"downloading {subdir}", unit="file"):
        try:
            download_file(url_of(name), folder / name, sha256=expected[name], progress=False)
        except OSError as err:
            raise DataMissingError(
                f"could not download {subdir}/{name} ({err}); put the files in {folder} by hand"
            ) from err
    return folder


def kodak() -> list[torch.Tensor]:
    """The 24 Kodak images (``kodim01..24``) at native size (768x512 or 512x768), for evaluation only.

    Looked up in ``$JSCC_LAB_DATA/kodak``; downloaded there when missing (not offline).
    """
    folder = _ensure_set("kodak", lambda name: KODAK_URL.format(name=name))
    return [load_image(folder / f"kodim{i:02d}.png") for i in range(1, 25)]


def kodak_crops(count: int = 24, crop: int = 256) -> torch.Tensor:
    """The first ``count`` Kodak images, centre-cropped to ``crop`` x ``crop``: ``(count, 3, crop, crop)``.

    ``count`` in 1..24; ``crop`` a multiple of 16 and >= 64 (every model's latent grid); a bad value
    raises ``ValueError`` naming the argument and its valid range.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 24:
        raise ValueError(f"count must be in 1..24 (Kodak has 24 images), got {count!r}")
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 64 or crop % 16:
        raise ValueError(f"crop must be a multiple of 16 and >= 64, got {crop!r}")
    return torch.cat([center_crop(im, crop) for im in kodak()[:count]])


def bsds500_files(split: str) -> list[Path]:
    """Paths of one BSDS500 split (``"train"`` 200, ``"val"`` 100, ``"test"`` 200 JPEGs)."""
    if split not in BSDS500_SPLITS:
        raise ValueError(f"split must be one of {BSDS500_SPLITS}, got {split!r}")
    sub = f"bsds500/{split}"
    folder = _ensure_set(sub, lambda name: BSDS500_URL.format(split=split, name=name))
    names = sorted(p.split("/")[-1] for p in _manifest() if p.rsplit("/", 1)[0] == sub)
    return [folder / n for n in names]


def bsds500(split: str) -> list[torch.Tensor]:
    """One BSDS500 split as ``(1, 3, 321, 481)`` / ``(1, 3, 481, 321)`` tensors.

    Use ``"train"`` + ``"val"`` for training, ``"test"`` for validation (never train on Kodak).
    """
    return [load_image(p) for p in bsds500_files(split)]


def cifar10(train: bool = True):
    """torchvision's CIFAR-10 (32x32) with images as ``(3, 32, 32)`` float tensors in ``[0, 1]``.

    Stored in ``$JSCC_LAB_DATA/cifar10``; downloaded there when missing (not offline).
    """
    import torchvision

    root = settings.data_root() / "cifar10"
    present = (root / "cifar-10-batches-py").is_dir()
    if not present and settings.offline():
        raise DataMissingError(
            f"CIFAR-10 is not in {root} and JSCC_LAB_OFFLINE=1 forbids downloading: put the "
            f"extracted 'cifar-10-batches-py' folder in {root}"
        )
    return torchvision.datasets.CIFAR10(
        root=str(root), train=train, download=not present,
        transform=torchvision.transforms.ToTensor(),
    )


# ---------------------------------------------------------------------------------------------
# training crops
# ---------------------------------------------------------------------------------------------


class RandomCrops(torch.utils.data.Dataset):
    """Random ``size x size`` crops with random horizontal/vertical flips from a set of images.

    Parameters
    ----------
    images : a folder, a list of image paths, or a list of ``(1, 3, H, W)`` tensors; decoded once
        and kept in memory as uint8.
    size : crop side in pixels (every image must be at least this large).
    length : items per epoch (default: one crop per image).
    flips : random horizontal and vertical flips.
    seed : crops are a pure function of ``(seed, epoch, index)``, so runs and resumes repeat;
        call :meth:`set_epoch` each epoch.

    Item: ``(3, size, size)`` float32 in ``[0, 1]``.
    """

    def __init__(self, images, size: int = 128, length: int | None = None,
                 flips: bool = True, seed: int = 0):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if isinstance(images, (str, Path)):
            folder = Path(images)
            images = _image_files(folder) if folder.is_dir() else []
            if not images:
                raise DataMissingError(f"no images found for RandomCrops in {folder}")
        self.images = [self._as_uint8(im) for im in images]
        if not self.images:
            raise ValueError("images is empty")
        small = [tuple(im.shape[-2:]) for im in self.images if min(im.shape[-2:]) < size]
        if small:
            raise ValueError(f"size={size} is larger than {len(small)} image(s), e.g. {small[0]}")
        self.size, self.flips, self.seed = size, flips, seed
        self.length = len(self.images) if length is None else int(length)
        self.epoch = 0

    @staticmethod
    def _as_uint8(im) -> torch.Tensor:
        if isinstance(im, (str, Path)):
            im = load_image(im)
        if isinstance(im, torch.Tensor) and im.ndim == 4:
            im = im[0]
        return (im.clamp(0, 1) * 255).round().to(torch.uint8)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(hash((self.seed, self.epoch, int(index))) & 0x7FFFFFFF)
        im = self.images[int(torch.randint(len(self.images), (1,), generator=g))]
        h, w = im.shape[-2:]
        top = int(torch.randint(h - self.size + 1, (1,), generator=g))
        left = int(torch.randint(w - self.size + 1, (1,), generator=g))
        crop = im[:, top : top + self.size, left : left + self.size]
        if self.flips:
            flip_h, flip_v = torch.rand(2, generator=g) < 0.5
            if flip_h:
                crop = crop.flip(-1)
            if flip_v:
                crop = crop.flip(-2)
        return crop.float() / 255.0
