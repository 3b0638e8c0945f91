"""jscc_lab: a Jupyter-first teaching lab for deep joint source-channel coding (deep JSCC) of images.

Submodules (import the ones you need; see DESIGN.md for the conventions they share):
``channels``, ``data``, ``metrics``, ``models``, ``losses``, ``baselines``, ``train``,
``evaluate``, ``pretrained``, ``plotting``, ``analog``, ``modulation``, ``cli``.
"""

__version__ = "0.1.0"
