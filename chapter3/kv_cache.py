"""The key/value cache for incremental decoding with the decoder of :mod:`chapter3.gpt`.

At inference a decoder appends one token at a time. The keys and values of earlier
positions never change (the causal mask keeps them from seeing later tokens), so
:class:`KVCache` keeps them, and ``model(new_tokens, padding_mask, cache=cache)`` computes only
the new positions: the *same* forward pass as without a cache (:class:`chapter3.gpt.GPTDecoder`
and :class:`chapter3.multihead.MultiHeadAttention` take the cache as an argument). Greedy
decoding (:mod:`chapter3.adder.decoding`) uses it.
"""

from __future__ import annotations

import torch

from chapter3._checks import check_int, check_positive_int


class KVCache:
    """The keys and values that each block has computed so far, for incremental decoding.

    At inference a decoder appends one token at a time. The keys and values of the earlier
    positions do not change (the causal mask keeps them from seeing later tokens), so they can
    be kept instead of recomputed: each step then processes only the new token. Pass the same
    cache to successive ``model(tokens, padding_mask, cache=cache)`` calls; ``length`` counts
    the positions it holds.

    With ``max_len`` (the longest sequence the caller will decode) each layer's buffer is
    allocated once, at the first call, and every step writes its new positions in place.
    Without it the buffers grow as needed, by copying. ``keys[layer]`` and ``values[layer]``
    are the filled part, (B, H, length, d_k).

    A cache belongs to one batch: every call must bring the same number of rows (B), heads
    and head width as the first; use :meth:`select_rows` to change the batch.
    """

    def __init__(self, num_layers: int, max_len: int | None = None) -> None:
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.max_len = (
            None if max_len is None else check_positive_int(max_len, "max_len")
        )
        # one (B, H, capacity, d_k) buffer per layer, allocated at the first call
        self._keys, self._values = [None] * num_layers, [None] * num_layers
        self._lengths = [0] * num_layers  # positions filled, per layer

    @property
    def length(self) -> int:  # after a whole forward pass, every layer holds as many
        return self._lengths[0]

    @property
    def keys(self) -> list[torch.Tensor | None]:  # each (B, H, length, d_k)
        return [_filled(K, n) for K, n in zip(self._keys, self._lengths, strict=True)]

    @property
    def values(self) -> list[torch.Tensor | None]:
        return [_filled(V, n) for V, n in zip(self._values, self._lengths, strict=True)]

    def extend(self, layer: int, K: torch.Tensor, V: torch.Tensor):
        """Write the new positions' K, V (B, H, T, d_k) after the ones cached in ``layer``;
        return the keys and values of all its positions, (B, H, past + T, d_k)."""
        _check_extend(self, layer, K, V)
        return self._extend(layer, K, V)

    def _extend(self, layer, K, V):  # extend, unchecked: for a forward that checked
        start, buffer = self._lengths[layer], self._keys[layer]
        end = start + K.size(2)
        if buffer is None or end > buffer.size(2):  # first call or no room: allocate
            shape = (K.size(0), K.size(1), max(end, self.max_len or 0), K.size(3))
            new_keys, new_values = K.new_empty(shape), V.new_empty(shape)
            if buffer is not None:  # keep what is cached
                new_keys[:, :, :start] = buffer[:, :, :start]
                new_values[:, :, :start] = self._values[layer][:, :, :start]
            self._keys[layer], self._values[layer] = new_keys, new_values
        self._keys[layer][:, :, start:end] = K  # in place: nothing cached is copied
        self._values[layer][:, :, start:end] = V
        self._lengths[layer] = end
        return self._keys[layer][:, :, :end], self._values[layer][:, :, :end]

    def select_rows(self, rows: torch.Tensor) -> KVCache:
        """A new cache whose row ``b`` copies this cache's row ``rows[b]``; ``rows`` is (B_new,).

        This lets positions that several sequences share (the same prefix) be computed once
        and then handed to every sequence that starts with them. The new buffers keep this
        cache's capacity, so they have room for the positions still to come.
        """
        _check_rows(self, rows)
        selected = KVCache(self.num_layers, self.max_len)
        # (B, H, capacity, d_k) → (B_new, H, capacity, d_k): one gather per buffer
        selected._keys = [_gather(K, rows) for K in self._keys]
        selected._values = [_gather(V, rows) for V in self._values]
        selected._lengths = list(self._lengths)
        return selected


def _filled(buffer: torch.Tensor | None, length: int) -> torch.Tensor | None:
    return None if buffer is None else buffer[:, :, :length]


def _gather(buffer: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor | None:
    return None if buffer is None else buffer.index_select(0, rows.to(buffer.device))


def _check_extend(cache: KVCache, layer, K, V) -> None:
    """Raise unless ``layer`` exists and ``K``, ``V`` are (B, H, T, d_k) tensors that fit
    the buffers ``cache`` holds."""
    _check_layer(cache, layer)
    for name, t in (("K", K), ("V", V)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                f"{name} must be a 4-D (B, H, T, d_k) tensor of keys or values, got {got}"
            )
    if K.shape != V.shape:
        raise ValueError(
            f"K and V must have the same shape (B, H, T, d_k), got {tuple(K.shape)} "
            f"and {tuple(V.shape)}"
        )
    buffer = cache._keys[layer]
    if buffer is None:
        return
    if (K.size(0), K.size(1), K.size(3)) != (
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
    if (K.dtype, K.device) != (buffer.dtype, buffer.device):
        raise TypeError(
            f"this cache holds {buffer.dtype} keys on {buffer.device}; the new keys "
            f"are {K.dtype} on {K.device}"
        )


def _check_layer(cache: KVCache, layer) -> int:
    """Raise unless ``layer`` is an index of ``cache``'s layers; return it as an int."""
    layer = check_int(layer, "layer")
    if not 0 <= layer < cache.num_layers:
        raise ValueError(
            f"layer must be in 0..{cache.num_layers - 1} (this cache has "
            f"{cache.num_layers} layers), got {layer}"
        )
    return layer


def _check_rows(cache: KVCache, rows) -> None:
    """Raise unless ``rows`` is a 1-D tensor of integer indices of ``cache``'s rows."""
    if not isinstance(rows, torch.Tensor) or rows.dim() != 1:
        got = (
            f"shape {tuple(rows.shape)}"
            if isinstance(rows, torch.Tensor)
            else type(rows).__name__
        )
        raise TypeError(f"rows must be a 1-D tensor of row indices (B_new,), got {got}")
    if rows.is_floating_point() or rows.is_complex() or rows.dtype == torch.bool:
        raise TypeError(f"rows must hold integer row indices, got dtype {rows.dtype}")
    filled = next((K for K in cache._keys if K is not None), None)
    if filled is None:  # nothing cached yet: any rows select nothing
        return
    batch = filled.size(0)
    if rows.numel() and (int(rows.min()) < 0 or int(rows.max()) >= batch):
        raise ValueError(
            f"rows must lie in 0..{batch - 1} (this cache holds {batch} rows), got "
            f"values in {int(rows.min())}..{int(rows.max())}"
        )


def check_cache(
    cache, num_layers=None, layer=0, heads=None, new=0, limit=None, what=""
) -> int:
    """Raise unless ``cache`` is a :class:`KVCache` (with ``num_layers`` layers, if given)
    whose ``layer`` can take ``new`` more positions within ``limit`` positions (``what``
    names the limit), of a batch whose keys are ``heads`` = (B, H, d_k); return the positions
    ``layer`` holds.

    The door check of every ``forward`` that takes a cache: the forward then writes to the
    cache without checking again (``_extend``).

    >>> from chapter3.kv_cache import KVCache, check_cache
    >>> check_cache(KVCache(2), num_layers=2, new=5, limit=11, what="max_seq_len")
    0
    >>> check_cache(KVCache(1), layer=0, new=12, limit=11, what="max_seq_len")
    Traceback (most recent call last):
    ...
    ValueError: the cache holds 0 positions; 12 more exceed max_seq_len=11
    """
    if not isinstance(cache, KVCache):
        wanted = "" if num_layers is None else f" with num_layers={num_layers}"
        raise TypeError(f"cache must be a KVCache{wanted}, got {type(cache).__name__}")
    if num_layers is not None and cache.num_layers != num_layers:
        raise TypeError(
            f"cache must be a KVCache with num_layers={num_layers} (one per decoder "
            f"block), got one with num_layers={cache.num_layers}"
        )
    layer = _check_layer(cache, layer)
    past = cache._lengths[layer]
    if limit is not None and past + new > limit:
        raise ValueError(
            f"the cache holds {past} positions; {new} more exceed {what}={limit}"
        )
    buffer = cache._keys[layer]
    if heads is not None and buffer is not None:
        held = (buffer.size(0), buffer.size(1), buffer.size(3))
        if held != tuple(heads):
            raise ValueError(
                f"this cache holds a batch of {held[0]} rows, {held[1]} heads of width "
                f"{held[2]}; the input has {heads[0]} rows for {heads[1]} heads of width "
                f"{heads[2]}: use a new KVCache (or select_rows) for another batch"
            )
    return past


__all__ = ["KVCache", "check_cache"]
