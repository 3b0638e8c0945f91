"""Former home of the perceptual trainer, kept so old imports and commands work: the code is
:mod:`jscc_lab.train.gan` (import it from :mod:`jscc_lab.train`), the command ``jscc-lab train``.
``python -m jscc_lab.train_gan CONFIG.toml ...`` runs ``jscc-lab train CONFIG.toml ...``."""

import warnings

from .train.gan import (
    GANTrainer,
    PerceptualTrainConfig,
    TrainingDiverged,
    sample_betas,
    train_perceptual,
)

__all__ = ["PerceptualTrainConfig", "GANTrainer", "TrainingDiverged", "train_perceptual", "sample_betas"]

warnings.warn("jscc_lab.train_gan is now jscc_lab.train (e.g. `from jscc_lab.train import "
              "PerceptualTrainConfig`); the old name will be removed in a future version",
              DeprecationWarning, stacklevel=2)

if __name__ == "__main__":  # pragma: no cover
    import sys

    from .cli import main

    raise SystemExit(main(["train", *sys.argv[1:]]))
