"""Padding and future masks, in the decoder's convention: ``True`` means *may attend*.

Two conventions for boolean masks are in common use, and mixing them up is a real, published
bug (an inverted mask lets every token see only the future):

- this module, seed 003's decoder, and the boolean ``attn_mask`` of
  :func:`torch.nn.functional.scaled_dot_product_attention`: ``True`` = **attend**;
- :meth:`torch.Tensor.masked_fill` (and ``nn.MultiheadAttention``'s boolean masks):
  ``True`` = **hide**. Pass ``~mask`` (or ``mask == 0``, as seed 003 does) to ``masked_fill``.
"""

from __future__ import annotations

import torch

from chapter3._checks import check_positive_int


def future_mask(seq_len: int, device=None) -> torch.Tensor:
    """The (L, L) look-ahead mask: row *i* may attend to columns ``0..i`` (``True`` = attend).

    >>> from chapter3.masks import future_mask
    >>> future_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    """
    check_positive_int(seq_len, "seq_len")
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()  # (L, L)


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """The (B, L) padding mask of a batch of token ids: ``True`` where the token is not padding.

    >>> import torch
    >>> from chapter3.masks import padding_mask
    >>> padding_mask(torch.tensor([[5, 7, 16], [8, 16, 16]]), pad_id=16)
    tensor([[ True,  True, False],
            [ True, False, False]])
    """
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(f"tokens must be a torch.Tensor of token ids, got {type(tokens).__name__}")
    if tokens.dim() != 2:
        raise ValueError(
            f"tokens must be a 2-D (B, L) batch of ids, got shape {tuple(tokens.shape)}"
        )
    if tokens.is_floating_point():
        raise TypeError(f"tokens must hold integer ids, got dtype {tokens.dtype}")
    return tokens != pad_id  # (B, L)


def combine_masks(padding: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Combine a (B, L) padding mask and an (L, L) future mask into a (B, 1, L, L) mask.

    Entry ``[b, 0, i, j]`` says whether query *i* of sample *b* may attend to key *j*: key *j*
    is a real token **and** not in the future of *i*. The padding mask is broadcast along the
    *key* axis (``padding[:, None, None, :]``); the singleton axis 1 broadcasts over the heads
    of a (B, H, L, L) score tensor.

    >>> import torch
    >>> from chapter3.masks import combine_masks, future_mask
    >>> m = combine_masks(torch.tensor([[True, True, False]]), future_mask(3))
    >>> m.shape
    torch.Size([1, 1, 3, 3])
    >>> m[0, 0]
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True, False]])
    """
    if padding.dim() != 2:
        raise ValueError(f"padding must be a (B, L) mask, got shape {tuple(padding.shape)}")
    seq_len = padding.shape[1]
    if future.shape != (seq_len, seq_len):
        raise ValueError(
            f"future must be an (L, L) = ({seq_len}, {seq_len}) mask to match padding's length, "
            f"got shape {tuple(future.shape)}"
        )
    return padding[:, None, None, :] & future[None, None, :, :]  # (B, 1, L, L)
