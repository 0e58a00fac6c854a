"""Incremental decoding with a KV cache, for the decoder of :mod:`chapter3.gpt`.

At inference a decoder appends one token at a time. The keys and values of earlier
positions never change (the causal mask keeps them from seeing later tokens), so
:class:`KVCache` keeps them, and :func:`forward_cached` computes only the new positions with
the *same* weights as :class:`chapter3.gpt.GPTDecoder` (its attention modules, AddNorms,
feed-forward networks and head). Greedy decoding (:mod:`chapter3.adder.decoding`) uses it.
"""

from __future__ import annotations

from functools import partial

import torch

from chapter3._checks import (
    check_bool_mask,
    check_decoder_input,
    check_decoder_model,
    check_positive_int,
)
from chapter3.masks import masked_softmax


class KVCache:
    """The keys and values that each block has computed so far, for incremental decoding.

    At inference a decoder appends one token at a time. The keys and values of the earlier
    positions do not change (the causal mask keeps them from seeing later tokens), so they can
    be kept instead of recomputed: each step then processes only the new token. Pass the same
    cache to successive :class:`GPTDecoder` calls; ``length`` counts the positions it holds.

    With ``max_len`` (the longest sequence the caller will decode) each layer's buffer is
    allocated once, at the first call, and every step writes its new positions in place.
    Without it the buffers grow as needed, by copying. ``keys[layer]`` and ``values[layer]``
    are the filled part, (B, H, length, d_k).

    A cache belongs to one batch: every call must bring the same number of rows (B), heads
    and head width as the first; use :meth:`select_rows` to change the batch.
    """

    def __init__(self, num_layers: int, max_len: int | None = None) -> None:
        num_layers = check_positive_int(num_layers, "num_layers")
        self.max_len = (
            None if max_len is None else check_positive_int(max_len, "max_len")
        )
        # one (B, H, capacity, d_k) buffer per layer, allocated at the first call
        self._keys: list[torch.Tensor | None] = [None] * num_layers
        self._values: list[torch.Tensor | None] = [None] * num_layers
        self.length = 0

    @property
    def keys(self) -> list[torch.Tensor | None]:
        return [None if k is None else k[:, :, : self.length] for k in self._keys]

    @property
    def values(self) -> list[torch.Tensor | None]:
        return [None if v is None else v[:, :, : self.length] for v in self._values]

    def extend(self, layer: int, K: torch.Tensor, V: torch.Tensor):
        """Write the new positions' K, V (B, H, T, d_k) after the ``length`` cached ones of
        ``layer``; return the keys and values of all positions, (B, H, length + T, d_k)."""
        _check_extend(self, layer, K)
        start, end = self.length, self.length + K.size(2)
        buffer = self._keys[layer]
        # the first call, or no room left: (re)allocate
        if buffer is None or end > buffer.size(2):
            capacity = max(end, self.max_len or 0)
            shape = (K.size(0), K.size(1), capacity, K.size(3))
            new_keys, new_values = K.new_empty(shape), V.new_empty(shape)
            if buffer is not None:  # keep what is cached
                new_keys[:, :, :start] = buffer[:, :, :start]
                new_values[:, :, :start] = self._values[layer][:, :, :start]
            self._keys[layer], self._values[layer] = new_keys, new_values
        self._keys[layer][:, :, start:end] = K  # in place: nothing cached is copied
        self._values[layer][:, :, start:end] = V
        return self._keys[layer][:, :, :end], self._values[layer][:, :, :end]

    def select_rows(self, rows: torch.Tensor) -> KVCache:
        """A new cache whose row ``b`` copies this cache's row ``rows[b]``; ``rows`` is (B_new,).

        This lets positions that several sequences share (the same prefix) be computed once
        and then handed to every sequence that starts with them. The new buffers keep this
        cache's capacity, so they have room for the positions still to come.
        """
        if not isinstance(rows, torch.Tensor) or rows.dim() != 1:
            raise TypeError("rows must be a 1-D tensor of row indices (B_new,)")
        selected = KVCache(len(self._keys), self.max_len)
        # (B, H, capacity, d_k) → (B_new, H, capacity, d_k): one gather per buffer
        selected._keys = [
            None if K is None else K.index_select(0, rows) for K in self._keys
        ]
        selected._values = [
            None if V is None else V.index_select(0, rows) for V in self._values
        ]
        selected.length = self.length
        return selected


def _check_extend(cache, layer, K) -> None:
    """Raise unless ``layer`` exists and ``K`` fits the buffers that ``cache`` holds."""
    if not 0 <= layer < len(cache._keys):
        raise ValueError(
            f"layer must be in 0..{len(cache._keys) - 1} (this cache has "
            f"{len(cache._keys)} layers), got {layer}"
        )
    buffer = cache._keys[layer]
    if buffer is not None and (K.size(0), K.size(1), K.size(3)) != (
        buffer.size(0),
        buffer.size(1),
        buffer.size(3),
    ):
        raise ValueError(
            f"this cache holds a batch of {buffer.size(0)} rows, {buffer.size(1)} "
            f"heads of width {buffer.size(3)}; the new keys have batch {K.size(0)}, "
            f"{K.size(1)} heads of width {K.size(3)}: use a new KVCache (or "
            "select_rows) for another batch"
        )


def cached_attention(mha, queries_from, keys_from, cache, layer, attend):
    """The chapter's multi-head attention ``mha`` for new positions, reusing cached keys.

    ``queries_from`` (B, T_q, D) gives the queries, ``keys_from`` (B, T, D) the keys and
    values of the T new positions, which are appended to ``cache`` (layer ``layer``);
    ``attend`` (True = may attend) broadcasts to the scores (B, H, T_q, past + T).
    """
    b, t_q, _ = queries_from.shape

    def heads(x):  # (B, T, D) -> (B, H, T, d_head)
        return x.view(b, x.shape[1], mha.num_heads, mha.head_dim).transpose(1, 2)

    keys, values = cache.extend(
        layer, heads(mha.W_key(keys_from)), heads(mha.W_value(keys_from))
    )  # (B, H, past + T, d_head)
    queries = heads(mha.W_query(queries_from))  # (B, H, T_q, d_head)
    attn_scores = queries @ keys.transpose(2, 3)  # (B, H, T_q, past + T)
    attn_weights = masked_softmax(attn_scores / mha.head_dim**0.5, attend)
    context_vec = (attn_weights @ values).transpose(1, 2).reshape(b, t_q, mha.d_out)
    return mha.out_proj(context_vec)  # (B, T_q, D)


@torch.no_grad()
def forward_cached(model, new_tokens, cache, key_padding_mask=None, last_only=False):
    """Logits (B, T, V) for ``new_tokens`` (B, T) that follow the positions in ``cache``.

    The same function as ``model(tokens)`` on the whole sequence, computed for the new
    positions only (inference: no gradients, dropout off). ``key_padding_mask`` is
    (B, past + T), True at real tokens of the whole sequence so far. With ``last_only`` the
    logits are (B, 1, V), for the last position only, which is what greedy decoding needs:
    each block still caches the keys and values of every new position, but the last block,
    the final LayerNorm and the head skip the T - 1 others.

    >>> import torch
    >>> from chapter3.gpt import GPTConfig, GPTDecoder
    >>> from chapter3.kv_cache import KVCache, forward_cached
    >>> model = GPTDecoder(GPTConfig()).eval()
    >>> x = torch.tensor([[15, 1, 5, 10, 5, 7, 13]])
    >>> cache = KVCache(num_layers=2)
    >>> first = forward_cached(model, x[:, :6], cache)
    >>> last = forward_cached(model, x[:, 6:], cache)
    >>> torch.allclose(last[:, -1], model(x)[:, -1], atol=1e-5), cache.length
    (True, 7)
    >>> only = forward_cached(model, x[:, :6], KVCache(num_layers=2), last_only=True)
    >>> only.shape, torch.allclose(only[:, -1], first[:, -1], atol=1e-5)
    (torch.Size([1, 1, 18]), True)
    """
    check_decoder_model(model)
    check_decoder_input(model.config, new_tokens)
    if not isinstance(cache, KVCache) or len(cache._keys) != len(model.decoder_blocks):
        raise TypeError(
            f"cache must be a KVCache with num_layers={len(model.decoder_blocks)} (one per "
            f"decoder block), got {cache!r}"
        )
    past, seq_len = cache.length, new_tokens.size(1)
    total = past + seq_len
    if total > model.config.max_seq_len:
        raise ValueError(
            f"the cache holds {past} positions; {seq_len} more exceed "
            f"max_seq_len={model.config.max_seq_len}"
        )
    # query i sits at position past + i and may attend to keys 0 .. past + i
    attend = torch.ones(total, total, dtype=torch.bool, device=new_tokens.device).tril()
    attend = attend[past:]  # (T, past + T)
    if key_padding_mask is not None:
        check_bool_mask(key_padding_mask, "key_padding_mask")
        if tuple(key_padding_mask.shape) != (new_tokens.size(0), total):
            raise ValueError(
                f"key_padding_mask must be (B, past + T) = {(new_tokens.size(0), total)}, "
                f"got {tuple(key_padding_mask.shape)}"
            )
        attend = key_padding_mask[:, None, None, :] & attend  # (B, 1, T, past + T)
    z = model.tok_embed(new_tokens) + model.pos_embed[:, past:total]  # (B, T, D)
    last_layer = len(model.decoder_blocks) - 1
    for layer, block in enumerate(model.decoder_blocks):
        mha = block.masked_self_attention
        keys_from, mask = z, attend
        if last_only and layer == last_layer:  # only the last position goes on
            z, mask = z[:, -1:], attend[..., -1:, :]  # (B, 1, D), (.., 1, past + T)
        attention = partial(
            cached_attention,
            mha,
            keys_from=keys_from,
            cache=cache,
            layer=layer,
            attend=mask,
        )  # called by AddNorm on the (dropped-out) queries' stream
        z = block.add_norm_1(z, attention)
        z = block.add_norm_2(z, block.feed_forward)  # (B, T or 1, D)
    cache.length = total
    return model.head(model.layer_norm(z))  # (B, T, V), or (B, 1, V) with last_only
