"""What a class uses live: the explorer (sliders for SNR, CBR and realism over deep JSCC and
separate coding), the 2AFC user study, and the explorer as a web page.

* :mod:`~jscc_lab.classroom.explorer_widget`: :func:`explorer` (notebook), :func:`explorer_app` (page);
* :mod:`~jscc_lab.classroom.study`: trials, crash-safe recording, the preference fit with its
  bootstrap interval, simulated participants, and the :func:`user_study` widget;
* :mod:`~jscc_lab.classroom.app`: ``jscc-lab explore`` (Voila, one kernel per page, capped and
  culled by :mod:`~jscc_lab.classroom.kernels`).
"""

from .explorer_widget import Explorer, default_images, explorer, explorer_app, png_bytes
from .study import (
    ATTENTION,
    PreferenceFit,
    ResultsFile,
    Trial,
    UserStudy,
    attention_distortion,
    fit_preference,
    make_trials,
    simulate_answers,
    user_study,
)

__all__ = ["Explorer", "explorer", "explorer_app", "default_images", "png_bytes", "UserStudy",
           "user_study", "attention_distortion", "Trial", "make_trials", "ResultsFile", "PreferenceFit",
           "fit_preference", "simulate_answers", "ATTENTION"]
