"""jscc_lab.metrics: calibration against the reference implementations, conventions, errors,
offline weights and gradients. Uses $JSCC_LAB_DATA (CI: ../shared/data, JSCC_LAB_OFFLINE=1)."""

import csv
import socket
import urllib.error
import urllib.request

import pytest
import torch

from jscc_lab import settings
from jscc_lab.data import center_crop, kodak, load_image
from jscc_lab.distortions import gaussian_blur, gaussian_noise
from jscc_lab.metrics import (
    DISTS,
    LPIPS,
    BackboneWeightsMissing,
    Scorer,
    _cache,
    backbones,
    evaluate,
    fixed_pattern,
    grid_rms,
    higher_is_better,
    markdown_table,
    ms_ssim,
    psnr,
    ssim,
)

CALIBRATION_IMAGES = ("I03", "I04", "I06", "I08", "I19")


@pytest.fixture(autouse=True)
def _metrics_env(data_root, monkeypatch):
    """Point the package at the offline data (an absolute path) and forbid downloads."""
    monkeypatch.setenv("JSCC_LAB_DATA", str(data_root.resolve()))
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")


@pytest.fixture(scope="module")
def calibration(data_root):
    folder = data_root / "calibration"
    with open(folder / "reference_values.csv") as f:
        reference = {row["metric"]: torch.tensor([float(row[n]) for n in CALIBRATION_IMAGES])
                     for row in csv.DictReader(f)}
    x = torch.cat([load_image(folder / "ref" / f"{n}.png") for n in CALIBRATION_IMAGES])
    x_hat = torch.cat([load_image(folder / "dist" / f"{n}.png") for n in CALIBRATION_IMAGES])
    return x, x_hat, reference


@pytest.fixture(scope="module")
def kodak_crops(data_root):
    """Four Kodak images, 192x192 centre crops (large enough for 5-scale MS-SSIM)."""
    images = kodak()
    return torch.cat([center_crop(images[i], 192) for i in (0, 6, 12, 22)])


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the network fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was contacted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    """No cached metric networks, an empty torch cache: construction must find weights anew."""
    monkeypatch.setattr(_cache, "_networks", {})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


# ---------------------------------------------------------------------------------------------
# calibration: the published implementations, not look-alikes
# ---------------------------------------------------------------------------------------------


def test_psnr_matches_reference(calibration):
    x, x_hat, reference = calibration
    assert torch.allclose(psnr(x, x_hat), reference["psnr"], atol=0.01)


def test_lpips_alex_matches_reference_from_offline_weights(calibration, data_root, no_network):
    x, x_hat, reference = calibration
    metric = LPIPS("alex")
    assert metric.weights_source.endswith("alexnet_features.pth")
    assert torch.allclose(metric(x, x_hat), reference["lpips"], atol=1e-4)


@pytest.mark.slow  # five 512x384 pairs through VGG16: ~15-50 s on 2 cores
def test_dists_matches_reference_from_offline_weights(calibration, no_network):
    x, x_hat, reference = calibration
    metric = DISTS()
    assert metric.weights_source.endswith("vgg16_features.pth")
    assert torch.allclose(metric(x, x_hat), reference["dists"], atol=1e-3)


def test_ms_ssim_on_grayscale_matches_reference(calibration):
    x, x_hat, reference = calibration
    assert torch.allclose(ms_ssim(x, x_hat, grayscale=True), reference["ms_ssim"], atol=0.005)
    assert torch.allclose(ssim(x, x_hat, grayscale=True), reference["ssim"], atol=0.005)


def test_rgb_ms_ssim_is_a_different_convention(calibration):
    """The RGB average is the default; it is not the grayscale reference (README: up to 0.05)."""
    x, x_hat, reference = calibration
    gap = (ms_ssim(x, x_hat) - reference["ms_ssim"]).abs().max()
    assert 0.01 < gap < 0.06


# ---------------------------------------------------------------------------------------------
# conventions
# ---------------------------------------------------------------------------------------------


def test_identical_images(kodak_crops):
    x = kodak_crops[:2]
    assert torch.isinf(psnr(x, x)).all() and (psnr(x, x) > 0).all()
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-6)
    assert LPIPS("alex")(x, x).abs().max() < 1e-6
    assert DISTS()(x, x).abs().max() < 1e-6


@pytest.mark.slow  # 24 pairs through all four metrics: ~20-60 s on 2 cores
def test_metrics_rank_noise_and_blur_on_every_image(kodak_crops, generator):
    x = kodak_crops
    for name, levels, distort in (
        ("noise", (0.02, 0.05, 0.1), lambda s: gaussian_noise(x, s, generator=generator)),
        ("blur", (1.0, 2.0, 4.0), lambda s: gaussian_blur(x, s)),
    ):
        scores = [evaluate(x, distort(s), metrics=("psnr", "ms_ssim", "lpips", "dists"))
                  for s in levels]
        for metric in scores[0]:
            sign = 1.0 if higher_is_better(metric) else -1.0
            quality = torch.stack([sign * s[metric] for s in scores])  # (levels, N): higher = better
            assert (quality[:-1] > quality[1:]).all(), f"{metric} does not rank {name} {levels}: {quality}"


def test_per_image_outputs(kodak_crops):
    x = kodak_crops[:3]
    x_hat = gaussian_blur(x, 1.0)
    for fn in (psnr, ssim, ms_ssim, LPIPS("alex"), DISTS()):
        out = fn(x, x_hat)
        assert out.shape == (3,) and out.dtype == torch.float32
    one = LPIPS("alex")(x[:1], x_hat[:1])
    assert one.shape == (1,)
    assert torch.allclose(one, LPIPS("alex")(x, x_hat)[:1], atol=1e-6)


def test_evaluate(kodak_crops, data_root):
    x = kodak_crops
    x_hat = gaussian_blur(x, 2.0)
    scores = evaluate(x, x_hat, metrics=("psnr", "ms_ssim_gray", "lpips"), batch_size=3)
    assert list(scores) == ["psnr", "ms_ssim_gray", "lpips"]
    assert all(v.shape == (4,) for v in scores.values())
    assert torch.allclose(scores["psnr"], psnr(x, x_hat))
    assert torch.allclose(scores["lpips"], LPIPS()(x, x_hat), atol=1e-6)
    assert torch.allclose(scores["ms_ssim_gray"], ms_ssim(x, x_hat, grayscale=True))
    # lists of different sizes (landscape and portrait Kodak), paired element by element
    portrait = center_crop(kodak()[3], (224, 176))
    mixed = evaluate([x[:2], portrait], [x_hat[:2], gaussian_blur(portrait, 2.0)], metrics=("psnr",))
    assert mixed["psnr"].shape == (3,)
    assert torch.allclose(mixed["psnr"][:2], scores["psnr"][:2])
    table = markdown_table({"blur 2": scores})
    assert "psnr ↑" in table and "lpips ↓" in table and f"{scores['psnr'].mean():.2f}" in table


def test_feature_split_equals_the_reference_packages(kodak_crops):
    """Our features/from_features path is the lpips and DISTS_pytorch forward, to round-off."""
    x, x_hat = kodak_crops, gaussian_noise(kodak_crops, 0.1, generator=0)
    for net in ("alex", "vgg"):
        metric = LPIPS(net)
        package = metric._network("cpu")(x, x_hat, normalize=True).reshape(-1)
        assert torch.allclose(metric(x, x_hat), package, atol=1e-6)
    metric = DISTS()
    assert torch.allclose(metric(x, x_hat), metric._network("cpu")(x, x_hat).reshape(-1), atol=1e-6)


def test_scorer_equals_evaluate_and_reuses_the_reference(kodak_crops):
    x = kodak_crops[:2]
    names = ("psnr", "ms_ssim", "lpips", "dists")
    score = Scorer(names)
    for sigma in (0.02, 0.1):
        x_hat = gaussian_noise(x, sigma, generator=1)
        got, want = score(x.clone(), x_hat), evaluate(x, x_hat, metrics=names)
        assert list(got) == list(names)
        for name in names:
            assert torch.allclose(got[name], want[name], atol=1e-5), name
    assert (score.misses, score.hits) == (1, 1)  # recognised by content, not by object
    score(x[:1], x[:1])
    assert score.misses == 2
    tiny = Scorer(("lpips",), max_bytes=0)  # keeps nothing: every call recomputes
    tiny(x, x)
    tiny(x, x)
    assert (tiny.misses, tiny.hits) == (2, 0)
    with pytest.raises(ValueError, match="metrics"):
        Scorer(("psnr", "fid"))
    with pytest.raises(ValueError, match="max_bytes"):
        Scorer(("psnr",), max_bytes=-1)
    with pytest.raises(ValueError, match="x_hat"):
        score(x, x[..., :64, :64])


# ---------------------------------------------------------------------------------------------
# errors name the argument and the valid range
# ---------------------------------------------------------------------------------------------

ALL_METRICS = {
    "psnr": lambda: psnr,
    "ssim": lambda: ssim,
    "ms_ssim": lambda: ms_ssim,
    "lpips": lambda: LPIPS("alex"),
    "dists": lambda: DISTS(),
    "evaluate": lambda: (lambda a, b: evaluate(a, b, metrics=("psnr",))),
    "grid_rms": lambda: grid_rms,
}


@pytest.mark.parametrize("name", list(ALL_METRICS))
def test_bad_inputs_raise_clear_errors(name):
    fn = ALL_METRICS[name]()
    x = torch.rand(2, 3, 192, 192)
    with pytest.raises(TypeError, match="x_hat"):
        fn(x, x.numpy())
    with pytest.raises(ValueError, match="same shape"):
        fn(x, x[:1])
    with pytest.raises(ValueError, match=r"x_hat .*\[0, 1\]"):
        fn(x, x * 2.0)
    with pytest.raises(ValueError, match=r"x has values .*\[0, 1\]"):
        fn(x - 0.5, x)
    with pytest.raises(ValueError, match="NaN"):
        fn(x, torch.full_like(x, float("nan")))
    with pytest.raises(TypeError, match="x must be a real floating-point"):
        fn((x * 255).to(torch.uint8), x)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        fn(x[:, :1], x[:, :1])


def test_grid_rms_measures_a_fixed_pattern_in_8_bit_levels(kodak_crops, generator):
    x = kodak_crops
    noisy = gaussian_noise(x, 0.03, generator=generator)
    rows, cols = torch.meshgrid(torch.arange(192), torch.arange(192), indexing="ij")
    lines = ((rows % 8 == 7) | (cols % 8 == 7)).float()  # an 8-px grid of 2-level lines
    checker = ((rows + cols) % 2).float() * 2 - 1  # a +-1-level checkerboard
    clean, grid, chequered = (grid_rms(x, noisy), grid_rms(x, (noisy + 2 / 255 * lines).clamp(0, 1)),
                              grid_rms(x, (noisy + 1 / 255 * checker).clamp(0, 1)))
    assert clean.max() < 0.15  # random error: only the corrected floor is left
    expected = 2 * float(lines.std(unbiased=False))  # the lines' RMS around their mean: 0.98 levels
    assert torch.allclose(grid, torch.full_like(grid, expected), atol=0.15), grid
    assert torch.allclose(chequered, torch.ones_like(chequered), atol=0.15), chequered
    assert torch.allclose(grid_rms(x, (noisy + 0.05).clamp(0, 1)), clean, atol=0.1)  # a colour shift is no grid
    assert grid_rms(x, x).abs().max() == 0
    pattern = fixed_pattern(x, (noisy + 1 / 255 * checker).clamp(0, 1))  # the checkerboard itself, found
    assert pattern.shape == (4, 16, 16)
    assert torch.corrcoef(torch.stack([pattern[0].flatten(), checker[:16, :16].flatten()]))[0, 1] > 0.9
    with pytest.raises(ValueError, match="at least 32 px"):
        grid_rms(x[..., :24, :], x[..., :24, :])
    with pytest.raises(ValueError, match="period must be"):
        grid_rms(x, x, period=1)


def test_size_and_option_errors():
    small = torch.rand(1, 3, 128, 128)
    with pytest.raises(ValueError, match="160"):
        ms_ssim(small, small)
    with pytest.raises(ValueError, match="11x11"):
        ssim(small[..., :8, :8], small[..., :8, :8])
    with pytest.raises(ValueError, match="32x32"):
        LPIPS("alex")(small[..., :20, :20], small[..., :20, :20])
    with pytest.raises(ValueError, match="net must be 'alex' or 'vgg'"):
        LPIPS("squeeze")
    with pytest.raises(TypeError, match="grayscale"):
        ms_ssim(small, small, grayscale="yes")
    with pytest.raises(ValueError, match="metrics must be .*psnr"):
        evaluate(small, small, metrics=("psnr", "fid"))
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(small, small, metrics=("psnr",), batch_size=0)


# ---------------------------------------------------------------------------------------------
# backbone weights: offline file, torch cache, download; never random
# ---------------------------------------------------------------------------------------------


def test_offline_without_weights_names_the_file_and_folder(monkeypatch, tmp_path, empty_cache, no_network):
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    with pytest.raises(BackboneWeightsMissing) as info:
        LPIPS()
    message = str(info.value)
    assert "alexnet_features.pth" in message and str(tmp_path / "weights") in message
    assert "JSCC_LAB_OFFLINE=1" in message
    with pytest.raises(BackboneWeightsMissing, match="vgg16_features.pth"):
        DISTS()
    assert _cache._networks == {}, "nothing may be cached after a failed build"


def test_failed_download_online_gives_the_same_advice(monkeypatch, tmp_path, empty_cache):
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    monkeypatch.delenv("JSCC_LAB_OFFLINE")
    tried = []

    def unreachable(url, **kwargs):
        tried.append(url)
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", unreachable)
    with pytest.raises(BackboneWeightsMissing, match="no route to host") as info:
        LPIPS("vgg")
    assert tried and tried[0].endswith(backbones.torch_cache_path("vgg16").name)
    assert "vgg16_features.pth" in str(info.value) and str(tmp_path / "weights") in str(info.value)


def test_torchvision_cache_is_used_without_network(monkeypatch, tmp_path, data_root, empty_cache,
                                                   no_network, calibration):
    """A checkpoint torchvision downloaded earlier (full model, features.* + classifier.*) works."""
    features = torch.load(data_root / "weights" / "alexnet_features.pth", weights_only=True)
    checkpoint = dict(features, **{"classifier.1.weight": torch.zeros(4, 9216)})
    cached = backbones.torch_cache_path("alexnet")
    cached.parent.mkdir(parents=True)
    torch.save(checkpoint, cached)
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path / "no_data"))
    metric = LPIPS("alex")
    assert metric.weights_source == str(cached)
    x, x_hat, reference = calibration
    assert torch.allclose(metric(x[:2], x_hat[:2]), reference["lpips"][:2], atol=1e-4)


def test_incomplete_weights_are_refused():
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))
    good = {"features.0.weight": torch.zeros(4, 3, 3, 3), "features.0.bias": torch.zeros(4),
            "features.2.weight": torch.zeros(4, 4, 3, 3), "features.2.bias": torch.zeros(4)}
    backbones.load_features_into(conv, good, lambda name: "features." + name)
    assert conv[2].weight.abs().sum() == 0
    partial = {k: v for k, v in good.items() if k != "features.2.bias"}
    with pytest.raises(BackboneWeightsMissing, match="features.2.bias"):
        backbones.load_features_into(conv, partial, lambda name: "features." + name)
    wrong = dict(good, **{"features.2.weight": torch.zeros(4, 4, 5, 5)})
    with pytest.raises(BackboneWeightsMissing, match="shape"):
        backbones.load_features_into(conv, wrong, lambda name: "features." + name)


def test_offline_setting_is_read_from_the_environment(monkeypatch):
    assert settings.offline()
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "0")
    assert not settings.offline()


# ---------------------------------------------------------------------------------------------
# cached, frozen networks; gradients through the loss
# ---------------------------------------------------------------------------------------------


def test_networks_are_cached_frozen_and_in_eval_mode():
    first, second = LPIPS("alex"), LPIPS("alex")
    network = first._network("cpu")
    assert network is second._network(torch.device("cpu"))
    assert not network.training
    assert not any(p.requires_grad for p in network.parameters())
    holder = torch.nn.Module()
    holder.loss = first
    holder.train()
    assert not network.training, "train() on a model holding the loss must not touch the metric"
    assert list(holder.parameters()) == [] and holder.state_dict() == {}


@pytest.mark.parametrize("make", [lambda: LPIPS("alex"), lambda: DISTS()], ids=["lpips", "dists"])
def test_gradients_flow_to_the_reconstruction(make, generator):
    metric = make()
    x = torch.rand(2, 3, 64, 64, generator=generator)
    x_hat = gaussian_noise(x, 0.1, generator=generator).requires_grad_(True)
    loss = metric(x, x_hat).mean()
    loss.backward()
    assert x_hat.grad is not None and torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0
    assert all(p.grad is None for p in metric._network("cpu").parameters())
    # a small step against the gradient lowers the loss: it is usable for training
    with torch.no_grad():
        stepped = (x_hat - 0.01 * x_hat.grad / x_hat.grad.abs().max()).clamp(0, 1)
        assert metric(x, stepped).mean() < loss
        assert metric(x, x_hat).grad_fn is None


def test_tampered_offline_weights_are_refused(tmp_path, monkeypatch):
    from jscc_lab.metrics import backbones

    (tmp_path / "weights").mkdir()
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "weights" / "alexnet_features.pth")
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")
    with pytest.raises(backbones.BackboneWeightsMissing, match="SHA-256"):
        backbones.backbone_features("alexnet")
