"""Tests of jscc_lab.losses: distortion terms, adversarial pairs, R1."""

import math

import pytest
import torch
import torch.nn.functional as F

from jscc_lab import losses
from jscc_lab.losses import (
    ADVERSARIAL_LOSSES,
    PAPER_WEIGHTS,
    DistortionLoss,
    LPIPSLoss,
    adversarial_losses,
    colour_mse_255,
    grid_ms_255,
    mse_255,
    r1_penalty,
)
from jscc_lab.metrics import psnr


def test_paper_defaults():
    assert PAPER_WEIGHTS == {"mse": 0.01, "lpips": 1.0, "lpips_net": "alex", "adversarial": 5.0,
                             "gan_loss": "non_saturating"}


def test_mse_255_scale_and_psnr(generator):
    x = torch.rand(3, 3, 16, 16, generator=generator)
    x_hat = (x + 0.05 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    m = mse_255(x, x_hat)
    assert m.shape == (3,)
    torch.testing.assert_close(m, ((x - x_hat) ** 2).mean(dim=(1, 2, 3)) * 255**2)
    torch.testing.assert_close(10 * torch.log10(255**2 / m), psnr(x, x_hat), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="same shape"):
        mse_255(x, x_hat[:, :, :8])


@pytest.mark.parametrize("kind", list(ADVERSARIAL_LOSSES))
def test_adversarial_pairs_reward_the_right_side(kind):
    d_loss, g_loss = adversarial_losses(kind)
    good = torch.full((2, 1, 3, 3), 3.0)
    bad = torch.full((2, 1, 3, 3), -3.0)
    # D is better off when real logits are high and fake logits low
    assert (d_loss(good, bad) < d_loss(bad, good)).all()
    assert d_loss(good, bad).shape == (2,)
    # the generator is better off when D scores its fakes as real
    assert (g_loss(good) < g_loss(bad)).all()
    assert g_loss(good).shape == (2,)
    # gradients of G's loss push fake logits up
    fake = torch.zeros(2, 1, 3, 3, requires_grad=True)
    g_loss(fake).sum().backward()
    assert (fake.grad < 0).all()


def test_non_saturating_is_binary_cross_entropy(generator):
    real, fake = torch.randn(4, 1, 5, 5, generator=generator), torch.randn(4, 1, 5, 5, generator=generator)
    d = losses.non_saturating_d(real, fake)
    bce = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real), reduction="none")
           + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake), reduction="none"))
    torch.testing.assert_close(d, bce.mean(dim=(1, 2, 3)))
    g = losses.non_saturating_g(fake)
    torch.testing.assert_close(g, F.binary_cross_entropy_with_logits(
        fake, torch.ones_like(fake), reduction="none").mean(dim=(1, 2, 3)))
    # at D's indifference point (logits 0) each BCE term is log 2
    assert math.isclose(losses.non_saturating_d(torch.zeros(1, 1), torch.zeros(1, 1)).item(), 2 * math.log(2), rel_tol=1e-6)


def test_hinge_and_least_squares_values():
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-2.0], [0.5]])
    torch.testing.assert_close(losses.hinge_d(real, fake), torch.tensor([0.0, 0.5 + 1.5]))
    torch.testing.assert_close(losses.hinge_g(fake), torch.tensor([2.0, -0.5]))
    torch.testing.assert_close(losses.least_squares_d(real, fake), torch.tensor([1.0 + 4.0, 0.25 + 0.25]))
    torch.testing.assert_close(losses.least_squares_g(fake), torch.tensor([9.0, 0.25]))


def test_unknown_adversarial_kind():
    with pytest.raises(ValueError, match="valid kinds: non_saturating, hinge, least_squares"):
        adversarial_losses("wasserstein")


def test_r1_penalty_of_a_linear_discriminator(generator):
    w = torch.randn(1, 3, 4, 4, generator=generator)
    x = torch.rand(2, 3, 4, 4, generator=generator).requires_grad_(True)
    logits = (x * w).sum(dim=(1, 2, 3))
    penalty = r1_penalty(logits, x)
    torch.testing.assert_close(penalty, torch.full((2,), float((w**2).sum())))
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(logits, x.detach())


def test_r1_penalty_backpropagates_into_d(generator):
    conv = torch.nn.Conv2d(3, 1, 3)
    x = torch.rand(2, 3, 8, 8, generator=generator).requires_grad_(True)
    penalty = r1_penalty(torch.tanh(conv(x)), x).mean()
    penalty.backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_distortion_weights_validated():
    with pytest.raises(ValueError, match="mse_weight"):
        DistortionLoss(mse_weight=-1, lpips_weight=0)
    with pytest.raises(ValueError, match="both 0"):
        DistortionLoss(mse_weight=0, lpips_weight=0)
    with pytest.raises(ValueError, match="lpips_net"):
        DistortionLoss(lpips_net="squeeze")


def test_mse_only_distortion_needs_no_network(generator):
    x = torch.rand(2, 3, 8, 8, generator=generator)
    total, parts = DistortionLoss(mse_weight=0.5, lpips_weight=0)(x, x.flip(-1))
    torch.testing.assert_close(total, 0.5 * mse_255(x, x.flip(-1)))
    assert set(parts) == {"mse_255"}


def test_colour_term_sees_colour_not_texture(generator):
    x = torch.full((2, 3, 16, 16), 0.5)
    texture = 0.2 * torch.randn(2, 3, 8, 8, generator=generator)
    texture = (texture - texture.mean((-2, -1), keepdim=True)).repeat(1, 1, 2, 2)  # zero mean per 8x8 block
    assert colour_mse_255(x, x + texture).abs().max() < 1e-6
    assert mse_255(x, x + texture).min() > 100
    shifted = x + torch.tensor([0.04, 0.0, -0.04]).view(1, 3, 1, 1)
    torch.testing.assert_close(colour_mse_255(x, shifted), torch.full((2,), 2 / 3 * (0.04 * 255) ** 2), rtol=1e-4, atol=0)
    total, parts = DistortionLoss(mse_weight=0.5, lpips_weight=0, colour_weight=0.1)(x, shifted)
    assert set(parts) == {"mse_255", "colour_255"}
    torch.testing.assert_close(total, 0.5 * parts["mse_255"] + 0.1 * parts["colour_255"])
    with pytest.raises(ValueError, match="colour_weight"):
        DistortionLoss(colour_weight=-1)


def test_grid_term_sees_a_repeating_pattern_not_random_error(generator):
    x = torch.rand(2, 3, 64, 64, generator=generator) * 0.5 + 0.25
    tile = torch.randn(1, 1, 16, 16, generator=generator)
    grid = 2 / 255 * (tile - tile.mean()).repeat(2, 3, 4, 4)  # the same 16x16 pattern everywhere
    mixed = grid * torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)  # opposite grids: none in common
    noise = 2 / 255 * torch.randn(x.shape, generator=generator)
    expected = (2 * tile.std(unbiased=False)) ** 2  # its mean square in 8-bit levels (luma weights sum to 1)
    torch.testing.assert_close(grid_ms_255(x, x + grid), expected.expand(2), rtol=1e-4, atol=0)
    assert grid_ms_255(x, x + noise).max() < 0.05 * expected  # random error: only 1/32 of its power
    assert grid_ms_255(x, x + mixed).max() < 1e-6  # the batch's common grid only
    assert grid_ms_255(x, x + 2.0).max() < 1e-6  # a constant shift (out of range: unchecked) is no grid
    y = (x + noise).requires_grad_(True)
    total, parts = DistortionLoss(mse_weight=0.001, lpips_weight=0, grid_weight=0.5)(x, y + grid)
    assert set(parts) == {"mse_255", "grid_255"}
    total.sum().backward()
    assert y.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="grid_weight"):
        DistortionLoss(grid_weight=-1)


def test_lpips_loss_gradients_reach_the_image_not_the_backbone(data_root, generator):
    x = torch.rand(2, 3, 64, 64, generator=generator)
    x_hat = (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1).requires_grad_(True)
    loss_fn = LPIPSLoss("alex")
    assert list(loss_fn.parameters()) == []  # frozen backbone is not a submodule
    value = loss_fn(x, x_hat)
    assert value.shape == (2,) and (value > 0).all()
    value.sum().backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    # a step against the gradient lowers LPIPS: the term is usable as a loss
    with torch.no_grad():
        stepped = (x_hat - 0.005 * x_hat.grad / x_hat.grad.abs().max()).clamp(0, 1)
    assert (loss_fn(x, stepped) < value.detach()).all()
    assert loss_fn(x, x).abs().max() < 1e-6


def test_paper_distortion_is_the_weighted_sum(data_root, generator):
    x = torch.rand(2, 3, 64, 64, generator=generator)
    x_hat = (x + 0.1 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    total, parts = DistortionLoss()(x, x_hat)
    assert set(parts) == {"mse_255", "lpips"}
    torch.testing.assert_close(total, 0.01 * parts["mse_255"] + 1.0 * parts["lpips"])
