"""A small GPT decoder built from the chapter's own attention (the decoder pages of the book).

The pieces, in the order the book introduces them:

- :class:`GPTConfig`, every size in one flat dataclass;
- :class:`AddNorm`, the residual connection of the notebook that trains a GPT decoder to add:
  ``layer_norm(x + sublayer(dropout(x)))``;
- :class:`PositionwiseFeedForward`, :class:`GPTDecoderBlock` (masked self-attention with the
  chapter's :class:`~chapter3.multihead.MultiHeadAttention`, then the feed-forward network)
  and :class:`GPTDecoder`.

The notebook's attention has a bias-free output projection; the chapter's ``out_proj`` has a
bias. With the defaults of :class:`GPTConfig` the decoder therefore has 270,482 parameters:
the notebook's 270,226 plus one 128-wide bias per layer. Masks follow :mod:`chapter3.masks`:
``True`` means *may attend*. Incremental decoding passes a
:class:`~chapter3.kv_cache.KVCache` to the same ``forward``; :func:`attention_maps` reads every
layer's weights with hooks.

Inputs are checked once, at the door: :meth:`GPTDecoder.forward` checks the token ids (and
the cache), then runs its blocks, whose sublayers it calls through their unchecked
``_forward``. :class:`AddNorm`, :class:`PositionwiseFeedForward` and
:class:`~chapter3.multihead.MultiHeadAttention` used on their own check their input in
``forward``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from chapter3._checks import (
    check_bool_mask,
    check_decoder_config,
    check_decoder_model,
    check_dropout,
    check_features,
    check_positive_int,
    check_sizes,
)
from chapter3.kv_cache import check_cache
from chapter3.multihead import MultiHeadAttention


@dataclass
class GPTConfig:
    """Everything that decides the decoder's shape (defaults: the notebook's adder).

    >>> from chapter3.gpt import GPTConfig
    >>> GPTConfig(d_model=130, num_heads=4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: d_model (130) must be divisible by num_heads (4): ...
    """

    vocab_size: int = 18  # tokens the embedding knows and the head scores
    max_seq_len: int = 11  # longest input: the learned positions have this many rows
    d_model: int = 128  # width of every token vector (D)
    num_heads: int = 4  # attention heads (H), each d_model // num_heads wide
    num_layers: int = 2  # decoder blocks
    d_ff: int = 256  # hidden width of the feed-forward network
    dropout: float = 0.1  # on embeddings, on each sublayer's input, inside the FFN
    attn_dropout: float = 0.0  # on the attention weights (the notebook applies none)

    def __post_init__(self):
        check_decoder_config(self)

    def to_dict(self) -> dict:
        """A plain dict (for checkpoints)."""
        return asdict(self)


def check_is_config(config) -> GPTConfig:
    """Raise unless ``config`` is a :class:`GPTConfig` (whose sizes it checked when made)."""
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
    return config


class AddNorm(nn.Module):
    """The notebook's residual connection: ``layer_norm(x + sublayer(dropout(x)))``.

    Dropout acts on the sublayer's *input*. The original Transformer drops the sublayer's
    *output* instead, ``layer_norm(x + dropout(sublayer(x)))``. Both are post-norm: the layer
    norm comes after the addition (pre-norm would be ``x + sublayer(layer_norm(x))``).
    """

    def __init__(self, d_model, dropout):
        super().__init__()
        self.dropout = nn.Dropout(check_dropout(dropout))
        self.layer_norm = nn.LayerNorm(check_positive_int(d_model, "d_model"))

    def forward(self, x, sublayer):
        check_features(x, self.layer_norm.normalized_shape[0], what="d_model")
        return self._forward(x, sublayer)

    def _forward(self, x, sublayer):
        return self.layer_norm(x + sublayer(self.dropout(x)))  # (B, L, D)


class PositionwiseFeedForward(nn.Module):
    """Linear(D → d_ff), ReLU, dropout, Linear(d_ff → D), the same for every position."""

    def __init__(self, d_model, d_ff, dropout=0.1):
        super().__init__()
        check_sizes(d_model=d_model, d_ff=d_ff)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, d_ff),
            nn.ReLU(),
            nn.Dropout(check_dropout(dropout)),
            nn.Linear(d_ff, d_model),
        )

    def forward(self, x):
        check_features(x, self.ffn[0].in_features, what="d_model")
        return self._forward(x)

    def _forward(self, x):
        return self.ffn(x)  # (B, L, D) → (B, L, d_ff) → (B, L, D)


class GPTDecoderBlock(nn.Module):
    """Masked multi-head self-attention, then the feed-forward network, each in an AddNorm.

    The attention is the chapter's :class:`~chapter3.multihead.MultiHeadAttention` with
    ``d_in = d_out = d_model``; its causal mask is built in. There is no cross-attention: a
    decoder-only model has no encoder to attend to. With a ``cache``, the attention appends
    the new positions' keys and values to the cache's layer ``layer``.

    The block is a part of :class:`GPTDecoder`, which checks the input at its door: its
    sublayers run their unchecked ``_forward``.
    """

    def __init__(self, config):
        super().__init__()
        d = check_is_config(config).d_model  # GPTConfig checked the sizes already
        self.masked_self_attention = MultiHeadAttention(
            d, d, config.max_seq_len, config.attn_dropout, config.num_heads
        )
        self.feed_forward = PositionwiseFeedForward(d, config.d_ff, config.dropout)
        self.add_norm_1 = AddNorm(d, config.dropout)
        self.add_norm_2 = AddNorm(d, config.dropout)

    def forward(self, z, attn_mask=None, cache=None, layer=0):
        def attention(z):
            return self.masked_self_attention._forward(z, attn_mask, cache, layer)

        z = self.add_norm_1._forward(z, attention)
        return self.add_norm_2._forward(z, self.feed_forward._forward)  # (B, L, D)


class GPTDecoder(nn.Module):
    """Token embedding + learned positions → decoder blocks → LayerNorm → linear head.

    ``forward(input_tokens, padding_mask=None, cache=None)`` maps (B, L) token ids to
    (B, L, V) logits. ``padding_mask`` is (B, L), True at real tokens: padded *keys* are hidden
    from every query. With a :class:`~chapter3.kv_cache.KVCache` holding ``past`` positions,
    ``input_tokens`` are the *next* L tokens (at positions past .. past + L - 1), only they
    are computed, and ``padding_mask`` covers the whole sequence so far, (B, past + L). The
    causal mask needs no argument: it is inside every attention module. A query that may see
    no key at all (a row of padding at its start) gets zero attention weights
    through the chapter's :func:`~chapter3.masks.masked_softmax`, never NaN. Positions are
    absolute: left padding moves the real tokens to later positions, so
    :func:`chapter3.adder.decoding.greedy_decode` strips it before decoding. NaN weights
    propagate to the logits, as in torch
    (:func:`chapter3.adder.checkpoints.load_checkpoint` refuses them).

    >>> import torch
    >>> from chapter3.gpt import GPTConfig, GPTDecoder
    >>> model = GPTDecoder(GPTConfig())
    >>> sum(p.numel() for p in model.parameters())
    270482
    >>> model(torch.zeros(2, 10, dtype=torch.long)).shape
    torch.Size([2, 10, 18])

    With a cache, one token at a time gives the logits of the whole pass:

    >>> from chapter3.kv_cache import KVCache
    >>> x = torch.tensor([[15, 1, 5, 10, 5, 7, 13]])
    >>> _ = model.eval()
    >>> cache = KVCache(num_layers=2)
    >>> first = model(x[:, :6], cache=cache)
    >>> last = model(x[:, 6:], cache=cache)
    >>> torch.allclose(last[:, -1], model(x)[:, -1], atol=1e-5), cache.length
    (True, 7)
    """

    def __init__(self, config=None):
        super().__init__()
        self.config = config = check_decoder_config(config or GPTConfig())
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
        for p in self.parameters():  # Xavier for every matrix, as in the notebook
            if p.dim() > 1:  # (pos_embed is (1, L, D): its zeros are replaced too)
                nn.init.xavier_uniform_(p)

    def forward(self, input_tokens, padding_mask=None, cache=None):
        check_decoder_input(self, input_tokens, padding_mask, cache)
        past = 0 if cache is None else cache.length  # positions already cached
        positions = self.pos_embed[:, past : past + input_tokens.shape[1]]
        z = self.tok_embed(input_tokens) + positions  # (B, L, D)
        z = self.dropout(z)
        attn_mask = None if padding_mask is None else padding_mask[:, None, None, :]
        for layer, block in enumerate(self.decoder_blocks):
            # (B, L, D); attn_mask is (B, 1, 1, past + L)
            z = block(z, attn_mask, cache, layer)
        return self.head(self.layer_norm(z))  # (B, L, V)


@torch.no_grad()
def attention_maps(model, input_tokens, padding_mask=None):
    """``(logits, maps)``: the logits and every layer's (B, H, L, L) attention weights.

    The weights are read with forward hooks on each attention module's dropout (whose input
    *is* the attention weights), so the decoder's code needs no extra return value.

    >>> import torch
    >>> from chapter3.gpt import GPTConfig, GPTDecoder, attention_maps
    >>> logits, maps = attention_maps(GPTDecoder(GPTConfig()).eval(), torch.zeros(1, 5).long())
    >>> len(maps), maps[0].shape
    (2, torch.Size([1, 4, 5, 5]))
    """
    check_decoder_model(model)
    maps = []
    hooks = [
        block.masked_self_attention.dropout.register_forward_hook(
            lambda module, inputs, output: maps.append(inputs[0].detach())
        )
        for block in model.decoder_blocks
    ]
    try:
        logits = model(input_tokens, padding_mask)
    finally:
        for hook in hooks:
            hook.remove()
    return logits, maps


class LayerNormWithStd(nn.Module):
    """The layer norm that the adder notebook writes by hand (and then does not use).

    It divides by ``std + eps`` where ``std`` is the *unbiased* standard deviation (N - 1 in
    the denominator); :class:`torch.nn.LayerNorm` divides by ``sqrt(var + eps)`` with the
    *biased* variance (N). The two differ by a factor of about ``sqrt(N / (N - 1))``.

    >>> import torch
    >>> from chapter3.gpt import LayerNormWithStd
    >>> LayerNormWithStd(2)(torch.tensor([[0.0, 2.0]]))
    tensor([[-0.7071,  0.7071]], grad_fn=<AddBackward0>)
    """

    def __init__(self, feature_dim, eps=1e-6):
        super().__init__()
        check_positive_int(feature_dim, "feature_dim")
        self.gamma = nn.Parameter(torch.ones(feature_dim))
        self.beta = nn.Parameter(torch.zeros(feature_dim))
        self.eps = eps

    def forward(self, x):
        check_features(x, self.gamma.numel(), what="feature_dim")
        mean = x.mean(dim=-1, keepdim=True)
        std = x.std(dim=-1, keepdim=True)  # unbiased: divides by N - 1
        return self.gamma * (x - mean) / (std + self.eps) + self.beta


def check_decoder_input(model, input_tokens, padding_mask=None, cache=None) -> None:
    """The checks of :meth:`GPTDecoder.forward`, at its door (its blocks check nothing).

    ``input_tokens`` must be a (B, L) batch of integer ids in 0..vocab_size - 1, with
    L >= 1 and, after the positions that ``cache`` holds, at most max_seq_len positions;
    ``padding_mask``, when given, a boolean (B, past + L) tensor (True = real token); ``cache``
    a :class:`~chapter3.kv_cache.KVCache` with one layer per block.
    """
    config = model.config
    if not isinstance(input_tokens, torch.Tensor):
        raise TypeError(
            "input_tokens must be a torch.Tensor of token ids, "
            f"got {type(input_tokens).__name__}"
        )
    if input_tokens.dtype not in (torch.int64, torch.int32):
        raise TypeError(
            "input_tokens must hold integer token ids (torch.long), "
            f"got {input_tokens.dtype}"
        )
    if input_tokens.dim() != 2:
        raise ValueError(
            "input_tokens must be a 2-D (B, L) batch of ids, got shape "
            f"{tuple(input_tokens.shape)}"
        )
    batch_size, seq_len = input_tokens.shape
    past = 0
    if cache is not None:
        heads = (batch_size, config.num_heads, config.d_model // config.num_heads)
        limit = config.max_seq_len
        past = check_cache(
            cache, config.num_layers, 0, heads, seq_len, limit, "max_seq_len"
        )
    if not 1 <= seq_len <= config.max_seq_len:
        raise ValueError(
            f"sequence length {seq_len} is outside 1..max_seq_len={config.max_seq_len} "
            "(the learned positional embedding has max_seq_len rows)"
        )
    if input_tokens.numel() and (
        int(input_tokens.min()) < 0 or int(input_tokens.max()) >= config.vocab_size
    ):
        raise ValueError(
            f"token ids must lie in 0..{config.vocab_size - 1}, got values in "
            f"{int(input_tokens.min())}..{int(input_tokens.max())}"
        )
    if padding_mask is not None:
        check_bool_mask(padding_mask, "padding_mask")
        expected = (batch_size, past + seq_len)
        if tuple(padding_mask.shape) != expected:
            what = (
                "(B, L)" if cache is None else "(B, past + L) with the cached positions"
            )
            raise ValueError(
                f"padding_mask must have the shape {what} = {expected}, got "
                f"{tuple(padding_mask.shape)}"
            )


def count_parameters(model: nn.Module) -> int:
    """The number of scalar parameters of ``model``.

    >>> from chapter3.gpt import GPTConfig, GPTDecoder, count_parameters
    >>> count_parameters(GPTDecoder(GPTConfig()))
    270482
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "GPTConfig",
    "AddNorm",
    "PositionwiseFeedForward",
    "GPTDecoderBlock",
    "GPTDecoder",
    "attention_maps",
    "LayerNormWithStd",
    "count_parameters",
    "check_decoder_input",
]
