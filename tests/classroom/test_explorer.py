"""The explorer widget: every control redraws its panels (driven the way a slider move is)."""

import time
from fractions import Fraction

import pytest
import torch

from jscc_lab.classroom import Explorer, explorer
from jscc_lab.models import ADJSCC, PerceptualJSCC


@pytest.fixture(scope="module")
def tiny_explorer():
    torch.manual_seed(0)
    perceptual = PerceptualJSCC("1/48", width=8, res_blocks=1).eval()
    with torch.no_grad():  # FiLM starts as the identity: give beta an effect, as training does
        for name, p in perceptual.named_parameters():
            if "film" in name.lower() or "cond" in name.lower():
                p.normal_(0.0, 0.5)
    models = {("psnr", 1 / 48): ADJSCC("1/48", width=8).eval(),
              ("perceptual", 1 / 48): perceptual,
              ("psnr", 1 / 24): ADJSCC("1/24", width=8).eval()}
    images = {"noise": torch.rand(1, 3, 80, 72, generator=torch.Generator().manual_seed(1)),
              "ramp": torch.linspace(0, 1, 64).repeat(1, 3, 64, 1)}
    return Explorer(images=images, models=models, crop=64, metrics=("psnr",))


def _panel_state(ex):
    return {name: (img.value, text.value) for name, (img, _, text) in ex.panels.items()}


@pytest.mark.parametrize("control, value", [
    ("snr", 3.0), ("beta", 0.3), ("channel_choice", "Rayleigh block"), ("image_choice", "ramp"),
    ("cbr", 1 / 24), ("zoom", False),
])
def test_every_control_redraws(tiny_explorer, control, value):
    ex = tiny_explorer
    before = _panel_state(ex)
    getattr(ex, control).value = value
    after = _panel_state(ex)
    assert "ms" in ex.status.value
    if control == "zoom":
        assert all(z.value == b"" for _, z, _ in ex.panels.values())
        return
    changed = [name for name in after if after[name] != before[name]]
    expected = {"beta": ["perceptual deep JSCC"]}.get(control)
    if expected:
        assert changed == expected  # only the realism-conditioned panel is recomputed
    else:
        assert "PSNR deep JSCC" in changed


def test_missing_checkpoint_is_said_not_hidden(tiny_explorer):
    ex = tiny_explorer
    ex.cbr.value = 1 / 24
    img, _, text = ex.panels["perceptual deep JSCC"]
    assert "no shipped checkpoint" in text.value and img.layout.display == "none"
    ex.cbr.value = 1 / 48
    assert img.layout.display == "" and "PSNR" in text.value


def test_revisits_hit_the_cache(tiny_explorer):
    ex = tiny_explorer
    ex.snr.value = 12.0
    first = ex.panels["PSNR deep JSCC"][0].value
    ex.snr.value = 13.0
    ex.snr.value = 12.0
    assert ex.panels["PSNR deep JSCC"][0].value == first


def test_explorer_rejects_empty_images():
    with pytest.raises(ValueError, match="images"):
        explorer(images={}, models={})


def _tiny_models():
    torch.manual_seed(0)
    return {("psnr", 1 / 48): ADJSCC("1/48", width=8).eval(),
            ("perceptual", 1 / 48): PerceptualJSCC("1/48", width=8, res_blocks=1).eval()}


def test_prefetch_fills_the_neighbours_with_the_same_pixels():
    images = {"noise": torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))}
    models = _tiny_models()
    eager = Explorer(images=images, models=models, crop=64, metrics=("psnr",), prefetch=False)
    ahead = Explorer(images=images, models=models, crop=64, metrics=("psnr",), prefetch=True)
    assert ahead.wait_prefetched(timeout=120)
    assert not ahead._prefetcher.errors
    planned = ahead._panel_key("PSNR deep JSCC", ahead.view()._replace(snr=11.0))
    assert planned in ahead._cache  # computed in the background, before any move
    for control, value in (("snr", 11.0), ("beta", 0.4), ("channel_choice", "Rayleigh block")):
        getattr(eager, control).value = value
        getattr(ahead, control).value = value
        assert _panel_state(ahead) == _panel_state(eager), control


def test_prefetch_plans_the_control_moved_last_first():
    """After a CBR move the other CBRs come first, after an SNR move every SNR (nearest first)
    before any beta or CBR position; without a move, one step of SNR and beta first."""
    images = {"noise": torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))}
    torch.manual_seed(0)
    models = {(kind, c): cls(str(Fraction(c).limit_denominator()), width=8).eval()
              for kind, cls in (("psnr", ADJSCC),) for c in (1 / 96, 1 / 48, 1 / 24, 1 / 12)}
    ex = Explorer(images=images, models=models, crop=64, metrics=("psnr",), prefetch=False, separate=False)
    view = ex.view()

    def changed(keys):
        return [next(f for f in ("snr", "cbr", "beta", "channel") if getattr(k[2], f) != getattr(view, f))
                for k in keys]

    first = changed(ex._neighbours(view))
    assert first[:2] == ["snr", "snr"] and "cbr" in first
    after_cbr = changed(ex._neighbours(view, "cbr"))
    assert after_cbr[:3] == ["cbr"] * 3
    keys = ex._neighbours(view, "snr")
    per_snr = len(ex.panels) - 1  # every panel but the original
    assert changed(keys)[:20 * per_snr] == ["snr"] * 20 * per_snr  # the whole slider (0-20 dB) first
    snrs = [k[2].snr for k in keys[:20 * per_snr] if k[1] == "PSNR deep JSCC"]
    assert snrs == sorted(snrs, key=lambda s: abs(s - view.snr)) and len(set(snrs)) == 20  # nearest first
    assert len(keys) == len(set(keys))
    with pytest.raises(ValueError, match="prefetch_threads"):
        Explorer(images=images, models=models, crop=64, prefetch_threads=0)


def test_a_background_failure_is_raised_by_the_foreground():
    class Broken(ADJSCC):
        def decode(self, y, snr_db, **kwargs):
            if float(torch.as_tensor(snr_db).reshape(-1)[0]) > 10.5:
                raise RuntimeError("decoder broke above 10.5 dB")
            return super().decode(y, snr_db, **kwargs)

    torch.manual_seed(0)
    images = {"noise": torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))}
    ex = Explorer(images=images, models={("psnr", 1 / 48): Broken("1/48", width=8).eval()},
                  crop=64, metrics=("psnr",), separate=False)
    assert ex.wait_prefetched(timeout=120)
    assert any("10.5 dB" in str(error) for _, error in ex._prefetcher.errors)
    with pytest.raises(RuntimeError, match="10.5 dB"):
        ex.snr.value = 11.0


def test_a_lost_separate_coding_image_is_said_not_shown_grey():
    # a 96x96 view at CBR 1/48: no HEVC file fits the bits of 0 dB, one fits those of 20 dB
    images = {"ramp": torch.linspace(0, 1, 96).repeat(1, 3, 96, 1)}
    ex = Explorer(images=images, models=_tiny_models(), crop=96, metrics=("psnr",), prefetch=False)
    ex.snr.value = 0.0
    img, zoom, text = ex.panels["HEVC + capacity"]
    lost = ex.lost["HEVC + capacity"]
    assert ex._separate(ex.view())[1] == "budget"
    assert "image lost: decoding failed" in lost.value and lost.layout.display == ""
    assert img.layout.display == "none" and zoom.layout.display == "none"
    assert "mid-grey" in text.value
    ex.snr.value = 20.0
    assert ex._separate(ex.view())[1] == "" and lost.layout.display == "none"
    assert img.layout.display == "" and "mid-grey" not in text.value


def test_the_zoom_row_is_labelled(tiny_explorer):
    ex = tiny_explorer
    ex.zoom.value = True
    ex.snr.value = 20.0
    for name, caption in ex.zoom_captions.items():  # shown with each zoom that is shown
        shown = ex.panels[name][1].layout.display
        assert "zoomed ×4" in caption.value and caption.layout.display == shown, name
    assert ex.zoom_captions["PSNR deep JSCC"].layout.display == ""
    ex.zoom.value = False
    assert all(c.layout.display == "none" for c in ex.zoom_captions.values())


def test_the_web_app_says_loading_then_ready():
    from jscc_lab.classroom import explorer_app

    images = {"noise": torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))}
    box = explorer_app(images=images, models=_tiny_models(), crop=64, metrics=("psnr",), prefetch=False)
    status = box.children[0]
    assert "Loading the models" in status.value
    for _ in range(600):
        if len(box.children) == 2:
            break
        time.sleep(0.1)
    assert "Ready" in status.value and box.children[1] is box.explorer.widget
    broken = explorer_app(images={}, models={})
    for _ in range(100):
        if "could not start" in broken.children[0].value:
            break
        time.sleep(0.1)
    assert "could not start" in broken.children[0].value and "images is empty" in broken.children[0].value
