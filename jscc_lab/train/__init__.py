"""Training: one trainer for every JSCC model (seeded, exactly resumable, bf16 where faster).

* :mod:`~jscc_lab.train.config`: :class:`TrainConfig` / :class:`PerceptualTrainConfig`, saved as
  TOML beside the checkpoints, read with typed ``--set`` overrides (:func:`load_train_config`);
* :mod:`~jscc_lab.train.objectives`: the losses a step minimises and the validation PSNR;
* :mod:`~jscc_lab.train.trainer`: :class:`Trainer` and :func:`train` (data, SNR / CBR sampling,
  seeding, resume, validation, provenance);
* :mod:`~jscc_lab.train.gan`: the perceptual system's two stages (MSE + LPIPS, then the GAN with
  the realism knob) on the same trainer.

Checkpoint files (save, load, export, lineage) are :mod:`jscc_lab.checkpoints`. From the command
line: ``jscc-lab train CONFIG.toml [--resume] [--set KEY=VALUE ...]``.
"""

from ..checkpoints import (
    CHECKPOINT_FORMAT,
    check_output_dir,
    check_writable,
    export_checkpoint,
    save_checkpoint,
    training_stages,
)
from .config import (
    ConfigError,
    PerceptualTrainConfig,
    TrainConfig,
    config_changes,
    load_config,
    load_train_config,
    save_config,
)
from .gan import GANTrainer, TrainingDiverged, sample_betas, train_perceptual
from .objectives import latent_mse_objective, mse_objective, validate_psnr
from .trainer import Trainer, train, train_files

__all__ = [
    "TrainConfig", "Trainer", "train", "train_files", "mse_objective", "latent_mse_objective",
    "validate_psnr", "save_config", "load_config", "load_train_config", "ConfigError", "config_changes", "save_checkpoint",
    "export_checkpoint", "training_stages", "check_output_dir", "check_writable", "CHECKPOINT_FORMAT",
    "PerceptualTrainConfig", "GANTrainer", "TrainingDiverged", "train_perceptual", "sample_betas",
]
