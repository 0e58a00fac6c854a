"""Section 3.4: self-attention with trainable weights (scaled dot-product attention).

``SelfAttention_v1`` keeps its three projection matrices as raw ``nn.Parameter`` tensors, exactly
as section 3.4.1 builds them by hand; ``SelfAttention_v2`` uses ``nn.Linear`` layers instead.
Both work on one unbatched sequence of shape (T, d_in), floating point with the dtype of
their weights (anything else is refused with a clear error); NaN or inf in the input
propagate to the output, as in torch. ``SelfAttentionWithWeights`` (after the notebook
whose self-attention returns its weights) takes a batch (B, T, d) and also returns its
attention weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from chapter3._checks import (
    check_last_dim,
    check_positive_int,
    check_projection_args,
    check_tensor,
    module_dtype,
)


def _check_sequence(module: nn.Module, x: torch.Tensor) -> None:
    """``x`` must be one (T, d_in) sequence, floating point, with the weights' dtype."""
    check_tensor(x, "x", ndim=2, shape_hint="(T, d_in)", dtype=module_dtype(module))
    check_last_dim(x, module.d_in)


class SelfAttention_v1(nn.Module):
    """Self-attention whose weights are ``nn.Parameter`` tensors (d_in, d_out) from ``torch.rand``.

    The parameters are created in the order ``W_query``, ``W_key``, ``W_value``, so after
    ``torch.manual_seed(123)`` they equal the matrices built by hand in section 3.4.1.

    >>> import torch
    >>> from chapter3.inputs import example_inputs
    >>> from chapter3.self_attention import SelfAttention_v1
    >>> _ = torch.manual_seed(123)
    >>> sa_v1 = SelfAttention_v1(d_in=3, d_out=2)
    >>> sa_v1(example_inputs()).shape
    torch.Size([6, 2])
    """

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.d_in, self.d_out = check_projection_args(d_in, d_out)
        self.W_query = nn.Parameter(torch.rand(d_in, d_out))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence(self, x)  # x: (T, d_in)
        keys = x @ self.W_key  # (T, d_out)
        queries = x @ self.W_query  # (T, d_out)
        values = x @ self.W_value  # (T, d_out)
        attn_scores = queries @ keys.T  # (T, T): omega[i, j] = q(i) . k(j)
        # rows sum to 1
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        context_vec = attn_weights @ values  # (T, d_out)
        return context_vec


class SelfAttention_v2(nn.Module):
    """The same computation as :class:`SelfAttention_v1`, with ``nn.Linear`` projections.

    ``nn.Linear`` computes ``x @ weight.T (+ bias)`` and initialises ``weight`` (shape
    (d_out, d_in)) with a scaled uniform distribution, so v2's output differs from v1's until the
    weights are transferred with :func:`transfer_weights`.

    >>> import torch
    >>> from chapter3.inputs import example_inputs
    >>> from chapter3.self_attention import SelfAttention_v2
    >>> _ = torch.manual_seed(789)
    >>> sa_v2 = SelfAttention_v2(d_in=3, d_out=2)
    >>> sa_v2.W_query.weight.shape
    torch.Size([2, 3])
    """

    def __init__(self, d_in: int, d_out: int, qkv_bias: bool = False):
        super().__init__()
        self.d_in, self.d_out = check_projection_args(d_in, d_out, qkv_bias)
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_sequence(self, x)  # x: (T, d_in)
        keys = self.W_key(x)  # (T, d_out)
        queries = self.W_query(x)  # (T, d_out)
        values = self.W_value(x)  # (T, d_out)
        attn_scores = queries @ keys.T  # (T, T)
        # rows sum to 1
        attn_weights = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
        context_vec = attn_weights @ values  # (T, d_out)
        return context_vec


def _check_transfer(sa_v2, sa_v1) -> None:
    if not isinstance(sa_v2, SelfAttention_v2) or not isinstance(
        sa_v1, SelfAttention_v1
    ):
        raise TypeError(
            "transfer_weights(sa_v2, sa_v1) copies a SelfAttention_v2 into a "
            f"SelfAttention_v1, got {type(sa_v2).__name__} and {type(sa_v1).__name__}"
        )
    if (sa_v2.d_in, sa_v2.d_out) != (sa_v1.d_in, sa_v1.d_out):
        raise ValueError(
            "both modules need the same (d_in, d_out): sa_v2 has "
            f"{(sa_v2.d_in, sa_v2.d_out)}, sa_v1 has {(sa_v1.d_in, sa_v1.d_out)}"
        )
    if sa_v2.W_query.bias is not None:
        raise ValueError(
            "sa_v2 was built with qkv_bias=True; SelfAttention_v1 has no biases"
        )


def transfer_weights(sa_v2: SelfAttention_v2, sa_v1: SelfAttention_v1) -> None:
    """Copy the projections of ``sa_v2`` into ``sa_v1`` so both compute the same function.

    ``nn.Linear`` stores its matrix as (d_out, d_in) and multiplies by its transpose, while v1
    multiplies by a (d_in, d_out) matrix directly: so v1's matrix is v2's ``weight.T``. A v2
    built with ``qkv_bias=True`` has biases that v1 cannot hold, and is refused.

    >>> import torch
    >>> from chapter3.inputs import example_inputs
    >>> from chapter3.self_attention import SelfAttention_v1, SelfAttention_v2, transfer_weights
    >>> sa_v1, sa_v2 = SelfAttention_v1(3, 2), SelfAttention_v2(3, 2)
    >>> transfer_weights(sa_v2, sa_v1)
    >>> torch.allclose(sa_v1(example_inputs()), sa_v2(example_inputs()), atol=1e-6)
    True
    """
    _check_transfer(sa_v2, sa_v1)
    with torch.no_grad():  # a copy, not a step of the computation graph
        sa_v1.W_query.copy_(sa_v2.W_query.weight.T)  # (d_out, d_in).T -> (d_in, d_out)
        sa_v1.W_key.copy_(sa_v2.W_key.weight.T)
        sa_v1.W_value.copy_(sa_v2.W_value.weight.T)


class SelfAttentionWithWeights(nn.Module):
    """Self-attention on a batch (B, T, d) that returns ``(context_vec, attn_weights)``
    (after the notebook whose self-attention returns its weights).

    Input and output have the same width ``embed_dim``; the projections have no bias. Returning
    the (B, T, T) weights lets a reader see, row by row, where each token looked. ``x`` must be
    floating point with the weights' dtype; NaN or inf in ``x`` propagate, as in torch.

    >>> import torch
    >>> from chapter3.self_attention import SelfAttentionWithWeights
    >>> _ = torch.manual_seed(0)
    >>> context_vec, attn_weights = SelfAttentionWithWeights(8)(torch.rand(1, 5, 8))
    >>> context_vec.shape, attn_weights.shape
    (torch.Size([1, 5, 8]), torch.Size([1, 5, 5]))
    """

    def __init__(self, embed_dim: int):
        super().__init__()
        self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        # a float: it follows the module to any device
        self.scale = math.sqrt(embed_dim)
        self.W_query = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_key = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_value = nn.Linear(embed_dim, embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor(x, "x", 3, "(B, T, embed_dim)", dtype=module_dtype(self))
        check_last_dim(x, self.embed_dim, what="embed_dim")
        queries = self.W_query(x)  # (B, T, d)
        keys = self.W_key(x)  # (B, T, d)
        values = self.W_value(x)  # (B, T, d)
        attn_scores = queries @ keys.transpose(-2, -1) / self.scale  # (B, T, T)
        attn_weights = torch.softmax(attn_scores, dim=-1)  # (B, T, T), rows sum to 1
        context_vec = attn_weights @ values  # (B, T, d)
        return context_vec, attn_weights
