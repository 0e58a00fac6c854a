"""Reproducibility: seed every random number generator a run touches."""

from __future__ import annotations

import os
import random

import torch


def seed_all(seed: int = 1992, deterministic: bool = True) -> int:
    """Seed Python's ``random``, NumPy (when installed) and PyTorch (CPU and every GPU).

    ``torch.manual_seed`` alone fixes torch's generators; it does not touch ``random``,
    NumPy, or the hash seed of a Python process that is already running (``PYTHONHASHSEED``
    only matters for processes started after it is set, so it is exported for child
    processes such as data-loader workers). With ``deterministic=True`` cuDNN is asked to
    choose deterministic algorithms.

    >>> import torch
    >>> from chapter3.seeding import seed_all
    >>> _ = seed_all(123); a = torch.rand(3)
    >>> _ = seed_all(123); b = torch.rand(3)
    >>> torch.equal(a, b)
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with the docs extra
        pass
    else:
        np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed
