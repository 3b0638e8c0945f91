"""Deep JSCC built on a pretrained autoencoder: TAEF2 encoder -> learned channel layers -> TAEF2 decoder.

The pretrained TAEF2 encoder (:mod:`jscc_lab.models.taef2`) turns an image into a 32-channel
latent at 1/8 resolution that its GAN-trained decoder renders back sharply. What is left to learn
is the part around the channel:

* **transmitter layers** regroup the latent's 2x2 neighbourhoods into ``128`` channels at 1/16
  resolution (``pixel_unshuffle``; that alone is exactly CBR 1/12) and add a learned, SNR- and
  CBR-conditioned residual (3x3 residual blocks at 1/16 resolution). The symbols are **ordered by
  importance**: for CBR ``rho`` only the first ``m = 1536 rho`` channels are sent (16, 32, 64,
  128 channels for 1/96, 1/48, 1/24, 1/12), power-normalised to unit mean power per image;
* any channel of :mod:`jscc_lab.channels`;
* **receiver layers** fill the channels that were not sent with zeros and undo the channel with
  a conditioned residual network back to the 32-channel latent at 1/8, which the decoder renders.

One set of weights is **rate-adaptive** (``model.cbrs``) and SNR-adaptive: training draws a CBR
and an SNR per image, so the first channels learn to carry the most. The linear paths start as the
identity, so an untrained model at CBR 1/12 already transmits the TAEF2 latent as analog symbols.

**Realism input** (``realism=True``, for the perceptual / GAN recipe of
:mod:`jscc_lab.train.gan`): the receiver is also told a realism weight ``beta`` in ``[0, 1]``
(Agustsson et al., CVPR 2023; as in :class:`~jscc_lab.models.perceptual.PerceptualJSCC`), so one
checkpoint serves every SNR, CBR and realism. ``beta`` enters the receiver's conditioning MLP
through one extra zero-initialised linear map (``rx_condition.beta.weight``): a model warm-started
from a PSNR checkpoint (``realism=False``, which has no such weight) starts as exactly that model
at every ``beta``. The transmitter never sees ``beta``: one transmission can be decoded at any
realism. With ``realism=False`` (the default) the model and its ``state_dict`` are unchanged.

**Conditioned decoder** (``decoder_film=True``): the receiver's conditioning vector (SNR, CBR and,
with ``realism=True``, ``beta``) also modulates the TAEF2 decoder, through a FiLM layer after each
of its four resolution stages (1/8, 1/4, 1/2, 1/1). Without it ``beta`` can only move the latent
that one shared decoder renders; with it the decoder itself can render the same latent smoother
(``beta = 0``) or with more texture (``beta = 1``), as the generator of Agustsson et al. does. The
FiLM layers start as the identity, so a checkpoint without them warm-starts this model unchanged
(their keys are in :meth:`TAEJSCC.realism_keys`).

Example
-------
>>> import torch
>>> from jscc_lab.models.taejscc import TAEJSCC
>>> model = TAEJSCC(width=32, blocks=1, pretrained=False)   # pretrained=True loads TAEF2
>>> x = torch.rand(2, 3, 64, 64)
>>> s = model.encode(x, cbr="1/48"); s.shape                # k = 64*64*3/48 complex symbols
torch.Size([2, 256])
>>> model(x, 10.0, cbr="1/12").shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from ..channels import AWGN, cbr_label, complex_to_real, latent_channels, real_to_complex
from .base import JSCCBase, check_images, check_size
from .layers import crop_to, pad_to_multiple, snr_tensor
from .perceptual import FiLM, beta_tensor
from .taef2 import LATENT_CHANNELS, TAEF2Decoder, TAEF2Encoder, _Block, taef2

__all__ = ["TAEJSCC", "DEFAULT_CBRS"]

#: the CBRs one checkpoint serves: 16, 32, 64 and 128 symbol channels at 1/16 resolution
DEFAULT_CBRS = ("1/96", "1/48", "1/24", "1/12")
_DOWN = 16                       # resolution of the transmitted symbols
_SLOTS = 4 * LATENT_CHANNELS     # real channels at 1/16 after pixel_unshuffle(2): CBR 1/12
_LATENT_CACHE = 32               # latents of recent input images kept in eval mode


def _cbr_channels(cbr) -> int:
    """Real channels ``m`` at 1/16 resolution for ``cbr`` (``m = 6 * 16^2 * cbr``, at most 128)."""
    try:
        m = latent_channels(cbr, _DOWN)
    except (TypeError, ValueError):
        m = 0
    if not 0 < m <= _SLOTS:
        raise ValueError(f"cbr must be a multiple of 1/1536 in (0, 1/12], got {cbr!r}")
    return m


#: ``beta`` enters the receiver's conditioning as ``BETA_GAIN * beta``. Its weights start at zero
#: and Adam moves each weight by about ``lr`` per step whatever the gradient's size, so without a
#: gain the realism pathway stays ~100 times weaker than the SNR / CBR one for thousands of steps
#: (measured: after 300 GAN steps at lr 1e-4, |weight| 0.005 against 0.35, and DISTS identical
#: at beta 0 and 1).
BETA_GAIN = 32.0


class _Condition(nn.Module):
    """``(snr_db, cbr)`` -> conditioning vector ``(N, dim)``: SNR as ``snr/20``, CBR as
    ``log2(m / 128)``, through a two-layer MLP with SiLU.

    ``realism=True`` adds the realism weight ``beta`` ``(N,)``: ``BETA_GAIN * beta`` times a learned
    vector (``self.beta``, a bias-free ``Linear(1, dim)`` initialised to zero) is added to the first
    layer's pre-activation. Zero at the start, so the conditioning equals that of a model without
    the realism input (and a checkpoint of one loads into the rest of the weights unchanged).
    """

    def __init__(self, dim: int, realism: bool = False):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2, dim), nn.SiLU(), nn.Linear(dim, dim), nn.SiLU())
        if realism:
            self.beta = nn.Linear(1, dim, bias=False)
            nn.init.zeros_(self.beta.weight)
        else:
            self.beta = None

    def forward(self, snr_db: torch.Tensor, m: torch.Tensor, beta: torch.Tensor | None = None) -> torch.Tensor:
        c = torch.stack([snr_db.float() / 20.0, torch.log2(m.float() / _SLOTS)], dim=1)
        if self.beta is None:
            return self.mlp(c)
        if beta is None:
            raise ValueError("this conditioning has a realism input: pass beta")
        h = self.mlp[0](c) + self.beta(BETA_GAIN * beta.float().view(-1, 1).to(c.device))
        for layer in self.mlp[1:]:
            h = layer(h)
        return h


class _ResBlock(nn.Module):
    """conv3 -> FiLM -> SiLU -> conv3 -> FiLM, plus the input. ``(N, C, h, w)`` in and out."""

    def __init__(self, width: int, cond_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.film1, self.film2 = FiLM(cond_dim, width), FiLM(cond_dim, width)

    def forward(self, x, cond):
        h = F.silu(self.film1(self.conv1(x), cond))
        return x + self.film2(self.conv2(h), cond)


class _Adapter(nn.Module):
    """``(N, 128, h, w)`` -> ``(N, 128, h, w)``: a 1x1 linear path (identity at start) plus a
    conditioned residual network (``blocks`` blocks of ``width`` channels; its output conv starts
    at zero, so the adapter starts as the identity)."""

    def __init__(self, c_in: int, width: int, blocks: int, cond_dim: int):
        super().__init__()
        self.linear = nn.Conv2d(c_in, _SLOTS, 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(_SLOTS).view(_SLOTS, _SLOTS, 1, 1))
            self.linear.bias.zero_()
        self.stem = nn.Conv2d(c_in, width, 3, padding=1)
        self.blocks = nn.ModuleList([_ResBlock(width, cond_dim) for _ in range(blocks)])
        self.head = nn.Conv2d(width, _SLOTS, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, u, cond):
        h = self.stem(u)
        for block in self.blocks:
            h = block(h, cond)
        return self.linear(u) + self.head(F.silu(h))


def _decoder_stage_ends(decoder: nn.Sequential) -> list[int]:
    """Indices of the TAEF2 decoder's layers that end a resolution stage: the last residual block
    before each upsampling and before the output conv (four: 1/8, 1/4, 1/2, 1/1)."""
    layers = list(decoder)
    return [i for i, (a, b) in enumerate(zip(layers, layers[1:]))
            if isinstance(a, _Block) and not isinstance(b, _Block)]


class TAEJSCC(JSCCBase):
    """Rate- and SNR-adaptive deep JSCC around the pretrained TAEF2 autoencoder.

    Parameters
    ----------
    width, blocks : channels and residual blocks of each learned adapter (at 1/16 resolution).
    cbrs : the CBRs this model serves (multiples of 1/1536 up to 1/12), listed in ``model.cbrs``.
    channel : channel module (default :class:`~jscc_lab.channels.AWGN`).
    default_snr_db, default_cbr : used when ``snr_db`` / ``cbr`` are not given.
    pretrained : load the published TAEF2 weights (``False``: random, e.g. before loading a
        checkpoint that holds fine-tuned ones).
    cond_dim : size of the (SNR, CBR) conditioning vector.
    realism : give the receiver a realism input ``beta`` in ``[0, 1]`` (for the GAN recipe of
        :mod:`jscc_lab.train.gan`; adds one weight, ``rx_condition.beta.weight``). ``False``: the
        PSNR model, its ``state_dict`` exactly as without this option.
    default_beta : realism weight ``forward`` / ``decode`` use when ``beta`` is not given
        (``realism=True`` only; 1.0: the full GAN reconstruction).
    decoder_film : condition the TAEF2 decoder on the receiver's conditioning vector (FiLM after
        each resolution stage, identity at the start; see the module docstring).

    Call
    ----
    ``model(x, snr_db, cbr=None, generator=None, *, beta=None, return_latent=False) -> x_hat``:
    ``x`` ``(N, 3, H, W)`` in ``[0, 1]``
    (``x_hat`` in ``[0, 1]``; unclamped in training mode, so the MSE sees overshoots)
    (padded to multiples of 16 and cropped back); ``snr_db`` float or ``(N,)``; ``cbr`` one of
    ``model.cbrs`` (or, in training, an ``(N,)`` tensor of them: one CBR per image); ``beta``
    float or ``(N,)`` in ``[0, 1]`` (``realism=True`` only). With ``return_latent=True`` returns
    ``(x_hat, z_rx)``: ``z_rx`` ``(N, 128, H'/16, W'/16)`` is what the receiver holds, the
    received (equalised) symbol grid of the padded image ``H' x W'`` with the channels that were
    not sent at each image's CBR set to zero -- what the GAN discriminator is conditioned on
    (independent of ``beta``; its zero channels tell the CBR). ``model.latent_channels`` (128) and
    ``model.downsample`` (16) describe that grid, as for
    :class:`~jscc_lab.models.base.JSCCModel`; the TAEF2 latent of :meth:`latent` is another
    thing (32 channels at 1/8).
    ``encode(x, snr_db=None, cbr=None) -> s`` ``(N, k)`` complex64, ``k = channel_uses(H, W, cbr)``,
    unit mean power per image (never depends on ``beta``);
    ``decode(y, snr_db=None, *, cbr=None, beta=None, size) -> x_hat`` (``size=(H, W)`` required).

    CBR counting: ``k <= floor(cbr * 3 H W)``. On image sizes that are not multiples of 16 the
    padded grid holds more symbols than that; the transmitter keeps the first ``k`` (channel-major
    order, so the least important are dropped), normalises their power, and the receiver
    zero-fills the rest (truncation, as :class:`~jscc_lab.models.base.JSCCModel` does).
    """

    rate_adaptive = True

    #: the received symbol grid ``z_rx`` of ``forward(..., return_latent=True)``: channels, and
    #: image size / grid size (the discriminator of :mod:`jscc_lab.train.gan` is built from these)
    latent_channels = _SLOTS
    downsample = _DOWN
    #: modules that training keeps frozen at a published weight file of :mod:`jscc_lab.weights`:
    #: ``jscc-lab export`` leaves them out of the release file (checked bit-equal first)
    published_weights = {"ae_encoder": "taef2_encoder"}

    def __init__(self, width: int = 256, blocks: int = 6, cbrs=DEFAULT_CBRS,
                 channel: nn.Module | None = None, default_snr_db: float = 10.0,
                 default_cbr: str | None = None, pretrained: bool = True, cond_dim: int = 64,
                 realism: bool = False, default_beta: float = 1.0, decoder_film: bool = False):
        super().__init__()
        for name, value, low in (("width", width, 1), ("blocks", blocks, 0), ("cond_dim", cond_dim, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        self.cbr_names = tuple(str(Fraction(str(c))) for c in cbrs)
        if not self.cbr_names:
            raise ValueError("cbrs must list at least one CBR, e.g. ('1/48', '1/12')")
        self._m = {name: _cbr_channels(name) for name in self.cbr_names}
        self.default_cbr = str(Fraction(str(default_cbr))) if default_cbr else self.cbr_names[-1]
        if self.default_cbr not in self._m:
            raise ValueError(f"default_cbr={default_cbr!r} is not among cbrs {self.cbr_names}")
        self.width, self.blocks, self.default_snr_db = width, blocks, float(default_snr_db)
        for name, value in (("realism", realism), ("decoder_film", decoder_film)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        beta_tensor(default_beta, 1)  # validates the range
        self.realism, self.default_beta = realism, float(default_beta)
        self.channel = AWGN() if channel is None else channel
        if pretrained:
            self.ae_encoder, self.ae_decoder = taef2()
        else:
            self.ae_encoder, self.ae_decoder = TAEF2Encoder(), TAEF2Decoder()
        self.tx_condition, self.rx_condition = _Condition(cond_dim), _Condition(cond_dim, realism)
        self.transmitter = _Adapter(_SLOTS, width, blocks, cond_dim)
        self.receiver = _Adapter(_SLOTS, width, blocks, cond_dim)
        self._film_at = _decoder_stage_ends(self.ae_decoder) if decoder_film else []
        self.decoder_film = (nn.ModuleList([FiLM(cond_dim, self.ae_decoder[i].conv[-1].out_channels)
                                            for i in self._film_at]) if decoder_film else None)
        self._latent_cache: list = []

    # ---- bookkeeping -------------------------------------------------------------------------

    @property
    def cbrs(self) -> tuple[float, ...]:
        """The CBRs this model serves, as floats (ascending as configured)."""
        return tuple(float(Fraction(c)) for c in self.cbr_names)

    def symbol_channels(self, cbr=None) -> int:
        """Real channels ``m`` at 1/16 resolution sent at ``cbr`` (default ``default_cbr``)."""
        if cbr is None:
            return self._m[self.default_cbr]
        try:
            m = latent_channels(cbr, _DOWN)
        except (TypeError, ValueError):
            m = None
        if m not in self._m.values():
            raise ValueError(f"cbr must be one of this model's cbrs {', '.join(self.cbr_names)}, got {cbr!r}")
        return m

    def _channels_per_image(self, cbr, n: int, device) -> torch.Tensor:
        """``(N,)`` long tensor of ``m`` per image from a CBR, or an ``(N,)`` tensor of CBRs."""
        if isinstance(cbr, torch.Tensor) and cbr.ndim == 1:
            if cbr.numel() != n:
                raise ValueError(f"cbr must be one CBR or a tensor of shape (N,) = ({n},), got {tuple(cbr.shape)}")
            return torch.tensor([self.symbol_channels(float(c)) for c in cbr.tolist()], device=device)
        return torch.full((n,), self.symbol_channels(cbr), device=device, dtype=torch.long)

    def _betas(self, beta, n: int, device) -> torch.Tensor | None:
        """``(N,)`` realism weights for the receiver (``default_beta`` when ``beta`` is None);
        ``None`` for a model without the realism input, which refuses a ``beta``."""
        if not self.realism:
            if beta is not None:
                raise ValueError("beta (realism weight) needs a model built with realism=True; "
                                 "this TAEJSCC has no realism input")
            return None
        return beta_tensor(self.default_beta if beta is None else beta, n, device)

    def realism_keys(self) -> list[str]:
        """``state_dict`` keys of the weights that start at zero so that a checkpoint without them
        (a PSNR model; a realism model without ``decoder_film``) warm-starts this one unchanged:
        the realism input and the decoder FiLM layers (empty for a plain PSNR model)."""
        keys = [f"rx_condition.beta.{k}" for k in self.rx_condition.beta.state_dict()] if self.realism else []
        if self.decoder_film is not None:
            keys += [f"decoder_film.{k}" for k in self.decoder_film.state_dict()]
        return keys

    def load_grown(self, state: dict) -> list[str]:
        """Load the ``state_dict`` of the same model with fewer residual blocks per adapter (more
        capacity around the channel for a model that has stopped improving): every weight of
        ``state`` must fit, and each adapter's extra blocks start as the identity (their second
        conv zero, their FiLM layers already are), so this model starts as that checkpoint's.
        Returns the new keys."""
        try:
            missing, unexpected = self.load_state_dict(state, strict=False)
        except RuntimeError as err:  # a shape mismatch: another width
            raise ValueError(f"load_grown: the weights do not match (same model with fewer blocks needed): "
                             f"{str(err).splitlines()[-1].strip()}") from err
        grown = [f"{side}.blocks.{i}." for side, adapter in (("transmitter", self.transmitter), ("receiver", self.receiver))
                 for i in range(len(adapter.blocks)) if f"{side}.blocks.{i}.conv1.weight" in missing]
        wrong = sorted(k for k in missing if not k.startswith(tuple(grown))) + sorted(unexpected)
        if wrong or not grown:
            raise ValueError("load_grown needs the state of this model with fewer adapter blocks; "
                             + (f"these keys do not match: {wrong}" if wrong else "nothing to grow"))
        with torch.no_grad():
            for prefix in grown:
                side, _, i, _ = prefix.split(".")
                conv2 = getattr(self, side).blocks[int(i)].conv2
                conv2.weight.zero_()
                conv2.bias.zero_()
        return sorted(k for k in missing)

    def channel_uses(self, height: int, width: int, cbr=None) -> int:
        """Complex channel uses ``k`` actually sent for a ``height x width`` image at ``cbr``
        (default ``default_cbr``): ``min(m h' w' / 2, floor(cbr * 3 H W))`` with ``h', w'`` the
        padded 1/16 grid (the second term is smaller only off the 16-pixel grid: truncation)."""
        m = self.symbol_channels(cbr)
        hp, wp = -(-height // _DOWN), -(-width // _DOWN)
        return min(m * hp * wp // 2, m * height * width // (2 * _DOWN ** 2))  # floor(m/1536 * 3HW)

    def cbr_used(self, height: int, width: int, cbr=None) -> float:
        """CBR actually used on a ``height x width`` image: ``channel_uses / (3 H W)``."""
        return self.channel_uses(height, width, cbr) / (3 * height * width)

    @staticmethod
    def _kept_reals(m: torch.Tensor, size, grid) -> torch.Tensor | None:
        """``(N,)`` reals sent per image (``2 k``) for symbol channels ``m`` on a ``grid`` ``(h, w)``
        of an image of ``size`` ``(H, W)``; ``None`` when nothing is truncated (or no size)."""
        if size is None:
            return None
        h, w = grid
        full = m * (h * w)
        kept = torch.minimum(full, 2 * ((m * (int(size[0]) * int(size[1]))) // (2 * _DOWN ** 2)))
        return None if bool((kept == full).all()) else kept

    # ---- the pieces --------------------------------------------------------------------------

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """TAEF2 latent ``(N, 32, H'/8, W'/8)`` of images ``(N, 3, H, W)`` padded to ``H', W'``,
        multiples of 16.

        Without gradients, the latents of the most recent input tensors (up to 32, e.g. Kodak-24) are
        kept: a sweep over SNRs and CBRs (or an explorer's views) runs the encoder once per image.
        The cache holds each tensor itself, its version counter and the autocast precision it was
        encoded in, so a changed or different tensor, or another precision, is re-encoded.
        """
        if torch.is_grad_enabled() or self.training or x.is_inference():  # inference tensors: no version
            return self.ae_encoder(pad_to_multiple(x, _DOWN)[0])
        precision = (torch.is_autocast_enabled(x.device.type), torch.get_autocast_dtype(x.device.type))
        for i, (cached_x, version, cached_precision, z) in enumerate(self._latent_cache):
            if cached_x is x and version == x._version and cached_precision == precision:
                self._latent_cache.append(self._latent_cache.pop(i))  # most recently used last
                return z
        z = self.ae_encoder(pad_to_multiple(x, _DOWN)[0])
        self._latent_cache = (self._latent_cache + [(x, x._version, precision, z)])[-_LATENT_CACHE:]
        return z

    def transmit_latent(self, z: torch.Tensor, snr: torch.Tensor, m: torch.Tensor, size=None) -> torch.Tensor:
        """Latent ``(N, 32, h, w)`` -> symbols on the 1/16 grid ``(N, 128, h/2, w/2)`` with the
        channels beyond ``m`` (per image) zeroed and unit mean power over the sent ones (float32:
        under bf16 autocast the power normalisation still runs in full precision). ``size``
        ``(H, W)``: the image's size; off the 16-pixel grid the reals beyond ``2 floor(cbr 3 H W)``
        (channel-major order) are zeroed too, before the power normalisation."""
        u = F.pixel_unshuffle(z, 2)
        s = self.transmitter(u, self.tx_condition(snr, m)).float()
        kept = self._kept_reals(m, size, s.shape[-2:])
        mask = self._mask(m, s, kept)
        s = s * mask
        if kept is None:
            symbols = m.view(-1, 1, 1, 1).to(s.dtype) * s.shape[-2] * s.shape[-1] / 2  # 2 reals each
        else:
            symbols = kept.clamp_min(1).view(-1, 1, 1, 1).to(s.dtype) / 2  # a tiny image may get none
        power = s.square().sum(dim=(1, 2, 3), keepdim=True) / symbols
        return s / power.clamp_min(1e-12).sqrt()

    def receive_latent(self, r: torch.Tensor, cond: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Received grid ``(N, 128, h, w)`` (zeros where nothing was sent) -> latent ``(N, 32, 2h, 2w)``;
        ``cond`` ``(N, cond_dim)``: the receiver's conditioning (:meth:`receiver_condition`)."""
        r = r * self._mask(m, r)
        return F.pixel_shuffle(self.receiver(r, cond), 2)

    def receiver_condition(self, snr: torch.Tensor, m: torch.Tensor, beta: torch.Tensor | None = None) -> torch.Tensor:
        """``(N,)`` SNRs (dB), symbol channels and realism weights (``realism=True`` only) ->
        the conditioning vector ``(N, cond_dim)`` of the receiver (and of the decoder FiLM layers)."""
        return self.rx_condition(snr, m, beta)

    @staticmethod
    def _mask(m: torch.Tensor, like: torch.Tensor, kept: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, 128, h, w)`` 0/1 mask of what is sent: the first ``m`` channels, or (``kept``
        given) the first ``kept`` reals in channel-major order."""
        if kept is not None:
            idx = torch.arange(like[0].numel(), device=like.device).view(1, *like.shape[1:])
            return (idx < kept.view(-1, 1, 1, 1)).to(like.dtype)
        idx = torch.arange(_SLOTS, device=like.device).view(1, -1, 1, 1)
        return (idx < m.view(-1, 1, 1, 1)).to(like.dtype)

    def _through_channel(self, s: torch.Tensor, snr_db, generator, channel=None) -> torch.Tensor:
        """Send the whole ``(N, 128, h, w)`` grid (zeros are not sent: the receiver masks them)."""
        y = (self.channel if channel is None else channel)(real_to_complex(s), snr_db, generator=generator)
        return complex_to_real(y).reshape(s.shape)

    def _transmit_receive(self, z: torch.Tensor, snr_db, cbr, generator, beta, size=None, channel=None):
        """Latent ``(N, 32, h, w)`` -> ``(z_hat, z_rx, cond)``: the receiver's latent estimate (same
        shape), the received symbol grid ``(N, 128, h/2, w/2)`` (zero where nothing was sent) and
        the receiver's conditioning vector. ``size``: the image size (truncation off the grid)."""
        n = z.shape[0]
        snr = snr_tensor(snr_db, n, z.device)
        m = self._channels_per_image(cbr, n, z.device)
        cond = self.receiver_condition(snr, m, self._betas(beta, n, z.device))
        s = self.transmit_latent(z, snr, m, size)
        r = self._through_channel(s, snr, generator, channel)
        r = r * self._mask(m, r, self._kept_reals(m, size, r.shape[-2:]))
        return self.receive_latent(r, cond, m), r, cond

    def latent_forward(self, z: torch.Tensor, snr_db, cbr=None, generator=None, beta=None) -> torch.Tensor:
        """Latent ``(N, 32, h, w)`` (h, w even) -> channel -> received latent estimate, same shape."""
        return self._transmit_receive(z, snr_db, cbr, generator, beta)[0]

    # ---- the contract ------------------------------------------------------------------------

    def encode(self, x: torch.Tensor, snr_db=None, cbr=None) -> torch.Tensor:
        """Images ``(N, 3, H, W)`` -> complex symbols ``(N, k)``, ``k = cbr * 3 H' W'`` (``H', W'``
        padded to multiples of 16), unit mean power per image."""
        check_images(x)
        n = x.shape[0]
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, n, x.device)
        m = self._channels_per_image(cbr, n, x.device)
        s = self.transmit_latent(self.latent(x), snr, m, tuple(x.shape[-2:]))
        k = self.channel_uses(*x.shape[-2:], cbr=cbr)
        return real_to_complex(s)[:, :k]  # unit mean power: transmit_latent normalised the sent part

    def decode(self, y: torch.Tensor, snr_db=None, *, cbr=None, beta=None,
               size: tuple[int, int] | None = None) -> torch.Tensor:
        """Received symbols ``(N, k)``, ``k = channel_uses(H, W, cbr)`` -> images ``(N, 3, H, W)``;
        ``size = (H, W)`` is required; ``cbr`` defaults to ``default_cbr``, ``beta``
        (``realism=True`` models) to ``default_beta``. Symbols truncated at the transmitter are
        zero-filled."""
        size = check_size(size)
        n = y.shape[0]
        h, w = -(-size[0] // _DOWN), -(-size[1] // _DOWN)
        k = self.channel_uses(*size, cbr=cbr)
        if y.ndim != 2 or y.shape[1] != k:
            raise ValueError(f"y must have shape (N, {k}) for a {size[0]}x{size[1]} image at cbr="
                             f"{cbr_label(self.symbol_channels(cbr) / 1536)}, got {tuple(y.shape)}")
        full = torch.zeros(n, _SLOTS * h * w // 2, dtype=torch.complex64, device=y.device)
        full[:, :k] = y
        r = complex_to_real(full).reshape(n, _SLOTS, h, w)
        snr = snr_tensor(self.default_snr_db if snr_db is None else snr_db, n, y.device)
        m = self._channels_per_image(cbr, n, y.device)
        cond = self.receiver_condition(snr, m, self._betas(beta, n, y.device))
        return self._render(self.receive_latent(r, cond, m), size, cond)

    def _render(self, z_hat: torch.Tensor, size, cond: torch.Tensor) -> torch.Tensor:
        """TAEF2 decoder (FiLM-conditioned on ``cond`` with ``decoder_film``), cropped to ``size``;
        clamped to ``[0, 1]`` except in training mode (where the loss should see, and pull back,
        values outside the range)."""
        if self.decoder_film is None:
            x_hat = self.ae_decoder(z_hat)
        else:
            x_hat, films = z_hat, iter(self.decoder_film)
            for i, layer in enumerate(self.ae_decoder):
                x_hat = layer(x_hat)
                if i in self._film_at:
                    x_hat = next(films)(x_hat, cond)
        x_hat = crop_to(x_hat, size)
        return x_hat if self.training else x_hat.clamp(0, 1)

    def forward(self, x: torch.Tensor, snr_db, cbr=None, generator=None, *, beta=None,
                return_latent: bool = False, channel=None):
        """``encode`` -> ``channel(s, snr_db, generator)`` -> ``decode`` (at realism ``beta``);
        ``cbr`` may be ``(N,)``. ``return_latent=True``: ``(x_hat, z_rx)`` (see the class).
        ``channel``: a channel module for this call instead of ``model.channel``."""
        check_images(x)
        z_hat, z_rx, cond = self._transmit_receive(self.latent(x), snr_db, cbr, generator, beta,
                                                   tuple(x.shape[-2:]), channel)
        x_hat = self._render(z_hat, tuple(x.shape[-2:]), cond)
        return (x_hat, z_rx) if return_latent else x_hat

    def extra_repr(self) -> str:
        realism = ", realism=True" if self.realism else ""
        film = ", decoder_film=True" if self.decoder_film is not None else ""
        return f"cbrs={self.cbr_names}, width={self.width}, blocks={self.blocks}{realism}{film}"
