"""Padding and future masks, in the decoder's convention: ``True`` means *may attend*.

Two conventions for boolean masks are in common use, and mixing them up is a real, published
bug (an inverted mask lets every token see only the future):

- this module, the adder notebook's decoder, and the boolean ``attn_mask`` of
  :func:`torch.nn.functional.scaled_dot_product_attention`: ``True`` = **attend**;
- :meth:`torch.Tensor.masked_fill` (and the boolean masks of :class:`torch.nn.MultiheadAttention`):
  ``True`` = **hide**. Convert with :func:`to_hide_mask` (that is ``~mask``; the adder
  notebook writes ``mask == 0``, which does the same for 0/1 masks).

Shapes: a padding mask is (B, L), a future mask is (L, L), and the mask that attention consumes
has the rank of the scores it is applied to: (B, 1, L, L) for multi-head scores (B, H, L, L), or
(B, L, L) for single-head scores. :func:`check_attn_mask` says so, loudly, when a mask does not
fit; :func:`masked_softmax` applies a mask and defines a row with no visible key as all zeros.
"""

from __future__ import annotations

import torch

from chapter3._checks import (
    check_attn_mask,
    check_bool_mask,
    check_device,
    check_int,
    check_masked_softmax_args,
    check_positive_int,
)


def causal_attend_mask(seq_len: int, device=None) -> torch.Tensor:
    """The (L, L) look-ahead mask: row *i* may attend to columns ``0..i`` (``True`` = attend).

    Row *i* is query position *i*, column *j* is key position *j*; the lower triangle (with the
    diagonal) is ``True``. Its inverse, the strict upper triangle, is what
    :class:`chapter3.causal.CausalAttention` keeps as its ``mask`` buffer for ``masked_fill``.

    >>> from chapter3.masks import causal_attend_mask
    >>> causal_attend_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    """
    check_positive_int(seq_len, "seq_len")
    device = None if device is None else check_device(device)
    return torch.ones(
        seq_len, seq_len, dtype=torch.bool, device=device
    ).tril()  # (L, L)


def padding_attend_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The (B, L) padding mask of a batch of token ids: ``True`` where the token is not padding.

    One entry per *token*; it says nothing yet about which query sees which key. Broadcast it
    along the key axis (:func:`key_padding`, or :func:`combine_attend_masks` with a causal
    mask) before applying it to attention scores.

    >>> import torch
    >>> from chapter3.masks import padding_attend_mask
    >>> padding_attend_mask(torch.tensor([[5, 7, 16], [8, 16, 16]]), pad_id=16)
    tensor([[ True,  True, False],
            [ True, False, False]])
    """
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(
            f"tokens must be a torch.Tensor of token ids, got {type(tokens).__name__}"
        )
    if tokens.dim() != 2:
        raise ValueError(
            f"tokens must be a 2-D (B, L) batch of ids, got shape {tuple(tokens.shape)}"
        )
    if tokens.is_floating_point() or tokens.dtype == torch.bool:
        raise TypeError(f"tokens must hold integer ids, got dtype {tokens.dtype}")
    return tokens != check_int(pad_id, "pad_id")  # (B, L)


def combine_attend_masks(padding: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Combine a (B, L) padding mask and an (L, L) future mask into a (B, 1, L, L) mask.

    Entry ``[b, 0, i, j]`` says whether query *i* of sample *b* may attend to key *j*: key *j*
    is a real token **and** not in the future of *i*. The padding mask is broadcast along the
    *key* axis (``padding[:, None, None, :]``); the singleton axis 1 broadcasts over the heads
    of a (B, H, L, L) score tensor. Query rows of padded positions are *not* hidden: hiding
    them would leave rows with no visible key (see :func:`masked_softmax`), and their outputs
    are ignored by the loss anyway.

    >>> import torch
    >>> from chapter3.masks import combine_attend_masks, causal_attend_mask
    >>> m = combine_attend_masks(torch.tensor([[True, True, False]]), causal_attend_mask(3))
    >>> m.shape
    torch.Size([1, 1, 3, 3])
    >>> m[0, 0]
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True, False]])
    """
    check_bool_mask(padding, "padding", ndim=2, shape_hint="(B, L)")
    check_bool_mask(future, "future", ndim=2, shape_hint="(L, L)")
    seq_len = padding.shape[1]
    if future.shape != (seq_len, seq_len):
        raise ValueError(
            f"future must be an (L, L) = ({seq_len}, {seq_len}) mask to match padding's length, "
            f"got shape {tuple(future.shape)}"
        )
    return padding[:, None, None, :] & future[None, None, :, :]  # (B, 1, L, L)


def key_padding(padding: torch.Tensor, num_heads_axis: bool = True) -> torch.Tensor:
    """Reshape a (B, L) padding mask so that it hides padded *keys* (columns) in every row.

    Returns (B, 1, 1, L), which broadcasts to multi-head scores (B, H, L, L), or (B, 1, L) for
    single-head scores (B, L, L) when ``num_heads_axis=False``. Applying the (B, L) mask as it
    is would align it with the *last two* axes of the scores instead: a silent bug when B == L,
    a shape error otherwise.

    >>> import torch
    >>> from chapter3.masks import key_padding
    >>> pad = torch.tensor([[True, True, False]])
    >>> key_padding(pad).shape, key_padding(pad, num_heads_axis=False).shape
    (torch.Size([1, 1, 1, 3]), torch.Size([1, 1, 3]))
    """
    check_bool_mask(padding, "padding", ndim=2, shape_hint="(B, L)")
    if num_heads_axis:
        return padding[:, None, None, :]  # (B, 1, 1, L)
    return padding[:, None, :]  # (B, 1, L)


def to_hide_mask(mask: torch.Tensor) -> torch.Tensor:
    """Turn a ``True`` = attend mask into the ``True`` = hide mask that ``masked_fill`` wants.

    The same conversion feeds the boolean ``attn_mask``/``key_padding_mask`` of
    :class:`torch.nn.MultiheadAttention`. Code that keeps 0/1 masks writes ``mask == 0``.

    >>> import torch
    >>> from chapter3.masks import causal_attend_mask, to_hide_mask
    >>> to_hide_mask(causal_attend_mask(3))
    tensor([[False,  True,  True],
            [False, False,  True],
            [False, False, False]])
    >>> scores = torch.zeros(3, 3)
    >>> scores.masked_fill(to_hide_mask(causal_attend_mask(3)), float("-inf"))
    tensor([[0., -inf, -inf],
            [0., 0., -inf],
            [0., 0., 0.]])
    """
    check_bool_mask(mask, "mask")
    return ~mask


def masked_softmax(attn_scores: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim with hidden keys set to −inf; a row with no visible key is 0.

    ``attend`` is ``True`` = may attend and broadcasts to ``attn_scores``. A hidden score becomes
    −inf, so ``exp`` makes it exactly 0 and the visible weights of the row still sum to 1.
    A row whose keys are *all* hidden would be softmax(−inf, …, −inf) = 0 / 0 = NaN, and one NaN
    spreads through every later layer; this function defines such a row as all zeros instead, so
    its context vector is the zero vector. That is also what
    :func:`torch.nn.functional.scaled_dot_product_attention` returns for such rows.

    ``attn_scores`` must be floating point and ``attend`` boolean (an int or float mask is
    refused: its meaning, 1 = attend or 1 = hide, is ambiguous). NaN in a visible score
    propagates to its row, as in :func:`torch.softmax`; ``+inf`` scores give NaN as well.

    >>> import torch
    >>> from chapter3.masks import masked_softmax
    >>> scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> attend = torch.tensor([[True, True, False], [False, False, False]])
    >>> masked_softmax(scores, attend)
    tensor([[0.2689, 0.7311, 0.0000],
            [0.0000, 0.0000, 0.0000]])
    """
    check_masked_softmax_args(attn_scores, attend)
    return _masked_softmax(attn_scores, attend)


def _masked_softmax(attn_scores: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
    """:func:`masked_softmax` without its argument check, for the attention classes, whose
    own door has checked what reaches it (a decoder would otherwise check once a layer)."""
    attn_scores = attn_scores.masked_fill(~attend, float("-inf"))
    attn_weights = softmax_last_dim(attn_scores)
    nothing_visible = ~attend.any(dim=-1, keepdim=True)  # rows that came out as NaN
    return attn_weights.masked_fill(nothing_visible, 0.0)


def softmax_last_dim(x: torch.Tensor) -> torch.Tensor:
    """``torch.softmax(x, dim=-1)``; on CPU, over a last dimension shorter than 16, the
    same softmax taken over the first dimension of a transposed view.

    PyTorch's CPU kernel vectorises along the last dimension; over fewer keys than a
    vector holds (the adder's 10) it runs about 6× slower, forward and backward, than the
    kernel for another dimension, which vectorises across rows instead. The two kernels
    add in another order, so the weights may differ in the last bit (a few 1e-8).

    >>> import torch
    >>> from chapter3.masks import softmax_last_dim
    >>> scores = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    >>> torch.allclose(softmax_last_dim(scores), torch.softmax(scores, dim=-1))
    True
    """
    if x.dim() < 2 or x.size(-1) >= 16 or x.device.type != "cpu":
        return torch.softmax(x, dim=-1)
    return torch.softmax(x.movedim(-1, 0), dim=0).movedim(0, -1)


__all__ = [
    "causal_attend_mask",
    "padding_attend_mask",
    "combine_attend_masks",
    "key_padding",
    "to_hide_mask",
    "softmax_last_dim",
    "check_attn_mask",
    "masked_softmax",
]
