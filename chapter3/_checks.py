"""Input validation shared by the modules: clear ``ValueError``/``TypeError`` messages.

Never ``assert`` for input checks: asserts vanish under ``python -O`` and say nothing useful.
"""

from __future__ import annotations

import math
import numbers
import operator

import torch


def check_tensor(
    x,
    name: str = "x",
    ndim: int | tuple[int, ...] | None = None,
    shape_hint: str = "",
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Raise unless ``x`` is a floating-point tensor with one of the allowed ranks.

    ``ndim=None`` allows any rank from 1 up (a 0-d scalar has no axis to attend over). With
    ``dtype`` (a module's parameter dtype), ``x`` must have exactly that dtype: a float64 input
    to float32 weights would otherwise end in torch's "expected m1 and m2 to have the same
    dtype". Non-finite values are not checked: NaN and inf propagate, as in torch.

    >>> import torch
    >>> from chapter3._checks import check_tensor
    >>> check_tensor(torch.zeros(2, 3), ndim=2).shape
    torch.Size([2, 3])
    >>> check_tensor(torch.zeros(3), ndim=2, shape_hint="(T, d_in)")
    Traceback (most recent call last):
    ...
    ValueError: x must be a 2-D tensor (T, d_in), got shape (3,)
    >>> check_tensor(torch.ones(3, dtype=torch.long))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: x must be a floating-point tensor (float32, float64, ...), got dtype torch.int64...
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float32, float64, ...), got dtype "
            f"{x.dtype}; convert it with {name}.float()"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype}, but this module's weights are {dtype}: convert "
            f"{name} with .to({dtype}) or the module with .to({x.dtype})"
        )
    if ndim is None and x.dim() == 0:
        raise ValueError(f"{name} must have at least one dimension, got a 0-d tensor")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            ranks = " or ".join(f"{n}-D" for n in allowed)
            hint = f" {shape_hint}" if shape_hint else ""
            raise ValueError(
                f"{name} must be a {ranks} tensor{hint}, got shape {tuple(x.shape)}"
            )
    return x


def module_dtype(module) -> torch.dtype | None:
    """The dtype of ``module``'s first parameter (``None`` for a module without any)."""
    return next((p.dtype for p in module.parameters()), None)


def check_same_dtype(
    a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str
) -> None:
    """Raise unless two tensors that are multiplied together have the same dtype."""
    if a.dtype != b.dtype:
        raise TypeError(
            f"{name_a} and {name_b} must have the same dtype, got {a.dtype} and {b.dtype}"
        )


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


def check_int(value, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer (numpy integers too, as
    ``operator.index`` allows); ``bool``, floats and strings are refused.

    >>> import numpy as np
    >>> from chapter3._checks import check_int
    >>> check_int(np.int64(3), "size")
    3
    >>> check_int(2.0, "size")
    Traceback (most recent call last):
    ...
    TypeError: size must be an int, got float 2.0
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise TypeError(f"{name} must be an int, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an int, got {type(value).__name__} {value!r}"
        ) from None


def check_positive_int(value, name: str) -> int:
    """Raise unless ``value`` is a positive integer; return it as an ``int``.

    ``bool`` and floats are refused; numpy integers are accepted (``operator.index``).

    >>> from chapter3._checks import check_positive_int
    >>> check_positive_int(0, "d_out")
    Traceback (most recent call last):
    ...
    ValueError: d_out must be a positive integer, got 0
    """
    value = check_int(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def check_non_negative_int(value, name: str) -> int:
    """Raise unless ``value`` is an integer >= 0; return it as an ``int``."""
    value = check_int(value, name)
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """Raise unless ``value`` is a ``bool`` (a string such as ``"no"`` would be true)."""
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, got {type(value).__name__} {value!r}"
        )
    return value


def check_finite(x: torch.Tensor, name: str = "x", why: str = "") -> torch.Tensor:
    """Raise unless every value of the floating-point tensor ``x`` is finite (no NaN, no inf).

    >>> import torch
    >>> from chapter3._checks import check_finite
    >>> check_finite(torch.tensor([1.0, float("inf")]), "x")
    Traceback (most recent call last):
    ...
    ValueError: x holds 1 NaN or infinite value (of 2)
    """
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        values = "value" if bad == 1 else "values"
        reason = f"; {why}" if why else ""
        raise ValueError(
            f"{name} holds {bad} NaN or infinite {values} (of {x.numel()}){reason}"
        )
    return x


def check_device(device) -> torch.device:
    """Return ``device`` as a :class:`torch.device` if this machine has it.

    ``None`` is the CPU. ``"cuda"`` on a machine without a usable GPU is refused with a
    ``ValueError`` (torch would raise an ``AssertionError`` later, at the first tensor).

    >>> from chapter3._checks import check_device
    >>> check_device("cpu")
    device(type='cpu')
    >>> check_device("gpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: device must name a torch device such as 'cpu' or 'cuda', got 'gpu' ...
    """
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be a str or torch.device such as 'cpu', got "
            f"{type(device).__name__} {device!r}"
        )
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise ValueError(
            f"device must name a torch device such as 'cpu' or 'cuda', got {device!r} "
            f"({error})"
        ) from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device {str(device)!r} asks for a GPU, but this machine has no usable "
                "CUDA device (torch.cuda.is_available() is False): use 'cpu'"
            )
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"device {str(device)!r} does not exist: this machine has {count} CUDA "
                f"device(s), cuda:0..cuda:{count - 1}"
            )
    elif device.type not in ("cpu", "meta"):
        available = getattr(torch, device.type, None)
        if available is None or not available.is_available():
            raise ValueError(
                f"device {str(device)!r} is not available on this machine: use 'cpu'"
            )
    return device


def check_projection_args(d_in, d_out, qkv_bias=False) -> tuple[int, int]:
    """Check the sizes of a Q/K/V projection and its ``qkv_bias`` flag; return (d_in, d_out)."""
    check_bool(qkv_bias, "qkv_bias")
    return check_positive_int(d_in, "d_in"), check_positive_int(d_out, "d_out")


def check_dropout(p) -> float:
    """Raise unless ``0 <= p < 1`` (p = 1 would drop everything and divide by zero).

    >>> from chapter3._checks import check_dropout
    >>> check_dropout(1.0)
    Traceback (most recent call last):
    ...
    ValueError: dropout must be in [0, 1), got 1.0
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout must be a float in [0, 1), got {type(p).__name__}")
    if not (math.isfinite(p) and 0 <= p < 1):
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    return float(p)


def check_attention_args(
    d_in, d_out, context_length, dropout, num_heads=1, qkv_bias=False
) -> int:
    """Check the constructor arguments shared by the attention classes; return d_out // heads.

    >>> from chapter3._checks import check_attention_args
    >>> check_attention_args(3, 4, 6, 0.0, num_heads=2)
    2
    >>> check_attention_args(3, 4, 6, 0.0, num_heads=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: d_out must be divisible by num_heads ...
    """
    d_in, d_out = check_projection_args(d_in, d_out, qkv_bias)
    check_positive_int(context_length, "context_length")
    num_heads = check_positive_int(num_heads, "num_heads")
    check_dropout(dropout)
    if d_out % num_heads != 0:
        raise ValueError(
            f"d_out must be divisible by num_heads to split it into equal heads, got "
            f"d_out={d_out} and num_heads={num_heads}"
        )
    return d_out // num_heads


def check_seq_len(num_tokens: int, context_length: int) -> None:
    """Raise unless a sequence of ``num_tokens`` fits the mask built for ``context_length``.

    >>> from chapter3._checks import check_seq_len
    >>> check_seq_len(7, 6)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the input has 7 tokens, but this module was built with context_length=6; ...
    """
    if num_tokens > context_length:
        raise ValueError(
            f"the input has {num_tokens} tokens, but this module was built with "
            f"context_length={context_length}; shorten the input or build the module with a "
            "larger context_length"
        )


def check_attn_mask(mask, scores_shape, name: str = "attn_mask") -> torch.Tensor:
    """Raise unless ``mask`` is boolean and broadcasts to attention scores of ``scores_shape``.

    The mask must have the *same rank* as the scores (4 for (B, H, T, T), 3 for (B, T, T)), and
    each of its sizes must be 1 or equal the scores' size. Requiring the rank is stricter than
    PyTorch's broadcasting on purpose: a (B, T) padding mask would otherwise be aligned with the
    (T, T) axes and silently mean something else.

    >>> import torch
    >>> from chapter3.masks import check_attn_mask
    >>> check_attn_mask(torch.ones(2, 1, 1, 5, dtype=torch.bool), (2, 4, 5, 5)).shape
    torch.Size([2, 1, 1, 5])
    >>> check_attn_mask(torch.ones(2, 5, dtype=torch.bool), (2, 4, 5, 5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: attn_mask of shape (2, 5) cannot broadcast to the attention scores (B, H, T, T) ...
    """
    scores_shape = tuple(scores_shape)
    check_bool_mask(mask, name)
    names = "(B, H, T, T)" if len(scores_shape) == 4 else "(B, T, T)"
    hint = (
        "a (B, L) padding mask becomes mask[:, None, None, :]"
        if len(scores_shape) == 4
        else "a (B, L) padding mask becomes mask[:, None, :]"
    )
    fits = mask.dim() == len(scores_shape) and all(
        m in (1, s) for m, s in zip(mask.shape, scores_shape, strict=True)
    )
    if not fits:
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} cannot broadcast to the attention scores "
            f"{names} = {scores_shape}: it needs {len(scores_shape)} dimensions, each 1 or equal "
            f"to the scores' size ({hint})"
        )
    return mask


_DECODER_SIZES = (
    "vocab_size",
    "max_seq_len",
    "d_model",
    "num_heads",
    "num_layers",
    "d_ff",
)


def check_decoder_config(config):
    """Raise unless ``config`` is a :class:`chapter3.gpt.GPTConfig` with usable sizes.

    Sizes given as numpy integers are stored back as plain ``int`` (a checkpoint's config
    must load with ``weights_only=True``).
    """
    if not all(hasattr(config, name) for name in (*_DECODER_SIZES, "dropout")):
        raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
    for name in _DECODER_SIZES:
        value = check_positive_int(getattr(config, name), name)
        if type(getattr(config, name)) is not int:  # e.g. numpy.int64
            object.__setattr__(config, name, value)
    check_dropout(config.dropout)
    check_dropout(config.attn_dropout)
    if config.d_model % config.num_heads:
        raise ValueError(
            f"d_model ({config.d_model}) must be divisible by num_heads "
            f"({config.num_heads}): each head gets d_model // num_heads features"
        )
    return config


def check_bool_mask(mask, name: str, ndim: int | None = None, shape_hint: str = ""):
    """Raise unless ``mask`` is a boolean tensor (``True`` = may attend) of rank ``ndim``.

    >>> import torch
    >>> from chapter3._checks import check_bool_mask
    >>> check_bool_mask(torch.ones(2, 3), "padding")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: padding must be a boolean (torch.bool) tensor, True = may attend; got dtype ...
    """
    if not isinstance(mask, torch.Tensor):
        raise TypeError(
            f"{name} must be a boolean torch.Tensor, got {type(mask).__name__}"
        )
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a boolean (torch.bool) tensor, True = may attend; got dtype "
            f"{mask.dtype}; "
            "a 0/1 mask becomes one with mask.bool(), an additive float mask with mask == 0"
        )
    if ndim is not None and mask.dim() != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D mask {shape_hint}, got shape {tuple(mask.shape)}"
        )
    return mask


def check_masked_softmax_args(attn_scores, attend) -> None:
    """Raise unless ``attn_scores`` is floating point and ``attend`` a boolean mask that
    broadcasts to it without changing its shape."""
    check_tensor(attn_scores, "attn_scores")
    check_bool_mask(attend, "attend")
    # what torch.broadcast_shapes(attend.shape, scores) == scores says, in plain Python: that
    # call costs more than the softmax it guards on the small tensors of the adder
    shape, scores = attend.shape, attn_scores.shape
    fits = len(shape) <= len(scores) and all(
        size in (1, target)
        for size, target in zip(reversed(shape), reversed(scores), strict=False)
    )
    if not fits:
        raise ValueError(
            f"attend of shape {tuple(attend.shape)} does not broadcast to attn_scores of "
            f"shape {tuple(attn_scores.shape)}: each of its trailing sizes must be 1 or equal "
            "the scores' size"
        )


def check_decoder_model(model, name: str = "model"):
    """Raise unless ``model`` is a :class:`chapter3.gpt.GPTDecoder` (or built like one).

    Checked by what the decoding code uses (a module with ``config`` and ``decoder_blocks``),
    so this module need not import :mod:`chapter3.gpt`, which imports it.
    """
    if not (
        isinstance(model, torch.nn.Module)
        and hasattr(model, "config")
        and hasattr(model, "decoder_blocks")
    ):
        raise TypeError(f"{name} must be a GPTDecoder, got {type(model).__name__}")
    return model


def check_sizes(**sizes) -> None:
    """Raise unless every keyword argument is a positive integer (named in the message)."""
    for name, value in sizes.items():
        check_positive_int(value, name)


def check_features(x, expected: int, name: str = "x", what: str = "d_in") -> None:
    """Raise unless ``x`` is a floating-point tensor whose last dimension is ``expected``."""
    check_tensor(x, name)
    check_last_dim(x, expected, name=name, what=what)
