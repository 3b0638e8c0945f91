"""One System contract and one seeding rule: the sweep, the explorer and the demo give the same
x_hat for the same model, image and SNR."""

from __future__ import annotations

import math

import pytest
import torch

from jscc_lab.channels import AWGN, RayleighFading
from jscc_lab.models import ADJSCC, TAEJSCC, AtCBR, PerceptualJSCC
from jscc_lab.systems import (
    AnalogSystem,
    FunctionSystem,
    ModelSystem,
    SeparateSystem,
    as_system,
    noise_generator,
    noise_seed,
    transmit,
)


def test_capabilities_are_declared_not_sniffed():
    torch.manual_seed(0)
    adj = ModelSystem(ADJSCC(cbr="1/48", width=8))
    assert adj.cbrs == (1 / 48,) and adj.realism is False and isinstance(adj.channel, AWGN)
    tae = ModelSystem(TAEJSCC(width=8, blocks=1, pretrained=False, cbrs=("1/48", "1/12"), realism=True))
    assert tae.cbrs == (1 / 48, 1 / 12) and tae.realism is True
    assert ModelSystem(PerceptualJSCC(cbr="1/48", width=8, res_blocks=1)).realism is True
    assert AnalogSystem().cbrs == (0.5,) and SeparateSystem().cbrs is None
    fading = RayleighFading("block")
    assert ModelSystem(ADJSCC(cbr="1/48", width=8), channel=fading).channel is fading
    with pytest.raises(ValueError, match="cbr 1/12 is not served"):
        adj.check_cbr(1 / 12)
    with pytest.raises(ValueError, match="beta"):
        adj(torch.rand(1, 3, 16, 16), 10.0, 1 / 48, beta=0.5)


def test_cbr_used_is_counted_for_every_kind_of_system():
    torch.manual_seed(0)
    h, w, budget = 321, 481, math.floor(3 * 321 * 481 / 48)
    for system in (ModelSystem(ADJSCC(cbr="1/48", width=8)),
                   ModelSystem(TAEJSCC(width=8, blocks=1, pretrained=False)),
                   ModelSystem(AtCBR(TAEJSCC(width=8, blocks=1, pretrained=False), 1 / 48)),
                   SeparateSystem()):
        assert system.cbr_used(h, w, 1 / 48) == budget / (3 * h * w) <= 1 / 48
    assert AnalogSystem().cbr_used(h, w, 0.5) == 0.5


def test_the_seeding_rule_is_one_function():
    assert noise_seed(0, 2, 10.0) == noise_seed(0, 2, 10.0004) != noise_seed(0, 3, 10.0)
    a, b = noise_generator(1, 2, 5.0), noise_generator(1, 2, 5.0)
    assert torch.equal(torch.randn(4, generator=a), torch.randn(4, generator=b))


def test_transmit_sends_each_image_with_its_own_noise():
    torch.manual_seed(0)
    system = ModelSystem(ADJSCC(cbr="1/48", width=8))
    x = torch.rand(3, 3, 20, 28, generator=torch.Generator().manual_seed(1))
    batch = transmit(system, x, 3.0, 1 / 48, seed=4)
    one = transmit(system, x[2:], 3.0, 1 / 48, seed=4, image=2)
    assert torch.equal(batch[2:], one)
    assert not torch.equal(transmit(system, x[2:], 3.0, 1 / 48, seed=4, image=1), one)
    calls = []
    fn = FunctionSystem(lambda x, snr, cbr, generator=None: calls.append(generator) or x)
    assert torch.equal(transmit(fn, x, 3.0, 1 / 7), x) and len(calls) == 3
    assert isinstance(as_system({1 / 48: ADJSCC(cbr="1/48", width=8)}), ModelSystem)


@pytest.mark.parametrize("snr", [4.0, 10.0])
def test_sweep_explorer_and_demo_give_the_same_reconstruction(snr, monkeypatch):
    from jscc_lab import demo, evaluate, pretrained
    from jscc_lab.classroom import Explorer

    name = "taejscc-psnr-awgn"
    model = pretrained.load(name)
    original = pretrained.load
    monkeypatch.setattr(pretrained, "load", lambda n, **kw: model if n == name else original(n, **kw))
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(7))

    (swept,) = evaluate.reconstruct(model, [x], snr, cbr=1 / 48, seed=0, amp="none")
    rows = evaluate.sweep(model, [x], [snr], metrics=["psnr"], cbrs=[1 / 48], seed=0, amp="none")
    assert rows[0]["cbr_used"] == 1 / 48
    ex = Explorer(images={"noise": x}, models={("psnr", 1 / 48): AtCBR(model, 1 / 48)}, crop=64,
                  metrics=("psnr",), separate=False, prefetch=False, amp="none")
    view = ex.view()._replace(snr=snr, cbr=1 / 48)
    explored = ex.reconstruct("PSNR deep JSCC", view)
    (entry,) = [e for label, e in demo._systems("1_48").items() if label.startswith("PSNR")]
    shown = demo.reconstruct(entry, x, snr, seed=0)
    assert torch.equal(swept, explored) and torch.equal(swept, shown)
    from jscc_lab.metrics import psnr

    assert float(psnr(x, swept)) == pytest.approx(rows[0]["psnr"], abs=1e-5)
