"""Causal attention (3.5): self-attention that cannot look at future tokens.

:class:`CausalAttention` is ``SelfAttention_v2`` of 3.4 plus three things: a batch dimension,
an upper-triangular mask that hides the future, and dropout on the attention weights.
"""

from __future__ import annotations

import torch
from torch import nn

from chapter3._checks import (
    check_dropout,
    check_last_dim,
    check_positive_int,
    check_tensor,
)
from chapter3.masks import check_attn_mask, masked_softmax


def check_seq_len(num_tokens: int, context_length: int) -> None:
    """Raise unless a sequence of ``num_tokens`` fits the mask built for ``context_length``.

    >>> from chapter3.causal import check_seq_len
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


def check_batch_input(x, d_in: int, context_length: int) -> torch.Tensor:
    """Raise unless ``x`` is a (B, T, d_in) tensor with T ≤ ``context_length``; return ``x``.

    The input checks that :class:`CausalAttention` and the multi-head modules of
    :mod:`chapter3.multihead` run first in ``forward``: the rank, then the feature width, then
    the length (:func:`check_seq_len`).

    >>> import torch
    >>> from chapter3.causal import check_batch_input
    >>> check_batch_input(torch.zeros(2, 6, 3), d_in=3, context_length=6).shape
    torch.Size([2, 6, 3])
    >>> check_batch_input(torch.zeros(6, 3), d_in=3, context_length=6)
    Traceback (most recent call last):
    ...
    ValueError: x must be a 3-D tensor (B, T, d_in), got shape (6, 3)
    """
    check_tensor(x, "x", ndim=3, shape_hint="(B, T, d_in)")
    check_last_dim(x, d_in)
    check_seq_len(x.shape[1], context_length)
    return x


class CausalAttention(nn.Module):
    """Single-head causal self-attention on a batch ``x`` of shape (B, T, d_in) → (B, T, d_out).

    Query *i* sees keys ``0..i`` only: the buffer ``mask`` is the strict upper triangle of a
    (context_length, context_length) matrix, ``True`` = **hide** (the ``masked_fill``
    convention), and its top-left (T, T) corner is applied to every input of T ≤ context_length
    tokens. It is a buffer, not a parameter: it is not trained, but it follows
    ``.to(device)`` and is saved in ``state_dict``.

    ``forward(x, attn_mask=None)`` accepts an extra boolean (B, T, T)-broadcastable mask in the
    decoder's convention (``True`` = may attend), e.g. a padding mask ``pad[:, None, :]``.
    A query whose keys are all hidden gets all-zero attention weights, hence a zero context
    vector, never NaN (see :func:`chapter3.masks.masked_softmax`).

    Parameters are created in the chapter's order (``W_query``, ``W_key``, ``W_value``), so
    ``torch.manual_seed(123)`` before construction gives the chapter's numbers.

    >>> import torch
    >>> from chapter3.causal import CausalAttention
    >>> _ = torch.manual_seed(123)
    >>> ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.0)
    >>> ca(torch.rand(2, 6, 3)).shape
    torch.Size([2, 6, 2])
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        context_length: int,
        dropout: float,
        qkv_bias: bool = False,
    ):
        super().__init__()
        self.d_in = check_positive_int(d_in, "d_in")
        self.d_out = check_positive_int(d_out, "d_out")
        self.context_length = check_positive_int(context_length, "context_length")
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(check_dropout(dropout))
        # True above the diagonal = a future key, hidden from the query of that row.
        self.register_buffer(
            "mask",
            torch.triu(
                torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1
            ),
        )

    def forward(
        self, x: torch.Tensor, attn_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_batch_input(x, self.d_in, self.context_length)
        b, num_tokens, _ = x.shape  # (B, T, d_in)

        keys = self.W_key(x)  # (B, T, d_out)
        queries = self.W_query(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)

        attn_scores = queries @ keys.transpose(1, 2)  # (B, T, T)
        attend = ~self.mask[:num_tokens, :num_tokens]  # (T, T), True = may attend
        if attn_mask is not None:
            check_attn_mask(attn_mask, (b, num_tokens, num_tokens))
            attend = attend & attn_mask  # (B, T, T)
        attn_weights = masked_softmax(
            attn_scores / keys.shape[-1] ** 0.5, attend
        )  # (B, T, T)
        attn_weights = self.dropout(attn_weights)

        context_vec = attn_weights @ values  # (B, T, d_out)
        return context_vec
