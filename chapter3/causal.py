"""Causal attention (3.5): self-attention that cannot look at future tokens.

:class:`CausalAttention` is ``SelfAttention_v2`` of 3.4 plus three things: a batch dimension,
an upper-triangular mask that hides the future, and dropout on the attention weights.
"""

from __future__ import annotations

import torch
from torch import nn

from chapter3._checks import check_attention_args, check_attention_input
from chapter3.masks import masked_softmax

# check_attention_input is listed too: the 3.5 page points at it as forward's first line.
__all__ = ["CausalAttention", "check_attention_input"]


class CausalAttention(nn.Module):
    """Single-head causal self-attention on a batch ``x``: (B, T, d_in) → (B, T, d_out).

    Query *i* sees keys 0 to *i* only. The buffer ``mask`` holds, as in the chapter, the
    strict upper triangle of a (context_length, context_length) matrix of ones: 1 marks a
    future key, to hide. It is a buffer, not a parameter: it is not trained, but it follows
    ``.to(device)`` and is saved in ``state_dict``.

    ``forward(x, attn_mask=None)`` also takes an extra boolean mask that broadcasts to the
    (B, T, T) scores, True = may attend (for example a padding mask ``pad[:, None, :]``). A
    query whose keys are all hidden gets all-zero weights, never NaN (see
    :func:`chapter3.masks.masked_softmax`). ``x`` must be floating point with the dtype of
    the weights; NaN or inf in ``x`` are not checked and propagate, as in torch.

    Parameters are created in the chapter's order (``W_query``, ``W_key``, ``W_value``), so
    ``torch.manual_seed(123)`` before construction gives the chapter's numbers.

    >>> import torch
    >>> from chapter3.causal import CausalAttention
    >>> _ = torch.manual_seed(123)
    >>> ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.0)
    >>> ca(torch.rand(2, 6, 3)).shape
    torch.Size([2, 6, 2])
    """

    def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
        super().__init__()
        check_attention_args(d_in, d_out, context_length, dropout, qkv_bias=qkv_bias)
        self.d_in, self.d_out, self.context_length = d_in, d_out, context_length
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(  # 1 above the diagonal: a future key, to hide
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )

    def forward(self, x, attn_mask=None):
        check_attention_input(self, x, attn_mask)
        b, num_tokens, d_in = x.shape  # (B, T, d_in)
        keys = self.W_key(x)  # (B, T, d_out)
        queries = self.W_query(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)

        attn_scores = queries @ keys.transpose(1, 2)  # (B, T, T)
        attend = ~self.mask.bool()[
            :num_tokens, :num_tokens
        ]  # (T, T), True = may attend
        if attn_mask is not None:
            attend = attend & attn_mask  # (B, T, T)
        attn_weights = masked_softmax(attn_scores / keys.shape[-1] ** 0.5, attend)
        attn_weights = self.dropout(attn_weights)  # (B, T, T)

        context_vec = attn_weights @ values  # (B, T, d_out)
        return context_vec
