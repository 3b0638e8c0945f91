"""jscc_lab.distortions: blur, noise, misplaced detail and codec round trips."""

import pytest
import torch

from jscc_lab.distortions import (
    codec_round_trip,
    gaussian_blur,
    gaussian_noise,
    hevc_intra,
    jpeg,
    misplaced_detail,
)
from jscc_lab.metrics import psnr


@pytest.fixture
def photo():
    from jscc_lab.data import center_crop, sample_images

    return center_crop(sample_images(("astronaut",))[0], 128)


def test_blur(photo):
    assert torch.equal(gaussian_blur(photo, 0), photo)
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(gaussian_blur(flat, 2.0), flat, atol=1e-6)
    stds = [gaussian_blur(photo, s).std().item() for s in (0.5, 1.0, 2.0, 4.0)]
    assert stds == sorted(stds, reverse=True) and stds[0] < photo.std().item()
    # a point spreads as a Gaussian of the requested width
    point = torch.zeros(1, 3, 41, 41)
    point[..., 20, 20] = 1.0
    blurred = gaussian_blur(point, 2.0)[0, 0, 20]
    measured = ((torch.arange(41.0) - 20) ** 2 * blurred).sum() / blurred.sum()
    assert abs(measured.sqrt().item() - 2.0) < 0.05
    with pytest.raises(ValueError, match="sigma"):
        gaussian_blur(photo, -1.0)
    with pytest.raises(ValueError, match="larger than"):
        gaussian_blur(photo[..., :8, :8], 4.0)


def test_noise_is_reproducible_and_has_the_requested_std():
    x = torch.full((2, 3, 64, 64), 0.5)
    a = gaussian_noise(x, 0.05, generator=7)
    b = gaussian_noise(x, 0.05, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert abs((a - x).std().item() - 0.05) < 0.002
    assert not torch.equal(a, gaussian_noise(x, 0.05, generator=8))
    clipped = gaussian_noise(torch.ones(1, 3, 16, 16), 0.5, generator=0)
    assert clipped.max() <= 1.0 and clipped.min() >= 0.0
    with pytest.raises(ValueError, match="sigma"):
        gaussian_noise(x, float("nan"))
    with pytest.raises(TypeError, match="generator"):
        gaussian_noise(x, 0.1, generator="seed")


def test_misplaced_detail_costs_about_3_db_against_blur(photo):
    blurred, moved = gaussian_blur(photo, 2.0), misplaced_detail(photo, 2.0, shift=4)
    gap = (psnr(photo, blurred) - psnr(photo, moved)).item()
    assert 1.5 < gap < 4.5  # uncorrelated detail of equal energy doubles the MSE: 3 dB
    # as sharp as the original: the detail energy is kept
    def detail(im):
        return (im - gaussian_blur(im, 2.0)).std().item()

    assert detail(moved) > 0.7 * detail(photo) > 2 * detail(blurred)
    with pytest.raises(ValueError, match="shift"):
        misplaced_detail(photo, 2.0, shift=0)


@pytest.mark.parametrize("codec", ["jpeg", "hevc_intra"])
def test_codec_round_trip(photo, codec):
    x = torch.cat([photo, photo.flip(-1)])
    low, bpp_low = codec_round_trip(x, codec, 10)
    high, bpp_high = codec_round_trip(x, codec, 80)
    assert low.shape == x.shape and low.dtype == x.dtype and bpp_low.shape == (2,)
    assert (bpp_low < bpp_high).all() and (bpp_low > 0).all()
    assert (psnr(x, low) < psnr(x, high)).all()
    assert (psnr(x, high) > 30).all()
    with pytest.raises(ValueError, match="quality"):
        codec_round_trip(x, codec, 101)
    with pytest.raises(ValueError, match="codec"):
        codec_round_trip(x, "bpg", 50)


def test_named_codecs_match_round_trip(photo):
    assert torch.equal(jpeg(photo, 30)[0], codec_round_trip(photo, "jpeg", 30)[0])
    x_hat, bpp = hevc_intra(photo, 30)
    assert torch.equal(x_hat, codec_round_trip(photo, "hevc_intra", 30)[0])
    assert bpp.item() < 2.0
    with pytest.raises(TypeError, match="x must be"):
        jpeg(photo.numpy(), 30)
