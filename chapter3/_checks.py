"""Input validation shared by the modules: clear ``ValueError``/``TypeError`` messages.

Never ``assert`` for input checks: asserts vanish under ``python -O`` and say nothing useful.
"""

from __future__ import annotations

import torch


def check_tensor(
    x, name: str = "x", ndim: int | tuple[int, ...] | None = None, shape_hint: str = ""
) -> torch.Tensor:
    """Raise unless ``x`` is a floating-point tensor with one of the allowed ranks.

    >>> import torch
    >>> from chapter3._checks import check_tensor
    >>> check_tensor(torch.zeros(2, 3), ndim=2).shape
    torch.Size([2, 3])
    >>> check_tensor(torch.zeros(3), ndim=2, shape_hint="(T, d_in)")
    Traceback (most recent call last):
    ...
    ValueError: x must be a 2-D tensor (T, d_in), got shape (3,)
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            ranks = " or ".join(f"{n}-D" for n in allowed)
            hint = f" {shape_hint}" if shape_hint else ""
            raise ValueError(
                f"{name} must be a {ranks} tensor{hint}, got shape {tuple(x.shape)}"
            )
    return x


def check_last_dim(
    x: torch.Tensor, expected: int, name: str = "x", what: str = "d_in"
) -> None:
    """Raise unless the last dimension of ``x`` is ``expected``.

    >>> import torch
    >>> from chapter3._checks import check_last_dim
    >>> check_last_dim(torch.zeros(6, 4), 3)
    Traceback (most recent call last):
    ...
    ValueError: x has 4 features in its last dimension, but this module was built with d_in=3
    """
    if x.shape[-1] != expected:
        raise ValueError(
            f"{name} has {x.shape[-1]} features in its last dimension, "
            f"but this module was built with {what}={expected}"
        )


def check_positive_int(value, name: str) -> int:
    """Raise unless ``value`` is a positive ``int`` (``bool`` is refused).

    >>> from chapter3._checks import check_positive_int
    >>> check_positive_int(0, "d_out")
    Traceback (most recent call last):
    ...
    ValueError: d_out must be a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def check_dropout(p) -> float:
    """Raise unless ``0 <= p < 1`` (p = 1 would drop everything and divide by zero).

    >>> from chapter3._checks import check_dropout
    >>> check_dropout(1.0)
    Traceback (most recent call last):
    ...
    ValueError: dropout must be in [0, 1), got 1.0
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"dropout must be a float in [0, 1), got {type(p).__name__}")
    if not 0 <= p < 1:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    return float(p)
