"""Multi-head attention (3.6), three ways, all causal and all computing the same function.

- :class:`MultiHeadAttentionWrapper` stacks ``num_heads`` independent
  :class:`~chapter3.causal.CausalAttention` heads and concatenates their outputs
  (width ``d_out * num_heads``). Easy to read, one matmul chain per head.
- :class:`MultiHeadAttention` computes every head at once: one projection per Q/K/V, split into
  heads with ``view``/``transpose``, then ``out_proj`` mixes the heads (width ``d_out``).
- :class:`FusedMultiHeadAttention` does the same with one fused QKV projection and
  :func:`torch.nn.functional.scaled_dot_product_attention` (SDPA), which picks a fused kernel.

:func:`copy_to_fused`, :func:`to_torch_multihead` and :func:`copy_to_wrapper` copy a
:class:`MultiHeadAttention`'s weights into the fused variant, into
:class:`torch.nn.MultiheadAttention` or into the wrapper, so that all of them can be checked
against each other (the wrapper has no ``out_proj``: it matches the context vector before it).

Masks: every class takes ``forward(x, attn_mask=None)`` with a boolean mask in the decoder's
convention (``True`` = may attend, see :mod:`chapter3.masks`), combined with the causal mask.
A query whose keys are all hidden gets all-zero attention weights: its context vector is zero
before ``out_proj`` (so the output row is ``out_proj.bias``), never NaN — the behaviour of SDPA
and of :class:`torch.nn.MultiheadAttention`, too.

Inputs: ``x`` is (B, T, d_in) with T <= ``context_length``, floating point with the dtype of the
module's weights; anything else is refused with a ``ValueError``/``TypeError`` that names the
argument, and so is a NaN or inf in ``x``. The checks run at the door (``forward``);
:class:`chapter3.gpt.GPTDecoder`, which checks its own input once, calls ``_forward``.

Cache: :class:`MultiHeadAttention` takes ``forward(x, attn_mask, cache, layer)`` with a
:class:`~chapter3.kv_cache.KVCache`: the new positions' keys and values are appended to layer
``layer`` of the cache and the queries attend to all of them (incremental decoding).
The attention step itself (scores, scale, mask, softmax, dropout, weighted sum) is
:func:`masked_attention`, written once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chapter3._checks import check_attention_args, check_positive_int
from chapter3.causal import CausalAttention, check_attention_input
from chapter3.masks import _masked_softmax


def masked_attention(queries, keys, values, attend, dropout):
    """One attention step: scores, scale, mask, softmax, dropout, weighted sum.

    ``queries`` (..., T_q, d_head), ``keys`` and ``values`` (..., T_k, d_head); ``attend``
    (True = may attend) broadcasts to the scores (..., T_q, T_k); ``dropout`` is the module
    that drops attention weights (its input *is* the weights, which is where
    :func:`chapter3.gpt.attention_maps` reads them). Returns the context vectors
    (..., T_q, d_head). A row with no visible key gets zero weights
    (:func:`~chapter3.masks.masked_softmax`), so its context vector is zero.

    >>> import torch
    >>> from torch import nn
    >>> from chapter3.multihead import masked_attention
    >>> q, k, v = torch.ones(1, 2, 1), torch.ones(1, 2, 1), torch.tensor([[[1.0], [3.0]]])
    >>> masked_attention(q, k, v, torch.ones(2, 2, dtype=torch.bool).tril(), nn.Identity())
    tensor([[[1.],
             [2.]]])
    """
    attn_scores = queries @ keys.transpose(-2, -1)  # (..., T_q, T_k)
    attn_weights = _masked_softmax(attn_scores / keys.shape[-1] ** 0.5, attend)
    attn_weights = dropout(attn_weights)  # (..., T_q, T_k)
    return attn_weights @ values  # (..., T_q, d_head)


class MultiHeadAttentionWrapper(nn.Module):
    """``num_heads`` :class:`~chapter3.causal.CausalAttention` heads side by side.

    Each head maps (B, T, d_in) → (B, T, d_out); the outputs are concatenated along the last
    dim, so the result is (B, T, d_out * num_heads). ``attn_mask`` (``True`` = may attend,
    broadcastable to (B, T, T)) is passed to every head.

    >>> import torch
    >>> from chapter3.multihead import MultiHeadAttentionWrapper
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> mha(torch.rand(2, 6, 3)).shape
    torch.Size([2, 6, 4])
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        check_positive_int(num_heads, "num_heads")
        self.heads = nn.ModuleList(
            [
                CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
                for _ in range(num_heads)
            ]
        )

    def forward(self, x, attn_mask=None):
        # (B, T, H*d_out)
        return torch.cat([head(x, attn_mask) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    """Causal multi-head attention with weight splits: (B, T, d_in) → (B, T, d_out).

    ``d_out`` is split into ``num_heads`` heads of ``head_dim = d_out // num_heads``
    features; each head attends with its own slice of the Q/K/V projections, and
    ``out_proj`` (d_out → d_out, with bias) mixes the concatenated heads. ``attn_mask``
    (True = may attend) must broadcast to the scores (B, H, T, T), for example
    :func:`chapter3.masks.combine_attend_masks` or ``pad[:, None, None, :]``. The mask
    buffer is the chapter's: 1 above the diagonal marks a future key.

    Parameters are created in the chapter's order (``W_query``, ``W_key``, ``W_value``,
    ``out_proj``), so ``torch.manual_seed(123)`` before construction gives the chapter's
    numbers. The GPT decoder of this book is built from this class.

    With ``cache`` (a :class:`~chapter3.kv_cache.KVCache`) the new positions' keys and values
    are appended to the cache's layer ``layer``, and the T new queries attend to every cached
    position too: ``attn_mask`` then broadcasts to (B, H, T, past + T).

    >>> import torch
    >>> from chapter3.multihead import MultiHeadAttention
    >>> _ = torch.manual_seed(123)
    >>> mha = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)
    >>> mha(torch.rand(2, 6, 3)).shape
    torch.Size([2, 6, 2])
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.head_dim = check_attention_args(
            d_in, d_out, context_length, dropout, num_heads, qkv_bias
        )
        self.d_in, self.d_out, self.num_heads = d_in, d_out, num_heads
        self.context_length = context_length
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes the heads
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(  # 1 above the diagonal: a future key, to hide
            "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1)
        )

    def forward(self, x, attn_mask=None, cache=None, layer=0):
        check_attention_input(self, x, attn_mask, cache, layer)
        return self._forward(x, attn_mask, cache, layer)

    def _forward(self, x, attn_mask=None, cache=None, layer=0):
        b, num_tokens, d_in = x.shape  # (B, T, d_in)
        keys = self.W_key(x)  # (B, T, d_out)
        queries = self.W_query(x)  # (B, T, d_out)
        values = self.W_value(x)  # (B, T, d_out)

        # Split the last dim into heads, then move the heads before the tokens.
        shape = (b, num_tokens, self.num_heads, self.head_dim)
        keys = keys.view(shape).transpose(1, 2)  # (B, H, T, d_head)
        queries = queries.view(shape).transpose(1, 2)  # (B, H, T, d_head)
        values = values.view(shape).transpose(1, 2)  # (B, H, T, d_head)
        if cache is not None:  # append to the keys and values of earlier positions
            keys, values = cache._extend(layer, keys, values)  # (B, H, past+T, d_head)

        # query i sits at position past + i: it may attend to keys 0 .. past + i
        end = keys.shape[2]  # past + T
        attend = ~self.mask.bool()[end - num_tokens : end, :end]  # True = may attend
        if attn_mask is not None:
            attend = attend & attn_mask  # (B, H, T, past + T)
        context_vec = masked_attention(queries, keys, values, attend, self.dropout)

        context_vec = context_vec.transpose(1, 2)  # (B, T, H, d_head)
        # transpose made the tensor non-contiguous; view needs contiguous memory
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context_vec)  # (B, T, d_out)


class FusedMultiHeadAttention(nn.Module):
    """:class:`MultiHeadAttention` with one fused QKV projection and SDPA.

    ``qkv`` (d_in → 3·d_out) holds ``W_query``, ``W_key``, ``W_value`` stacked in that order;
    :func:`torch.nn.functional.scaled_dot_product_attention` does the scaling, the causal mask,
    the softmax, dropout (only in training mode) and the weighted sum, in a fused kernel where
    one exists. Same outputs as :class:`MultiHeadAttention` after :func:`copy_to_fused`.

    Without ``attn_mask`` the causal mask is SDPA's ``is_causal=True``; with one (``True`` = may
    attend, broadcastable to (B, H, T, T) — SDPA's own convention) it is combined with the
    future mask and passed as SDPA's boolean ``attn_mask``.

    >>> import torch
    >>> from chapter3.multihead import FusedMultiHeadAttention
    >>> fused = FusedMultiHeadAttention(4, 4, context_length=8, dropout=0.1, num_heads=2)
    >>> fused(torch.rand(3, 8, 4)).shape
    torch.Size([3, 8, 4])
    """

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        self.head_dim = check_attention_args(
            d_in, d_out, context_length, dropout, num_heads, qkv_bias
        )
        self.d_in, self.d_out, self.num_heads = d_in, d_out, num_heads
        self.context_length, self.dropout = context_length, dropout
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=qkv_bias)  # W_query, W_key, W_value
        self.out_proj = nn.Linear(d_out, d_out)

    def forward(self, x, attn_mask=None):
        check_attention_input(self, x, attn_mask)
        b, num_tokens, _ = x.shape  # (B, T, d_in)
        h, d_head = self.num_heads, self.head_dim

        qkv = self.qkv(x).view(b, num_tokens, 3, h, d_head)  # (B, T, 3, H, d_head)
        queries, keys, values = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, d_head)

        dropout_p = self.dropout if self.training else 0.0
        if attn_mask is None:
            # (B, H, T, d_head)
            context_vec = F.scaled_dot_product_attention(
                queries, keys, values, dropout_p=dropout_p, is_causal=True
            )
        else:
            future = torch.ones(
                num_tokens, num_tokens, dtype=torch.bool, device=x.device
            ).tril()
            # SDPA's boolean attn_mask: True = attend, as ours (no inversion needed)
            # (B, H, T, d_head); rows with no visible key come out as zeros
            context_vec = F.scaled_dot_product_attention(
                queries, keys, values, attn_mask=attn_mask & future, dropout_p=dropout_p
            )
        context_vec = context_vec.transpose(1, 2).reshape(b, num_tokens, self.d_out)
        return self.out_proj(context_vec)  # (B, T, d_out)


def _require(module, cls, name: str) -> None:
    if not isinstance(module, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, got {type(module).__name__}")


@torch.no_grad()
def copy_to_fused(
    mha: MultiHeadAttention, fused: FusedMultiHeadAttention | None = None
) -> FusedMultiHeadAttention:
    """Copy a :class:`MultiHeadAttention`'s weights into a :class:`FusedMultiHeadAttention`.

    ``fused.qkv.weight`` is ``W_query.weight``, ``W_key.weight`` and ``W_value.weight`` stacked
    row-wise (``nn.Linear`` stores (out, in)). Builds a new module (same sizes, dropout,
    device and dtype) when ``fused`` is None, and returns it.

    >>> import torch
    >>> from chapter3.multihead import MultiHeadAttention, copy_to_fused
    >>> mha = MultiHeadAttention(4, 4, context_length=5, dropout=0.0, num_heads=2).eval()
    >>> fused = copy_to_fused(mha).eval()
    >>> x = torch.rand(2, 5, 4)
    >>> torch.allclose(mha(x), fused(x), atol=1e-6)
    True
    """
    _require(mha, MultiHeadAttention, "mha")
    if fused is None:
        fused = FusedMultiHeadAttention(
            mha.d_in,
            mha.d_out,
            mha.context_length,
            mha.dropout.p,
            mha.num_heads,
            qkv_bias=mha.W_query.bias is not None,
        ).to(device=mha.out_proj.weight.device, dtype=mha.out_proj.weight.dtype)
    _require(fused, FusedMultiHeadAttention, "fused")
    if (fused.d_in, fused.d_out, fused.num_heads) != (
        mha.d_in,
        mha.d_out,
        mha.num_heads,
    ):
        raise ValueError(
            "fused must have the same (d_in, d_out, num_heads) as mha, got "
            f"{(fused.d_in, fused.d_out, fused.num_heads)} and "
            f"{(mha.d_in, mha.d_out, mha.num_heads)}"
        )
    if (fused.qkv.bias is None) != (mha.W_query.bias is None):
        raise ValueError("fused and mha must agree on qkv_bias")
    projections = (mha.W_query, mha.W_key, mha.W_value)
    # (3*d_out, d_in)
    fused.qkv.weight.copy_(torch.cat([p.weight for p in projections], dim=0))
    if fused.qkv.bias is not None:
        fused.qkv.bias.copy_(torch.cat([p.bias for p in projections], dim=0))
    fused.out_proj.load_state_dict(mha.out_proj.state_dict())
    return fused


@torch.no_grad()
def copy_to_wrapper(
    mha: MultiHeadAttention, wrapper: MultiHeadAttentionWrapper | None = None
) -> MultiHeadAttentionWrapper:
    """Copy a :class:`MultiHeadAttention`'s heads into a :class:`MultiHeadAttentionWrapper`.

    Head ``h`` of the wrapper gets rows ``h*head_dim : (h+1)*head_dim`` of ``W_query``,
    ``W_key`` and ``W_value`` (weights and, with ``qkv_bias``, biases): its slice of the batched
    projections. The wrapper has no ``out_proj``, so it reproduces ``mha``'s context vector
    *before* ``out_proj``: ``mha.out_proj(wrapper(x))`` equals ``mha(x)`` (and ``wrapper(x)``
    itself equals ``mha(x)`` only when ``out_proj`` is the identity with zero bias). Builds a new
    wrapper (``num_heads`` heads of ``d_out = head_dim``, same context_length, dropout, device
    and dtype) when ``wrapper`` is None, and returns it.

    >>> import torch
    >>> from chapter3.multihead import MultiHeadAttention, copy_to_wrapper
    >>> mha = MultiHeadAttention(4, 4, context_length=5, dropout=0.0, num_heads=2).eval()
    >>> wrapper = copy_to_wrapper(mha).eval()
    >>> len(wrapper.heads), wrapper.heads[0].W_query.weight.shape  # (head_dim, d_in) per head
    (2, torch.Size([2, 4]))
    >>> x = torch.rand(2, 5, 4)
    >>> torch.allclose(mha.out_proj(wrapper(x)), mha(x), atol=1e-6)
    True
    """
    _require(mha, MultiHeadAttention, "mha")
    qkv_bias = mha.W_query.bias is not None
    if wrapper is None:
        wrapper = MultiHeadAttentionWrapper(
            mha.d_in,
            mha.head_dim,
            mha.context_length,
            mha.dropout.p,
            mha.num_heads,
            qkv_bias=qkv_bias,
        ).to(device=mha.out_proj.weight.device, dtype=mha.out_proj.weight.dtype)
    _require(wrapper, MultiHeadAttentionWrapper, "wrapper")
    if len(wrapper.heads) != mha.num_heads:
        raise ValueError(
            f"wrapper must have one head per head of mha, got {len(wrapper.heads)} heads "
            f"and num_heads={mha.num_heads}"
        )
    for head in wrapper.heads:
        if (head.d_in, head.d_out) != (mha.d_in, mha.head_dim):
            raise ValueError(
                "each head of wrapper must map d_in to mha's head_dim, got (d_in, d_out)="
                f"{(head.d_in, head.d_out)} and (d_in, head_dim)={(mha.d_in, mha.head_dim)}"
            )
        if (head.W_query.bias is not None) != qkv_bias:
            raise ValueError("wrapper and mha must agree on qkv_bias")
    for h, head in enumerate(wrapper.heads):
        # head h's rows of (d_out, d_in)
        rows = slice(h * mha.head_dim, (h + 1) * mha.head_dim)
        for name in ("W_query", "W_key", "W_value"):
            source, target = getattr(mha, name), getattr(head, name)
            target.weight.copy_(source.weight[rows])  # (head_dim, d_in)
            if qkv_bias:
                target.bias.copy_(source.bias[rows])
    return wrapper


@torch.no_grad()
def to_torch_multihead(mha: MultiHeadAttention) -> nn.MultiheadAttention:
    """A :class:`torch.nn.MultiheadAttention` (``batch_first=True``) with ``mha``'s weights.

    PyTorch's module requires the query width to equal ``embed_dim``, so ``mha`` must have
    ``d_in == d_out``. Call it as ``torch_mha(x, x, x, attn_mask=~causal_attend_mask(T),
    need_weights=False)[0]``: its boolean ``attn_mask`` uses the **opposite** convention
    (``True`` = hide), hence the ``~``. Without ``qkv_bias`` its input-projection bias is zero.

    >>> import torch
    >>> from chapter3.masks import causal_attend_mask
    >>> from chapter3.multihead import MultiHeadAttention, to_torch_multihead
    >>> mha = MultiHeadAttention(4, 4, context_length=5, dropout=0.0, num_heads=2).eval()
    >>> ref = to_torch_multihead(mha).eval()
    >>> x = torch.rand(2, 5, 4)
    >>> out = ref(x, x, x, attn_mask=~causal_attend_mask(5), need_weights=False)[0]
    >>> torch.allclose(mha(x), out, atol=1e-6)
    True
    """
    _require(mha, MultiHeadAttention, "mha")
    if mha.d_in != mha.d_out:
        raise ValueError(
            "torch.nn.MultiheadAttention needs d_in == d_out (its query width is embed_dim), "
            f"got d_in={mha.d_in}, d_out={mha.d_out}"
        )
    weight = mha.out_proj.weight
    ref = nn.MultiheadAttention(
        mha.d_out,
        mha.num_heads,
        dropout=mha.dropout.p,
        bias=True,
        batch_first=True,
        device=weight.device,
        dtype=weight.dtype,
    )
    projections = (mha.W_query, mha.W_key, mha.W_value)
    ref.in_proj_weight.copy_(torch.cat([p.weight for p in projections], dim=0))
    if mha.W_query.bias is not None:
        ref.in_proj_bias.copy_(torch.cat([p.bias for p in projections], dim=0))
    else:
        ref.in_proj_bias.zero_()
    ref.out_proj.weight.copy_(mha.out_proj.weight)
    ref.out_proj.bias.copy_(mha.out_proj.bias)
    return ref
