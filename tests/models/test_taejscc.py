"""The pretrained TAEF2 autoencoder, the weight loader and the rate-adaptive JSCC built on them."""

from __future__ import annotations

import socket
import urllib.request

import pytest
import torch

from jscc_lab import weights
from jscc_lab.data import center_crop, kodak
from jscc_lab.metrics import psnr
from jscc_lab.models import TAEJSCC, build_model
from jscc_lab.models.taef2 import TAEF2Decoder, TAEF2Encoder, taef2
from jscc_lab.models.taejscc import DEFAULT_CBRS


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was contacted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def ae():
    return taef2()


# ---------------------------------------------------------------------------------------------
# the weight loader
# ---------------------------------------------------------------------------------------------


def test_weights_load_from_the_data_folder_with_their_hash(data_root, no_network, empty_cache):
    path = weights.weights_path("taef2_encoder")
    assert path == data_root / "weights" / "taef2_encoder.pth"
    state = weights.load_weights("taef2_encoder")
    assert all(v.dtype == torch.float32 for v in state.values())
    assert weights.load_weights("taef2_encoder", dtype=None)["0.weight"].dtype == torch.float16


def test_a_wrong_hash_is_refused(tmp_path, monkeypatch, no_network, empty_cache):
    (tmp_path / "weights").mkdir()
    torch.save({"0.weight": torch.zeros(1)}, tmp_path / "weights" / "taef2_decoder.pth")
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    with pytest.raises(weights.WeightsMissing, match="SHA-256"):
        weights.weights_path("taef2_decoder")


def test_offline_missing_file_names_the_folder(tmp_path, monkeypatch, no_network, empty_cache):
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path))
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")
    with pytest.raises(weights.WeightsMissing) as info:
        taef2()
    message = str(info.value)
    assert "taef2_encoder.pth" in message and str(tmp_path / "weights") in message
    assert "JSCC_LAB_OFFLINE=1" in message


def test_download_goes_to_the_pinned_url_and_checks_the_hash(tmp_path, monkeypatch, empty_cache):
    """Online, a missing file is fetched from the pinned commit URL into the user cache, and a
    download with the wrong content is deleted, not used."""
    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("JSCC_LAB_OFFLINE", raising=False)
    asked = []

    def fake_download(url, dest, sha256=None, progress=True):
        asked.append((url, dest, sha256))
        raise OSError("SHA-256 mismatch (simulated)")

    monkeypatch.setattr("jscc_lab.files.download_file", fake_download)
    with pytest.raises(weights.WeightsMissing, match="SHA-256 mismatch"):
        weights.weights_path("taef2_decoder")
    url, dest, sha = asked[0]
    assert url.startswith("https://raw.githubusercontent.com/madebyollin/taesd/5cccb12dc72074a4")
    assert dest == tmp_path / "cache" / "jscc_lab" / "weights" / "taef2_decoder.pth"
    assert sha == weights.WEIGHTS["taef2_decoder"].sha256


def test_unknown_weight_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="taef2_encoder"):
        weights.weights_path("taef1")


# ---------------------------------------------------------------------------------------------
# the port is exact
# ---------------------------------------------------------------------------------------------


def test_taef2_reproduces_the_published_network_on_a_kodak_crop(ae, data_root):
    """Values pinned from the published weights (strict load) on kodim01's 128x128 centre crop."""
    encoder, decoder = ae
    x = center_crop(kodak()[0], 128)
    with torch.no_grad():
        z = encoder(x)
        x_hat = decoder(z).clamp(0, 1)
    assert z.shape == (1, 32, 16, 16)
    assert z[0, :3, 0, 0].tolist() == pytest.approx([0.94014, -0.09915, -1.27884], abs=2e-4)
    assert z.abs().mean().item() == pytest.approx(0.65584, abs=1e-4)
    assert psnr(x, x_hat).item() == pytest.approx(24.9497, abs=0.01)


@pytest.mark.slow
def test_taef2_kodak_crops_ceiling(ae, data_root):
    encoder, decoder = ae
    x = torch.cat([center_crop(im, 256) for im in kodak()])
    with torch.no_grad():
        x_hat = decoder(encoder(x)).clamp(0, 1)
    assert psnr(x, x_hat).mean().item() == pytest.approx(29.53, abs=0.05)


def test_layouts_load_strictly():
    with pytest.raises(RuntimeError, match="Missing key|Unexpected key"):
        TAEF2Decoder().load_state_dict(TAEF2Encoder().state_dict(), strict=True)


# ---------------------------------------------------------------------------------------------
# the JSCC family on top
# ---------------------------------------------------------------------------------------------


def small_model(**kw):
    torch.manual_seed(0)
    return TAEJSCC(width=16, blocks=1, pretrained=False, **kw)


@pytest.mark.parametrize("family", ["taejscc", "scratchjscc"])
@pytest.mark.parametrize("cbr,channels", [("1/96", 16), ("1/48", 32), ("1/24", 64), ("1/12", 128)])
def test_encode_sends_cbr_times_n_unit_power_symbols(cbr, channels, family):
    """Both families around an image autoencoder (pretrained TAEF2, or learned transforms)."""
    torch.manual_seed(0)
    model = small_model() if family == "taejscc" else build_model(family, width=16, blocks=1, transform_width=16)
    x = torch.rand(3, 3, 48, 80)
    s = model.encode(x, snr_db=5.0, cbr=cbr)
    k = int(round(3 * 48 * 80 * float(eval(cbr))))
    assert s.shape == (3, k) and s.dtype == torch.complex64
    assert torch.allclose(s.abs().square().mean(1), torch.ones(3), atol=1e-5)
    assert model.symbol_channels(cbr) == channels
    assert model.channel_uses(48, 80, cbr=cbr) == k


def test_decode_of_encode_equals_forward_without_noise():
    model = small_model().eval()
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        for cbr in model.cbrs:
            s = model.encode(x, 40.0, cbr=cbr)
            a = model.decode(s, 40.0, cbr=cbr, size=(32, 48))
            # forward adds noise at 80 dB: indistinguishable from the noiseless decode
            b = model(x, 80.0, cbr=cbr, generator=torch.Generator().manual_seed(0))
            assert a.shape == x.shape
            # the SNR input differs (40 vs 80 dB), so compare with matching SNR
            c = model.decode(model.channel(s, 80.0, generator=torch.Generator().manual_seed(0)), 80.0, cbr=cbr,
                             size=(32, 48))
            assert torch.allclose(b, model.decode(s, 80.0, cbr=cbr, size=(32, 48)), atol=1e-3)
            assert torch.allclose(c, b, atol=1e-3)


def test_per_image_cbr_matches_one_cbr_at_a_time():
    model = small_model().eval()
    x = torch.rand(4, 3, 32, 32)
    cbrs = torch.tensor([1 / 96, 1 / 12, 1 / 48, 1 / 24], dtype=torch.float64)
    with torch.no_grad():
        z = model.latent(x)
        mixed = model.latent_forward(z, 100.0, cbr=cbrs, generator=torch.Generator().manual_seed(1))
        for i, c in enumerate(cbrs.tolist()):
            one = model.latent_forward(z[i : i + 1], 100.0, cbr=c, generator=torch.Generator().manual_seed(1))
            assert torch.allclose(mixed[i], one[0], atol=2e-3)


def test_bad_cbr_and_images_are_refused():
    model = small_model(cbrs=("1/48", "1/12"))
    assert model.cbrs == (1 / 48, 1 / 12)
    with pytest.raises(ValueError, match="cbr must be one of this model's cbrs 1/48, 1/12"):
        model.encode(torch.rand(1, 3, 32, 32), cbr="1/24")
    with pytest.raises(ValueError, match="multiple of 1/1536"):
        TAEJSCC(cbrs=("1/1000",), pretrained=False)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model.encode(torch.rand(3, 32, 32))


def test_untrained_model_at_cbr_1_12_transmits_the_latent(ae, data_root):
    """The linear paths start as the identity: at CBR 1/12 and high SNR, the untrained model is
    the TAEF2 autoencoder up to the power scaling of the symbols (and the decoder's soft clamp)."""
    model = TAEJSCC(width=16, blocks=1).eval()
    x = center_crop(kodak()[0], 128)
    with torch.no_grad():
        ceiling = psnr(x, ae[1](ae[0](x)).clamp(0, 1)).item()
        got = psnr(x, model(x, 40.0, cbr="1/12", generator=torch.Generator().manual_seed(0)).clamp(0, 1)).item()
    assert got > ceiling - 3.0


def test_checkpoints_round_trip_through_the_registry_builder(tmp_path):
    from jscc_lab.pretrained import load_checkpoint, model_from_checkpoint
    from jscc_lab.train import save_checkpoint

    model = small_model()
    spec = {"name": "taejscc", "channel": "awgn", "kwargs": {"width": 16, "blocks": 1}}
    save_checkpoint({"model": spec, "state_dict": model.state_dict()}, tmp_path / "m.pt")
    again = model_from_checkpoint(load_checkpoint(tmp_path / "m.pt"))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again.eval().encode(x, cbr="1/48"), model.eval().encode(x, cbr="1/48"))
    assert build_model("taejscc", width=16, blocks=1, pretrained=False).cbrs == model.cbrs


@pytest.mark.parametrize("loss", ["latent", "image"])
def test_a_training_step_lowers_the_loss_on_a_fixed_batch(loss):
    from jscc_lab.train import latent_mse_objective, mse_objective

    model = small_model()
    objective = latent_mse_objective if loss == "latent" else mse_objective
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    cbr = torch.tensor([1 / 96, 1 / 48, 1 / 24, 1 / 12], dtype=torch.float64)
    params = [p for n, p in model.named_parameters() if not n.startswith("ae_encoder")]
    opt = torch.optim.Adam(params, lr=1e-3)

    def value():
        return objective(model, x, torch.full((4,), 10.0), torch.Generator().manual_seed(5), cbr=cbr)[0]

    before = value().item()
    for _ in range(5):
        opt.zero_grad()
        value().backward()
        opt.step()
    assert value().item() < before * 0.98


def test_sweep_and_reconstruct_cover_the_cbrs_of_one_model():
    from jscc_lab.evaluate import reconstruct, sweep

    model = small_model(cbrs=("1/48", "1/12"))
    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    rows = sweep(model, images, snrs_db=[10.0], metrics=("psnr",))
    assert sorted({r["cbr"] for r in rows}) == [1 / 48, 1 / 12] and len(rows) == 4
    assert len(sweep(model, images, [10.0], metrics=("psnr",), cbrs=[1 / 12])) == 2
    again = reconstruct(model, images, 10.0, cbr=1 / 48, indices=[1])[0]
    row = next(r for r in rows if r["cbr"] == 1 / 48 and r["image"] == 1)
    assert psnr(images[1:2], again).item() == pytest.approx(row["psnr"], abs=1e-4)
    with pytest.raises(ValueError, match="rate-adaptive"):
        reconstruct(model, images, 10.0)
    assert model.training, "sweep leaves the model in the mode it found it"


def test_the_encoder_runs_once_per_image_in_a_sweep():
    model = small_model().eval()
    calls = []
    model.ae_encoder.register_forward_hook(lambda *a: calls.append(1))
    x = torch.rand(1, 3, 40, 40)  # padded to 48x48 inside
    with torch.no_grad():
        first = model(x, 10.0, cbr="1/48", generator=torch.Generator().manual_seed(0))
        for snr in (0.0, 10.0, 20.0):
            for cbr in model.cbrs:
                model(x, snr, cbr=cbr)
        assert len(calls) == 1
        again = model(x, 10.0, cbr="1/48", generator=torch.Generator().manual_seed(0))
        assert torch.equal(first, again)
        x.mul_(0.5)  # changed in place: encoded anew
        model(x, 10.0)
        assert len(calls) == 2
        others = [torch.rand(1, 3, 32, 32) for _ in range(3)]
        for cbr in model.cbrs:  # a sweep's order: CBR, SNR, then every image
            for other in others:
                model(other, 10.0, cbr=cbr)
        assert len(calls) == 5, "each image of a sweep is encoded once"
    model.train()
    model(x, 10.0)
    assert len(calls) == 6, "training always encodes"


def test_outputs_are_images_in_eval_and_raw_in_training():
    model = small_model()
    with torch.no_grad():
        model.ae_decoder[-1].bias.fill_(2.0)  # push the decoder out of range
        x = torch.rand(1, 3, 32, 32)
        assert model(x, 10.0).max() > 1.5  # training mode: the loss sees the overshoot
        model.eval()
        assert model(x, 10.0).max() <= 1.0 and model.decode(model.encode(x), 10.0, size=(32, 32)).max() <= 1.0


def test_half_precision_export_loads_into_float32(tmp_path):
    from jscc_lab.pretrained import load_checkpoint, model_from_checkpoint
    from jscc_lab.train import export_checkpoint, save_checkpoint

    model = small_model().eval()
    spec = {"name": "taejscc", "channel": "awgn", "kwargs": {"width": 16, "blocks": 1}}
    save_checkpoint({"model": spec, "state_dict": model.state_dict(), "optimizer": {}}, tmp_path / "run.pt")
    export_checkpoint(tmp_path / "run.pt", tmp_path / "half.pt", {"note": "x"}, half=True)
    ckpt = load_checkpoint(tmp_path / "half.pt")
    assert "optimizer" not in ckpt and ckpt["provenance"]["note"] == "x"
    assert ckpt["state_dict"]["transmitter.head.weight"].dtype == torch.float16
    again = model_from_checkpoint(ckpt).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a = model(x, 10.0, cbr="1/24", generator=torch.Generator().manual_seed(0))
        b = again(x, 10.0, cbr="1/24", generator=torch.Generator().manual_seed(0))
    assert next(again.parameters()).dtype == torch.float32
    assert (a - b).abs().max() < 0.02


@pytest.mark.parametrize("size", [(37, 53), (32, 32), (1, 1), (66, 4)])
def test_any_input_size_comes_back_the_same_size(size):
    model = small_model().eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        for cbr in ("1/96", "1/12"):
            s = model.encode(x, 10.0, cbr=cbr)
            assert s.shape[1] == model.channel_uses(*size, cbr=cbr)
            x_hat = model.decode(s, 10.0, cbr=cbr, size=size)
            assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1


def test_at_cbr_serves_a_rate_adaptive_model_as_a_single_cbr_one():
    from jscc_lab.models import AtCBR

    model = small_model().eval()
    fixed = AtCBR(model, 1 / 48)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        s = fixed.encode(x, 10.0)
        assert torch.equal(s, model.encode(x, 10.0, cbr="1/48"))
        assert torch.equal(fixed.decode(s, 10.0, size=(32, 32)), model.decode(s, 10.0, cbr="1/48", size=(32, 32)))
    assert fixed.cbr == pytest.approx(1 / 48) and not fixed.training
    with pytest.raises(ValueError, match="not among"):
        AtCBR(model, 1 / 36)


def test_inference_mode_inputs_work():
    model = small_model().eval()
    with torch.inference_mode():
        x = torch.rand(1, 3, 32, 32)
        assert model(x, 10.0, cbr="1/48").shape == x.shape


def test_shipped_rate_adaptive_checkpoint_rises_with_cbr_and_snr(data_root):
    from jscc_lab import pretrained

    if "taejscc-psnr-awgn" not in pretrained.available():
        pytest.skip("taejscc-psnr-awgn is not registered")
    model = pretrained.load("taejscc-psnr-awgn")
    x = torch.cat([center_crop(im, 128) for im in kodak()[:2]])
    with torch.no_grad():
        def value(snr, cbr):
            return psnr(x, model(x, snr, cbr=cbr, generator=torch.Generator().manual_seed(0))).mean().item()

        by_cbr = [value(10.0, c) for c in model.cbrs]
        by_snr = [value(s, 1 / 48) for s in (0.0, 10.0, 20.0)]
        s = model.encode(x, 10.0, cbr="1/24")
    assert all(a < b for a, b in zip(by_cbr, by_cbr[1:])), by_cbr
    assert all(a < b for a, b in zip(by_snr, by_snr[1:])), by_snr
    assert s.shape[1] == 128 * 128 * 3 // 24
    assert torch.allclose(s.abs().square().mean(1), torch.ones(2), atol=1e-4)


def test_a_single_cbr_run_starts_from_a_rate_adaptive_checkpoint(image_dirs, tmp_path):
    """What rate adaptivity costs is measured by a run at one CBR from the same start: init_from
    accepts a checkpoint whose model differs only in the CBRs served, nothing else."""
    from jscc_lab.train import CHECKPOINT_FORMAT, TrainConfig, Trainer, save_checkpoint

    model = small_model()
    spec = {"name": "taejscc", "channel": "awgn",
            "kwargs": {"width": 16, "blocks": 1, "cbrs": ["1/96", "1/48", "1/24", "1/12"]}}
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": model.state_dict()}, tmp_path / "ra.pt")

    def config(**kw):
        base = dict(name="one", model="taejscc", width=16, blocks=1, cbrs=["1/48"], crop=32, batch_size=2, steps=1,
                    device="cpu", threads=1, init_from=str(tmp_path / "ra.pt"), train_dir=str(image_dirs / "train"),
                    val_dir=str(image_dirs / "val"), val_crop=32, out_dir=str(tmp_path / "run"))
        return TrainConfig(**{**base, **kw})

    trainer = Trainer(config(), progress=False)
    assert trainer.model.cbr_names == ("1/48",)
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k
    with pytest.raises(ValueError, match="init_from=.* holds model"):
        Trainer(config(width=8, out_dir=str(tmp_path / "run2")), progress=False)


@pytest.mark.parametrize("family", ["taejscc", "scratchjscc"])
def test_grown_adapters_start_as_the_smaller_model(family, image_dirs, tmp_path):
    """More capacity around the channel without losing what a run learned: a model with more
    adapter blocks loads the smaller one's weights and starts with its exact output."""
    from jscc_lab.train import CHECKPOINT_FORMAT, TrainConfig, Trainer, save_checkpoint

    def build(**kw):
        return build_model(family, **kw, **({"pretrained": False} if family == "taejscc" else {}))

    torch.manual_seed(0)
    small = build(width=16, blocks=1)
    with torch.no_grad():  # a trained-looking model: the residual heads are not zero
        for p in small.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))

    def out(model):
        return model.eval()(x, 10.0, cbr="1/48", generator=torch.Generator().manual_seed(2))

    big = build(width=16, blocks=3)
    new = big.load_grown(small.state_dict())
    assert new and all(k.startswith(("transmitter.blocks.1.", "transmitter.blocks.2.", "receiver.blocks.1.",
                                      "receiver.blocks.2.")) for k in new)
    torch.testing.assert_close(out(big), out(small), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        build(width=8, blocks=3).load_grown(small.state_dict())
    with pytest.raises(ValueError, match="nothing to grow"):
        build(width=16, blocks=1).load_grown(small.state_dict())
    # the trainer's init_from accepts the smaller checkpoint for a config with more blocks
    spec = {"name": family, "channel": "awgn", "kwargs": {"width": 16, "blocks": 1, "cbrs": list(DEFAULT_CBRS)}}
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": small.state_dict()}, tmp_path / "s.pt")
    config = TrainConfig(name="grown", model=family, width=16, blocks=3, crop=32, batch_size=2, steps=1, device="cpu",
                         threads=1, init_from=str(tmp_path / "s.pt"), train_dir=str(image_dirs / "train"),
                         val_dir=str(image_dirs / "val"), val_crop=32, out_dir=str(tmp_path / "run"))
    trained = Trainer(config, progress=False).model  # channels_last on the CPU: same weights, other rounding
    for k, v in small.state_dict().items():
        assert torch.equal(trained.state_dict()[k], v), k
    torch.testing.assert_close(out(trained), out(small), rtol=0, atol=1e-3)


def test_export_leaves_a_frozen_published_encoder_to_its_file(tmp_path, data_root, monkeypatch, no_network):
    """``published=`` drops weights that are exactly a published file's and load_checkpoint reads
    them back; trained weights are refused; offline without the file, the error names the folder."""
    from jscc_lab.pretrained import load_checkpoint
    from jscc_lab.train import CHECKPOINT_FORMAT, export_checkpoint, save_checkpoint

    model = TAEJSCC(width=16, blocks=1, pretrained=True)
    spec = {"name": "taejscc", "channel": "awgn", "kwargs": {"width": 16, "blocks": 1}}
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": model.state_dict()}, tmp_path / "run.pt")
    out = export_checkpoint(tmp_path / "run.pt", tmp_path / "slim.pt", half=True,
                            published={"ae_encoder": "taef2_encoder"})
    raw = torch.load(out, weights_only=True)
    assert raw["published_weights"] == {"ae_encoder": "taef2_encoder"}
    assert not any(k.startswith("ae_encoder.") for k in raw["state_dict"])
    full = load_checkpoint(out)["state_dict"]
    assert full.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(full[k].float(), v.half().float()), k

    with torch.no_grad():
        model.ae_encoder[0].weight.add_(0.01)  # "trained": no longer the published file
    save_checkpoint({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": model.state_dict()}, tmp_path / "run.pt")
    with pytest.raises(ValueError, match="not those of taef2_encoder"):
        export_checkpoint(tmp_path / "run.pt", tmp_path / "bad.pt", published={"ae_encoder": "taef2_encoder"})

    monkeypatch.setenv("JSCC_LAB_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("JSCC_LAB_OFFLINE", "1")
    with pytest.raises(weights.WeightsMissing, match="taef2_encoder.pth"):
        load_checkpoint(out)


def test_full_fine_tuning_trains_the_encoder_and_export_keeps_it(image_dirs, tmp_path, data_root, no_network):
    """Stage 3 (taejscc_psnr_full.toml): nothing frozen, TAEF2 at lr * pretrained_lr_fraction. The
    encoder then differs from the published file, so ``jscc-lab export`` stores it in the release."""
    import tomllib
    from importlib import resources

    from jscc_lab.cli import main
    from jscc_lab.pretrained import load_checkpoint
    from jscc_lab.train import TrainConfig, Trainer

    stage3 = tomllib.loads((resources.files("jscc_lab") / "configs" / "taejscc_psnr_full.toml").read_text())
    assert stage3["freeze"] == [] and set(stage3["pretrained_modules"]) == {"ae_encoder", "ae_decoder"}
    cfg = TrainConfig(name="full", model="taejscc", width=16, blocks=1, cbrs=["1/48", "1/12"], crop=32, batch_size=2,
                      steps=2, lr=1e-3, warmup_steps=0, device="cpu", threads=1, loss="image",
                      freeze=stage3["freeze"], pretrained_modules=stage3["pretrained_modules"],
                      pretrained_lr_fraction=stage3["pretrained_lr_fraction"], train_dir=str(image_dirs / "train"),
                      val_dir=str(image_dirs / "val"), val_crop=32, out_dir=str(tmp_path / "run"))
    trainer = Trainer(cfg, progress=False)
    published = weights.load_weights("taef2_encoder")
    trainer.fit()
    trained = {k[len("ae_encoder."):]: v for k, v in trainer.model.state_dict().items() if k.startswith("ae_encoder.")}
    assert any(not torch.equal(trained[k], v) for k, v in published.items())

    out = tmp_path / "ckpts"
    assert main(["export", str(tmp_path / "run" / "last.pt"), "taejscc-psnr-awgn", "--out", str(out)]) == 0
    shipped = torch.load(out / "taejscc-psnr-awgn.pt", weights_only=True)
    assert "published_weights" not in shipped and any(k.startswith("ae_encoder.") for k in shipped["state_dict"])
    loaded = load_checkpoint(out / "taejscc-psnr-awgn.pt")["state_dict"]
    for k, v in trained.items():
        assert torch.equal(loaded["ae_encoder." + k].float(), v.half().float()), k
