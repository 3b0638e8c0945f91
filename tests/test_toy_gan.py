"""Tests of the 2-D toy GAN (jscc_lab.toy_gan): the data, the mode count, and the behaviour the
tutorial shows (D leaves chance at once, the plain GAN collapses, R1 covers more modes)."""

import pytest
import torch

from jscc_lab.toy_gan import modes_covered, ring_centres, sample_ring, train_toy_gan


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # small MLPs: one thread is fastest on a loaded machine


def test_ring_and_mode_count(generator):
    real = sample_ring(4000, generator=generator)
    assert real.shape == (4000, 2) and real.dtype == torch.float32
    assert torch.allclose(real.norm(dim=1).mean(), torch.tensor(2.0), atol=0.01)
    m = modes_covered(real)
    assert m["modes"] == 8 and m["high_quality"] > 0.97
    one_mode = ring_centres()[3] + 0.02 * torch.randn(1000, 2, generator=generator)
    assert modes_covered(one_mode)["modes"] == 1
    assert modes_covered(torch.zeros(100, 2))["modes"] == 0  # the centre of the ring is no mode


def test_same_seed_same_run():
    a, b = train_toy_gan(20, seed=5), train_toy_gan(20, seed=5)
    assert a["d_acc"] == b["d_acc"] and torch.equal(a["samples"][-1], b["samples"][-1])
    assert train_toy_gan(20, seed=6)["d_loss"] != a["d_loss"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discriminator_leaves_chance_early(seed):
    h = train_toy_gan(60, seed=seed)
    assert sum(h["d_acc"][10:60]) / 50 > 0.75
    assert h["d_loss"][-1] < 1.2 < h["d_loss"][0]  # 2 log 2 = 1.39 at the start


def test_plain_gan_collapses_onto_one_mode():
    h = train_toy_gan(1000, seed=0)
    m = modes_covered(h["samples"][-1])
    assert m["modes"] <= 1 and m["high_quality"] > 0.3  # its good samples all sit on one mode
    assert m["per_mode"].max() > 0.9 * m["high_quality"]


def test_r1_penalty_flattens_the_discriminator_at_real_data():
    plain, cured = train_toy_gan(400, seed=0), train_toy_gan(400, seed=0, r1_weight=0.1)
    real = sample_ring(1000, generator=torch.Generator().manual_seed(1)).requires_grad_(True)

    def slope(h):
        (grad,) = torch.autograd.grad(h["discriminator"](real).sum(), real)
        return grad.square().sum(1).mean().item()

    assert slope(cured) < 0.5 * slope(plain)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_r1_covers_more_modes_than_the_plain_gan(seed):
    plain = modes_covered(train_toy_gan(3000, seed=seed)["samples"][-1])["modes"]
    cured = modes_covered(train_toy_gan(3000, seed=seed, r1_weight=0.1)["samples"][-1])["modes"]
    assert cured > plain
