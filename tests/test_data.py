"""Loaders, conversions and the random-crop dataset of jscc_lab.data."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from jscc_lab import data


def test_to_tensor_and_back_round_trips_uint8():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    x = data.to_tensor(Image.fromarray(a))
    assert x.shape == (1, 3, 5, 7) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.array_equal(np.asarray(data.to_image(x)), a)


@pytest.mark.parametrize(
    "mode, expected",
    [("L", 3), ("RGBA", 3), ("P", 3), ("CMYK", 3), ("LA", 3), ("I;16", 3), ("1", 3)],
)
def test_to_tensor_converts_every_common_mode(mode, expected):
    img = Image.new("RGB", (9, 4), (200, 100, 50)).convert(mode)
    x = data.to_tensor(img)
    assert x.shape == (1, expected, 4, 9)
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1


def test_sixteen_bit_png_is_scaled_to_unit_range(tmp_path):
    a = np.full((3, 4), 65535, dtype=np.uint16)
    a[0, 0] = 0
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    x = data.load_image(path)
    assert x.shape == (1, 3, 3, 4)
    assert x.max().item() == pytest.approx(1.0) and x.min().item() == 0.0


def test_rgba_is_composited_on_white():
    img = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert torch.allclose(data.to_tensor(img), torch.ones(1, 3, 2, 2))
    arr = np.zeros((2, 2, 4), dtype=np.uint8)
    arr[..., 3] = 255
    assert torch.allclose(data.to_tensor(arr), torch.zeros(1, 3, 2, 2))


def test_numpy_inputs():
    x = data.to_tensor([np.zeros((4, 4)), np.ones((4, 4), dtype=np.float32)])
    assert x.shape == (2, 3, 4, 4)
    assert data.to_tensor(np.full((2, 2, 3), 65535, dtype=np.uint16)).max() == 1.0


def test_to_tensor_rejects_bad_input():
    with pytest.raises(ValueError, match="different sizes"):
        data.to_tensor([np.zeros((4, 4)), np.zeros((5, 4))])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        data.to_tensor(np.full((4, 4, 3), 2.0))
    with pytest.raises(ValueError, match="NaN"):
        data.to_tensor(np.full((4, 4, 3), np.nan))
    with pytest.raises(TypeError, match="images"):
        data.to_tensor("kodim01.png")
    with pytest.raises(ValueError, match="empty"):
        data.to_tensor([])
    with pytest.raises(ValueError, match="channels-first"):
        data.to_tensor(np.zeros((3, 8, 8), dtype=np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        data.to_tensor(np.zeros((4, 4, 3), dtype=np.complex64))


def test_to_image_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        data.to_image(torch.zeros(2, 2))
    with pytest.raises(TypeError, match="x must be"):
        data.to_image(np.zeros((3, 4, 4)))
    assert len(data.to_image(torch.zeros(2, 3, 4, 4))) == 2


def test_sample_images_need_no_download():
    images = data.sample_images()
    assert len(images) == len(data.SAMPLE_NAMES)
    assert images[0].shape == (1, 3, 512, 512)
    with pytest.raises(ValueError, match="astronaut"):
        data.sample_images(["lena"])


def test_kodak_returns_24_native_images(data_root, monkeypatch):
    monkeypatch.setenv("JSCC_LAB_DATA", str(data_root))
    images = data.kodak()
    assert len(images) == 24
    sizes = {tuple(x.shape) for x in images}
    assert sizes == {(1, 3, 512, 768), (1, 3, 768, 512)}
    portrait = [i + 1 for i, x in enumerate(images) if x.shape[2] == 768]
    assert portrait == [4, 9, 10, 17, 18, 19]


def test_kodak_crops_are_the_first_images_centre_cropped(data_root, monkeypatch):
    monkeypatch.setenv("JSCC_LAB_DATA", str(data_root))
    crops = data.kodak_crops(3, 64)
    assert crops.shape == (3, 3, 64, 64)
    assert torch.equal(crops[2:], data.center_crop(data.kodak()[2], 64))
    for bad, match in (({"count": 25}, "count must be in 1..24"), ({"count": 0}, "count"),
                       ({"crop": 100}, "crop must be a multiple of 16"), ({"crop": 48}, "crop")):
        with pytest.raises(ValueError, match=match):
            data.kodak_crops(**{"count": 1, "crop": 64, **bad})


def test_bsds500_splits_have_200_100_200_images(data_root, monkeypatch):
    monkeypatch.setenv("JSCC_LAB_DATA", str(data_root))
    counts = {s: len(data.bsds500_files(s)) for s in data.BSDS500_SPLITS}
    assert counts == {"train": 200, "val": 100, "test": 200}
    x = data.load_image(data.bsds500_files("val")[0])
    assert sorted(x.shape[2:]) == [321, 481]
    with pytest.raises(ValueError, match="split"):
        data.bsds500("training")


def test_missing_data_offline_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")
    with pytest.raises(data.DataMissingError, match=str(tmp_path / "kodak")):
        data.kodak()
    with pytest.raises(data.DataMissingError, match="bsds500/test"):
        data.bsds500("test")
    with pytest.raises(data.DataMissingError, match="cifar10"):
        data.cifar10()


def test_download_is_refused_offline_and_checks_hashes(tmp_path, monkeypatch):
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")
    with pytest.raises(data.DataMissingError, match="OFFLINE"):
        data.download_file("https://example.invalid/x.png", tmp_path / "x.png")
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "0")
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello")
    good = data.sha256_of(src)
    dest = data.download_file(src.as_uri(), tmp_path / "out" / "a.bin", sha256=good, progress=False)
    assert dest.read_bytes() == b"hello"
    with pytest.raises(OSError, match="SHA-256 mismatch"):
        data.download_file(src.as_uri(), tmp_path / "out" / "b.bin", sha256="0" * 64, progress=False)
    assert not (tmp_path / "out" / "b.bin").exists()
    assert not list((tmp_path / "out").glob("*.part"))


def test_random_crops_are_seeded_sized_and_flipped():
    images = [torch.rand(1, 3, 40, 50), torch.rand(1, 3, 60, 33)]
    ds = data.RandomCrops(images, size=32, length=10, seed=5)
    assert len(ds) == 10
    a = ds[3]
    assert a.shape == (3, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, data.RandomCrops(images, size=32, length=10, seed=5)[3])
    ds.set_epoch(1)
    assert not torch.equal(a, ds[3])
    with pytest.raises(ValueError, match="size"):
        data.RandomCrops(images, size=34)


def test_random_crops_from_a_folder(tmp_path):
    for i in range(3):
        buf = io.BytesIO()
        Image.new("L", (20, 20), 10 * i).save(buf, format="PNG")
        (tmp_path / f"{i}.png").write_bytes(buf.getvalue())
    ds = data.RandomCrops(tmp_path, size=16)
    assert len(ds) == 3 and ds[0].shape == (3, 16, 16)
    with pytest.raises(data.DataMissingError, match="no images"):
        data.RandomCrops(tmp_path / "nothing", size=16)


def test_center_crop():
    x = torch.arange(2 * 3 * 6 * 8, dtype=torch.float32).reshape(2, 3, 6, 8)
    c = data.center_crop(x, (2, 4))
    assert c.shape == (2, 3, 2, 4) and torch.equal(c, x[..., 2:4, 2:6])
    with pytest.raises(ValueError, match="larger"):
        data.center_crop(x, 7)


def test_the_environment_line_names_the_data_folder_without_spelling_out_machine_paths(monkeypatch, tmp_path):
    from jscc_lab import settings

    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    (tmp_path / "kodak").mkdir()
    line = settings.environment()
    assert "data folder $JSCC_LAB_DATA (on disk: kodak;" in line and str(tmp_path) not in line
    monkeypatch.delenv("JSCC_LAB_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert str(tmp_path) not in settings.environment()
