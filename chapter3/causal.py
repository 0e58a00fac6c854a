"""Causal attention (3.5): self-attention that cannot look at future tokens.

:class:`CausalAttention` is ``SelfAttention_v2`` of 3.4 plus three things: a batch dimension,
an upper-triangular mask that hides the future, and dropout on the attention weights.
"""

from __future__ import annotations

import torch
from torch import nn

from chapter3._checks import (
    check_attention_args,
    check_attn_mask,
    check_finite,
    check_last_dim,
    check_seq_len,
    check_tensor,
    module_dtype,
)
from chapter3.kv_cache import check_cache
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
    the weights, and finite: a NaN or inf is refused (0 · NaN is NaN, so one NaN value would
    poison even the rows whose weight on it is 0).

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
        attend = ~self.mask.bool()[:num_tokens, :num_tokens]  # True = may attend
        if attn_mask is not None:
            attend = attend & attn_mask  # (B, T, T)
        attn_weights = masked_softmax(attn_scores / keys.shape[-1] ** 0.5, attend)
        attn_weights = self.dropout(attn_weights)  # (B, T, T)

        context_vec = attn_weights @ values  # (B, T, d_out)
        return context_vec


def check_attention_input(module, x, attn_mask=None, cache=None, layer=0) -> None:
    """The input checks of every attention class's ``forward``, in one call.

    ``x`` must be (B, T, d_in), floating point with the dtype of the module's weights, and
    finite (NaN or inf are refused: a NaN value at a hidden key would still reach every row
    as 0 · NaN = NaN); T, plus the positions a ``cache`` holds, must fit the module's
    ``context_length``. ``attn_mask``, when given, must be boolean (True = may attend) and
    broadcast to the module's scores: (B, T, T) for a single head, (B, H, T, past + T) for a
    module with ``num_heads``. ``cache``, when given, is a
    :class:`~chapter3.kv_cache.KVCache` and ``layer`` one of its layers.

    >>> import torch
    >>> from chapter3.causal import CausalAttention, check_attention_input
    >>> ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.0)
    >>> check_attention_input(ca, torch.tensor([[[0.0, float("nan"), 1.0]]]))
    Traceback (most recent call last):
    ...
    ValueError: x holds 1 NaN or infinite value (of 3); attention needs finite inputs
    """
    check_tensor(x, "x", ndim=3, shape_hint="(B, T, d_in)", dtype=module_dtype(module))
    check_last_dim(x, module.d_in)
    check_finite(x, "x", "attention needs finite inputs")
    b, t, _ = x.shape
    past = 0
    if cache is not None:
        heads = (b, module.num_heads, module.head_dim)
        limit = module.context_length
        past = check_cache(cache, None, layer, heads, t, limit, "context_length")
    else:
        check_seq_len(t, module.context_length)
    if attn_mask is not None:
        heads = getattr(module, "num_heads", None)
        scores = (b, t, past + t) if heads is None else (b, heads, t, past + t)
        check_attn_mask(attn_mask, scores)
