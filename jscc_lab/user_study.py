"""Former home of part of :mod:`jscc_lab.classroom`, kept so old imports work (with a
deprecation warning); import from :mod:`jscc_lab.classroom` instead."""

import warnings

from .classroom import *  # noqa: F403
from .classroom import __all__  # noqa: F401

warnings.warn("jscc_lab.user_study is now jscc_lab.classroom (e.g. `from jscc_lab.classroom import explorer`); "
              "the old name will be removed in a future version", DeprecationWarning, stacklevel=2)
