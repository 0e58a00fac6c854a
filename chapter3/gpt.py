"""A small GPT decoder, as seed 003 builds it: masked self-attention, AddNorm, feed-forward.

The pieces, in the order the book introduces them (see the page *The GPT decoder*):

- :class:`ScaledDotProductAttention` returns ``(context_vec, attn_weights)``;
- :class:`MultiHeadAttention` projects with ``W_Q``, ``W_K``, ``W_V`` (no bias), splits the heads
  with ``view``/``permute``, and mixes them back with ``W_O``; it keeps the weights of its last
  call in ``last_attn_weights`` so that attention maps of a trained model can be drawn;
- :class:`AddNorm` is the seed's residual connection, ``layer_norm(x + sublayer(dropout(x)))``;
- :class:`PositionwiseFeedForward`, :class:`GPTDecoderBlock` and :class:`GPTDecoder`.

With the defaults of :class:`GPTConfig` (the adder of seed 003) the model has 270,226 parameters.

Masks follow :mod:`chapter3.masks`: ``True`` means *may attend*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from chapter3._checks import check_dropout, check_positive_int
from chapter3.masks import causal_attend_mask


@dataclass
class GPTConfig:
    """Everything that decides the decoder's shape, in one flat dataclass.

    The defaults are the adder of seed 003 (whose nested configs repeated ``d_model`` five
    times). ``attn_dropout`` is 0 because the seed builds ``ScaledDotProductAttention()`` with
    its default, and the dropout that its multi-head module creates is never applied.

    >>> from chapter3.gpt import GPTConfig
    >>> GPTConfig(d_model=130, num_heads=4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: d_model (130) must be divisible by num_heads (4): ...
    """

    vocab_size: int = 18  # tokens the embedding knows and the head scores
    max_seq_len: int = (
        11  # longest input; the learned positional embedding has this many rows
    )
    d_model: int = 128  # width of every token vector (D)
    num_heads: int = (
        4  # attention heads (H); each works in d_model // num_heads features
    )
    num_layers: int = 2  # decoder blocks
    d_ff: int = 256  # hidden width of the position-wise feed-forward network
    dropout: float = 0.1  # on embeddings, on each sublayer's input, inside the FFN
    attn_dropout: float = 0.0  # on the attention weights

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "max_seq_len",
            "d_model",
            "num_heads",
            "num_layers",
            "d_ff",
        ):
            check_positive_int(getattr(self, name), name)
        check_dropout(self.dropout)
        check_dropout(self.attn_dropout)
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads}): "
                "each head gets d_model // num_heads features"
            )

    def to_dict(self) -> dict:
        """A plain dict (for checkpoints)."""
        return asdict(self)


class ScaledDotProductAttention(nn.Module):
    """softmax(Q Kᵀ / √d_k) V, with an optional boolean mask (``True`` = may attend).

    Returns the context vectors and the attention weights, so callers can inspect them.

    >>> import torch
    >>> from chapter3.gpt import ScaledDotProductAttention
    >>> q = k = v = torch.ones(1, 1, 3, 2)  # (B, H, T, d_k)
    >>> context_vec, attn_weights = ScaledDotProductAttention()(q, k, v)
    >>> attn_weights[0, 0, 0]
    tensor([0.3333, 0.3333, 0.3333])
    """

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(check_dropout(dropout))

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        d_k = query.size(-1)
        attn_scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, T, S)
        if mask is not None:
            # mask is True where attending is allowed; masked_fill wants True where it writes.
            attn_scores = attn_scores.masked_fill(~mask, float("-inf"))
        attn_weights = attn_scores.softmax(dim=-1)  # (B, H, T, S), rows sum to 1
        attn_weights = self.dropout(attn_weights)
        context_vec = attn_weights @ value  # (B, H, T, d_v)
        return context_vec, attn_weights


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
    """

    def __init__(self, num_layers: int, max_len: int | None = None) -> None:
        self.max_len = max_len
        self._keys: list[torch.Tensor | None] = [
            None
        ] * num_layers  # each (B, H, capacity, d_k)
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
        start, end = self.length, self.length + K.size(2)
        buffer = self._keys[layer]
        if buffer is None or end > buffer.size(
            2
        ):  # first call, or no room left: (re)allocate
            capacity = max(end, self.max_len or 0)
            shape = (K.size(0), K.size(1), capacity, K.size(3))
            new_keys, new_values = K.new_empty(shape), V.new_empty(shape)
            if buffer is not None:  # keep what is cached
                new_keys[:, :, :start] = buffer[:, :, :start]
                new_values[:, :, :start] = self._values[layer][:, :, :start]
            self._keys[layer], self._values[layer] = new_keys, new_values
        self._keys[layer][:, :, start:end] = (
            K  # in place: nothing already cached is copied
        )
        self._values[layer][:, :, start:end] = V
        return self._keys[layer][:, :, :end], self._values[layer][:, :, :end]

    def select_rows(self, rows: torch.Tensor) -> KVCache:
        """A new cache whose row ``b`` copies this cache's row ``rows[b]``; ``rows`` is (B_new,).

        This lets positions that several sequences share (the same prefix) be computed once
        and then handed to every sequence that starts with them. The new buffers keep this
        cache's capacity, so they have room for the positions still to come.
        """
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


class MultiHeadAttention(nn.Module):
    """Multi-head attention with four bias-free projections ``W_Q``, ``W_K``, ``W_V``, ``W_O``.

    Each projection is a ``d_model × d_model`` matrix; the heads are carved out of its output
    by ``view`` (split the last axis into H × d_k) and ``permute`` (move H next to B). After a
    forward pass, ``last_attn_weights`` holds the (B, H, T, S) weights of that call (detached).

    >>> import torch
    >>> from chapter3.gpt import MultiHeadAttention
    >>> mha = MultiHeadAttention(d_model=8, num_heads=2)
    >>> mha(torch.zeros(3, 5, 8)).shape
    torch.Size([3, 5, 8])
    >>> mha.last_attn_weights.shape
    torch.Size([3, 2, 5, 5])
    """

    def __init__(self, d_model: int, num_heads: int, attn_dropout: float = 0.0) -> None:
        super().__init__()
        check_positive_int(d_model, "d_model")
        check_positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by num_heads ({num_heads})"
            )
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.W_Q = nn.Linear(d_model, d_model, bias=False)
        self.W_K = nn.Linear(d_model, d_model, bias=False)
        self.W_V = nn.Linear(d_model, d_model, bias=False)
        self.W_O = nn.Linear(d_model, d_model, bias=False)
        self.attention = ScaledDotProductAttention(attn_dropout)
        self.last_attn_weights: torch.Tensor | None = None

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D) → (B, H, L, d_k)."""
        batch_size, seq_len, _ = x.shape
        x = x.view(batch_size, seq_len, self.num_heads, self.d_k)  # (B, L, H, d_k)
        return x.permute(0, 2, 1, 3)  # (B, H, L, d_k)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, L, d_k) → (B, L, D): the inverse of :meth:`split_heads`."""
        batch_size, _, seq_len, _ = x.shape
        x = x.permute(0, 2, 1, 3).contiguous()  # (B, L, H, d_k)
        return x.view(batch_size, seq_len, self.d_model)  # (B, L, D)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        key = query if key is None else key
        value = key if value is None else value
        Q = self.split_heads(self.W_Q(query))  # (B, H, T, d_k)
        K = self.split_heads(self.W_K(key))  # (B, H, S, d_k)
        V = self.split_heads(self.W_V(value))  # (B, H, S, d_k)
        if cache is not None:  # prepend the keys and values of earlier positions
            K, V = cache.extend(layer, K, V)  # (B, H, past + S, d_k)
        context_vec, attn_weights = self.attention(
            Q, K, V, mask
        )  # (B, H, T, d_k), (B, H, T, S)
        self.last_attn_weights = attn_weights.detach()
        return self.W_O(self.merge_heads(context_vec))  # (B, T, D)


class LayerNormWithStd(nn.Module):
    """The layer norm that seed 003 writes by hand (and then does not use).

    It divides by ``std + eps`` where ``std`` is the *unbiased* standard deviation (N - 1 in
    the denominator); :class:`torch.nn.LayerNorm` divides by ``sqrt(var + eps)`` with the
    *biased* variance (N). The two differ by a factor of about ``sqrt(N / (N - 1))``.

    >>> import torch
    >>> from chapter3.gpt import LayerNormWithStd
    >>> LayerNormWithStd(2)(torch.tensor([[0.0, 2.0]]))
    tensor([[-0.7071,  0.7071]], grad_fn=<AddBackward0>)
    """

    def __init__(self, feature_dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(feature_dim))
        self.beta = nn.Parameter(torch.zeros(feature_dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True)  # unbiased: divides by N - 1
        return self.gamma * (x - mean) / (std + self.eps) + self.beta


class AddNorm(nn.Module):
    """The seed's residual connection: ``layer_norm(x + sublayer(dropout(x)))``.

    Dropout is applied to the sublayer's *input*, not to its output as in the original
    Transformer (``layer_norm(x + dropout(sublayer(x)))``); both are post-norm, because the
    layer norm comes after the addition (pre-norm would be ``x + sublayer(layer_norm(x))``).
    """

    def __init__(self, d_model: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(check_dropout(dropout))
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(
        self, x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor]
    ):
        return self.layer_norm(x + sublayer(self.dropout(x)))  # (B, L, D)


class PositionwiseFeedForward(nn.Module):
    """Linear(D → d_ff), ReLU, dropout, Linear(d_ff → D), applied to every position alike."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.ffn = nn.Sequential(
            nn.Linear(d_model, d_ff),
            nn.ReLU(),
            nn.Dropout(check_dropout(dropout)),
            nn.Linear(d_ff, d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(x)  # (B, L, D) → (B, L, d_ff) → (B, L, D)


class GPTDecoderBlock(nn.Module):
    """Masked multi-head self-attention, then the feed-forward network, each in an AddNorm.

    There is no cross-attention: a decoder-only model has no encoder to attend to.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.masked_self_attention = MultiHeadAttention(
            config.d_model, config.num_heads, config.attn_dropout
        )
        self.feed_forward = PositionwiseFeedForward(
            config.d_model, config.d_ff, config.dropout
        )
        self.add_norm_1 = AddNorm(config.d_model, config.dropout)
        self.add_norm_2 = AddNorm(config.d_model, config.dropout)

    def forward(
        self,
        z: torch.Tensor,
        target_mask: torch.Tensor | None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        z = self.add_norm_1(
            z,
            lambda z: self.masked_self_attention(z, z, z, target_mask, cache, layer),
        )
        z = self.add_norm_2(z, self.feed_forward)
        return z  # (B, L, D)

    def forward_last(
        self, z: torch.Tensor, target_mask: torch.Tensor, cache: KVCache, layer: int
    ) -> torch.Tensor:
        """Inference only: :meth:`forward` for the last position of ``z`` (B, T, D).

        The keys and values still come from (and are cached for) every position, but the
        attention output, both AddNorms and the feed-forward network are computed for the last
        position only: the next token depends on nothing else. Returns (B, 1, D).
        """
        last = z[:, -1:, :]  # (B, 1, D)
        last_row_mask = target_mask[..., -1:, :]  # (1, S) or (B, 1, 1, S)
        last = self.add_norm_1(
            last,
            lambda q: self.masked_self_attention(q, z, z, last_row_mask, cache, layer),
        )
        return self.add_norm_2(last, self.feed_forward)  # (B, 1, D)


class GPTDecoder(nn.Module):
    """Token embedding + learned positions → decoder blocks → LayerNorm → linear head.

    ``forward(input_tokens, target_padding_mask=None, future_mask=None)`` returns logits of
    shape (B, L, V). The two masks are combined with a logical *and*; each may be given as
    (B, 1, L, L) (what :func:`chapter3.adder.construct_batches` returns), the padding mask also
    as (B, L), the future mask also as (L, L). Without a future mask the causal one is built,
    so the model never sees the future by accident. With ``return_attention=True`` the call
    returns ``(logits, [attn_weights of layer 0, layer 1, ...])``, each (B, H, L, L).

    >>> import torch
    >>> from chapter3.gpt import GPTConfig, GPTDecoder
    >>> model = GPTDecoder(GPTConfig())
    >>> sum(p.numel() for p in model.parameters())
    270226
    >>> model(torch.zeros(2, 10, dtype=torch.long)).shape
    torch.Size([2, 10, 18])
    """

    def __init__(self, config: GPTConfig | None = None) -> None:
        super().__init__()
        config = GPTConfig() if config is None else config
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.tok_embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, config.max_seq_len, config.d_model)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.decoder_blocks = nn.ModuleList(
            GPTDecoderBlock(config) for _ in range(config.num_layers)
        )
        self.layer_norm = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # Every matrix (dim > 1) gets Xavier-uniform, as in the seed. pos_embed is (1, L, D),
        # so its zeros are overwritten here too: "initialised to zeros" lasts one line.
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _check_inputs(self, input_tokens, target_padding_mask, future_mask):
        if not isinstance(input_tokens, torch.Tensor):
            raise TypeError(
                "input_tokens must be a torch.Tensor of token ids, "
                f"got {type(input_tokens).__name__}"
            )
        if input_tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(
                f"input_tokens must hold integer token ids (torch.long), got {input_tokens.dtype}"
            )
        if input_tokens.dim() != 2:
            raise ValueError(
                f"input_tokens must be a 2-D (B, L) batch of ids, got shape "
                f"{tuple(input_tokens.shape)}"
            )
        batch_size, seq_len = input_tokens.shape
        if seq_len == 0 or seq_len > self.config.max_seq_len:
            raise ValueError(
                f"sequence length {seq_len} is outside 1..max_seq_len={self.config.max_seq_len} "
                "(the learned positional embedding has max_seq_len rows)"
            )
        if input_tokens.numel() and (
            int(input_tokens.min()) < 0
            or int(input_tokens.max()) >= self.config.vocab_size
        ):
            raise ValueError(
                f"token ids must lie in 0..{self.config.vocab_size - 1}, got values in "
                f"{int(input_tokens.min())}..{int(input_tokens.max())}"
            )
        masks = []
        full = (batch_size, 1, seq_len, seq_len)
        for name, mask, allowed in (
            (
                "target_padding_mask",
                target_padding_mask,
                [(batch_size, seq_len), full, (batch_size, 1, 1, seq_len)],
            ),
            ("future_mask", future_mask, [(seq_len, seq_len), full]),
        ):
            if mask is None:
                masks.append(None)
                continue
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
                raise TypeError(
                    f"{name} must be a torch.bool tensor (True = may attend)"
                )
            if tuple(mask.shape) not in allowed:
                raise ValueError(
                    f"{name} has shape {tuple(mask.shape)}; for input of shape "
                    f"{(batch_size, seq_len)} it must be one of {allowed}"
                )
            if name == "target_padding_mask" and mask.dim() == 2:
                mask = mask[:, None, None, :]  # (B, 1, 1, L): padding hides keys
            masks.append(mask)
        return masks

    def forward(
        self,
        input_tokens: torch.Tensor,
        target_padding_mask: torch.Tensor | None = None,
        future_mask: torch.Tensor | None = None,
        return_attention: bool = False,
    ):
        target_padding_mask, future_mask = self._check_inputs(
            input_tokens, target_padding_mask, future_mask
        )
        seq_len = input_tokens.size(1)
        if future_mask is None:
            future_mask = causal_attend_mask(
                seq_len, device=input_tokens.device
            )  # (L, L)
        target_mask = (
            future_mask
            if target_padding_mask is None
            else (
                target_padding_mask & future_mask  # (B, 1, L, L)
            )
        )

        z = self.tok_embed(input_tokens)  # (B, L, D)
        z = z + self.pos_embed[:, :seq_len, :]  # (B, L, D), positions broadcast over B
        z = self.dropout(z)
        attention = []
        for block in self.decoder_blocks:
            z = block(z, target_mask)  # (B, L, D)
            attention.append(block.masked_self_attention.last_attn_weights)
        z = self.layer_norm(z)
        logits = self.head(z)  # (B, L, V)
        return (logits, attention) if return_attention else logits

    @torch.no_grad()
    def forward_cached(
        self,
        new_tokens: torch.Tensor,
        cache: KVCache,
        key_padding_mask: torch.Tensor | None = None,
        last_only: bool = False,
    ) -> torch.Tensor:
        """Logits (B, T, V) for ``new_tokens`` (B, T) that follow the positions in ``cache``.

        The same function as :meth:`forward` on the whole sequence, computed for the new
        positions only (inference: no gradients). ``key_padding_mask`` is (B, past + T),
        ``True`` at real tokens of the whole sequence so far. With ``last_only`` the logits
        are (B, 1, V), for the last position only: what greedy decoding uses. Each block still
        caches the keys and values of every new position, but the last block, the final
        LayerNorm and the head skip the T - 1 others.

        >>> import torch
        >>> from chapter3.gpt import GPTConfig, GPTDecoder, KVCache
        >>> model = GPTDecoder(GPTConfig()).eval()
        >>> x = torch.tensor([[15, 1, 5, 10, 5, 7, 13]])
        >>> cache = KVCache(num_layers=2)
        >>> first = model.forward_cached(x[:, :6], cache)
        >>> last = model.forward_cached(x[:, 6:], cache)
        >>> torch.allclose(last[:, -1], model(x)[:, -1], atol=1e-5), cache.length
        (True, 7)
        >>> only = model.forward_cached(x[:, :6], KVCache(num_layers=2), last_only=True)
        >>> only.shape, torch.allclose(only[:, -1], first[:, -1], atol=1e-5)
        (torch.Size([1, 1, 18]), True)
        """
        self._check_inputs(new_tokens, None, None)
        past, seq_len = cache.length, new_tokens.size(1)
        total = past + seq_len
        if total > self.config.max_seq_len:
            raise ValueError(
                f"the cache holds {past} positions; {seq_len} more exceed "
                f"max_seq_len={self.config.max_seq_len}"
            )
        # query i sits at position past + i and may attend to keys 0 .. past + i
        mask = causal_attend_mask(total, device=new_tokens.device)[
            past:
        ]  # (T, past + T)
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (new_tokens.size(0), total):
                raise ValueError(
                    f"key_padding_mask must be (B, past + T) = {(new_tokens.size(0), total)}, "
                    f"got {tuple(key_padding_mask.shape)}"
                )
            mask = key_padding_mask[:, None, None, :] & mask  # (B, 1, T, past + T)
        z = self.tok_embed(new_tokens) + self.pos_embed[:, past:total, :]  # (B, T, D)
        z = self.dropout(z)
        *first_blocks, last_block = self.decoder_blocks
        for layer, block in enumerate(first_blocks):
            z = block(z, mask, cache, layer)  # (B, T, D)
        if last_only:
            z = last_block.forward_last(z, mask, cache, len(first_blocks))  # (B, 1, D)
        else:
            z = last_block(z, mask, cache, len(first_blocks))  # (B, T, D)
        cache.length = total
        return self.head(self.layer_norm(z))  # (B, T, V), or (B, 1, V) with last_only

    def attention_maps(self) -> list[torch.Tensor]:
        """The (B, H, L, L) attention weights of every layer from the last forward pass."""
        maps = [
            block.masked_self_attention.last_attn_weights
            for block in self.decoder_blocks
        ]
        if any(m is None for m in maps):
            raise RuntimeError(
                "no forward pass yet: call the model on some tokens first"
            )
        return maps


def count_parameters(model: nn.Module) -> int:
    """The number of scalar parameters of ``model``.

    >>> from chapter3.gpt import GPTConfig, GPTDecoder, count_parameters
    >>> count_parameters(GPTDecoder(GPTConfig()))
    270226
    """
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "GPTConfig",
    "ScaledDotProductAttention",
    "KVCache",
    "MultiHeadAttention",
    "LayerNormWithStd",
    "AddNorm",
    "PositionwiseFeedForward",
    "GPTDecoderBlock",
    "GPTDecoder",
    "count_parameters",
]
