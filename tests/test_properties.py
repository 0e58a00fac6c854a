"""Property-based tests (hypothesis) over random shapes: causality, equivalences, softmax rows,
mask conventions.

Shapes are drawn with ``d_in != d_out`` (a swapped pair of sizes hides when they are equal),
1 to 4 heads, any batch size and sequence lengths up to ``context_length``. Every class is also
compared with a reference written here from the formula, so a bug that keeps a property (a
mask that hides too much is still causal) is still caught.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from chapter3.causal import CausalAttention
from chapter3.gpt import GPTConfig, GPTDecoder, attention_maps
from chapter3.kv_cache import KVCache
from chapter3.masks import (
    causal_attend_mask,
    check_attn_mask,
    combine_attend_masks,
    key_padding,
    masked_softmax,
    padding_attend_mask,
    to_hide_mask,
)
from chapter3.multihead import (
    FusedMultiHeadAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    copy_to_fused,
    copy_to_wrapper,
    to_torch_multihead,
)
from chapter3.self_attention import (
    SelfAttention_v1,
    SelfAttention_v2,
    SelfAttentionWithWeights,
    transfer_weights,
)
from chapter3.simple_attention import (
    all_attn_scores,
    all_attn_scores_by_loop,
    all_context_vecs,
    attn_scores_by_loop,
    attn_scores_by_matmul,
    context_vec_by_loop,
    normalize_by_sum,
    softmax_naive,
)

ATOL = 1e-5


@st.composite
def dims(draw, equal_widths: bool = False):
    """(B, T, d_in, d_out, num_heads, context_length, seed) with d_in != d_out by default."""
    num_heads = draw(st.integers(1, 4))
    d_out = num_heads * draw(st.integers(1, 4))
    if equal_widths:
        d_in = d_out
    else:
        d_in = draw(st.sampled_from([d for d in range(1, 10) if d != d_out]))
    context_length = draw(st.integers(1, 8))
    num_tokens = draw(st.integers(1, context_length))
    batch = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    return batch, num_tokens, d_in, d_out, num_heads, context_length, seed


def padding_for(batch: int, num_tokens: int, seed: int) -> torch.Tensor:
    """A random (B, T) key-padding mask (True = real token), some rows fully padded."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, num_tokens, generator=g) > 0.3


def reference_attention(q, k, v, attend):
    """softmax(q k^T / sqrt(d) with hidden keys at -inf) v; a row with no visible key is 0."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    weights = torch.softmax(scores.masked_fill(~attend, float("-inf")), dim=-1)
    return torch.nan_to_num(weights, nan=0.0) @ v


def reference_mha(mha, x, attend):
    """Multi-head attention written head by head from the weights of ``mha``."""
    b, t, _ = x.shape
    h, d = mha.num_heads, mha.head_dim
    q, k, v = (
        m(x).view(b, t, h, d).transpose(1, 2)
        for m in (mha.W_query, mha.W_key, mha.W_value)
    )
    context = reference_attention(q, k, v, attend).transpose(1, 2).reshape(b, t, h * d)
    return mha.out_proj(context)


def future_changed(x: torch.Tensor, t: int, seed: int) -> torch.Tensor:
    """``x`` with every position after ``t`` replaced by new random values."""
    g = torch.Generator().manual_seed(seed + 1)
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn(changed[:, t + 1 :].shape, generator=g)
    return changed


# --- 3.3 ---------------------------------------------------------------------------------------
@given(st.integers(1, 7), st.integers(1, 5), st.integers(0, 2**16))
def test_simple_attention_functions_agree_on_2d_inputs(num_tokens, width, seed):
    inputs = torch.randn(
        num_tokens, width, generator=torch.Generator().manual_seed(seed)
    )
    scores = all_attn_scores(inputs)  # (T, T)
    assert scores.shape == (num_tokens, num_tokens)
    assert torch.allclose(scores, all_attn_scores_by_loop(inputs), atol=ATOL)
    assert torch.allclose(scores, inputs @ inputs.T, atol=ATOL)
    for i in range(num_tokens):
        row = attn_scores_by_loop(inputs, inputs[i])
        assert torch.allclose(row, scores[i], atol=ATOL)
        assert torch.allclose(attn_scores_by_matmul(inputs, inputs[i]), row, atol=ATOL)
    weights = softmax_naive(scores)  # 2-D: one softmax per row
    assert torch.allclose(weights, torch.softmax(scores, dim=-1), atol=ATOL)
    assert torch.allclose(weights.sum(dim=-1), torch.ones(num_tokens), atol=ATOL)
    positive = scores.exp()
    assert torch.allclose(
        normalize_by_sum(positive).sum(dim=-1), torch.ones(num_tokens)
    )
    assert torch.allclose(
        normalize_by_sum(positive), positive / positive.sum(1, keepdim=True)
    )
    context = all_context_vecs(inputs)
    assert torch.allclose(context, weights @ inputs, atol=ATOL)
    for i in range(num_tokens):
        assert torch.allclose(
            context_vec_by_loop(inputs, weights[i]), context[i], atol=ATOL
        )


# --- 3.4 ---------------------------------------------------------------------------------------
@given(dims())
def test_self_attention_v1_v2_follow_the_formula_and_agree(d):
    _, t, d_in, d_out, _, _, seed = d
    torch.manual_seed(seed)
    v1, v2 = SelfAttention_v1(d_in, d_out), SelfAttention_v2(d_in, d_out)
    x = torch.randn(t, d_in)
    q, k, v = x @ v1.W_query, x @ v1.W_key, x @ v1.W_value
    everything = torch.ones(t, t, dtype=torch.bool)
    assert v1(x).shape == (t, d_out)
    assert torch.allclose(v1(x), reference_attention(q, k, v, everything), atol=ATOL)
    transfer_weights(v2, v1)
    assert torch.allclose(v1(x), v2(x), atol=ATOL)


@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**16))
def test_self_attention_with_weights_rows_sum_to_one(batch, num_tokens, dim, seed):
    torch.manual_seed(seed)
    module = SelfAttentionWithWeights(dim)
    x = torch.randn(batch, num_tokens, dim)
    context, weights = module(x)
    assert torch.allclose(weights.sum(-1), torch.ones(batch, num_tokens), atol=ATOL)
    q, k, v = module.W_query(x), module.W_key(x), module.W_value(x)
    expected = reference_attention(
        q, k, v, torch.ones(num_tokens, num_tokens, dtype=torch.bool)
    )
    assert torch.allclose(context, expected, atol=ATOL)


# --- 3.5 and 3.6: causality --------------------------------------------------------------------
def causal_modules(d):
    b, t, d_in, d_out, h, ctx, seed = d
    torch.manual_seed(seed)
    return [
        CausalAttention(d_in, d_out, ctx, 0.0).eval(),
        MultiHeadAttention(d_in, d_out, ctx, 0.0, h).eval(),
        FusedMultiHeadAttention(d_in, d_out, ctx, 0.0, h).eval(),
        MultiHeadAttentionWrapper(d_in, d_out // h, ctx, 0.0, h).eval(),
    ]


@given(dims(), st.data())
def test_every_causal_class_ignores_the_future(d, data):
    b, t, d_in, *_, seed = d
    cut = data.draw(st.integers(0, t - 1))
    x = torch.randn(b, t, d_in, generator=torch.Generator().manual_seed(seed))
    changed = future_changed(x, cut, seed)
    for module in causal_modules(d):
        with torch.no_grad():
            before, after = module(x), module(changed)
        assert torch.allclose(before[:, : cut + 1], after[:, : cut + 1], atol=ATOL), (
            module
        )
        # ... and the first position sees itself: its output depends on its own input
        if cut == 0 and t > 0:
            moved = x.clone()
            moved[:, 0] += 1.0
            assert not torch.allclose(module(moved)[:, 0], before[:, 0]), module


@given(dims())
def test_causal_attention_follows_the_formula(d):
    b, t, d_in, d_out, _, ctx, seed = d
    torch.manual_seed(seed)
    ca = CausalAttention(d_in, d_out, ctx, 0.0, qkv_bias=True)
    x = torch.randn(b, t, d_in)
    pad = padding_for(b, t, seed)
    expected = reference_attention(
        ca.W_query(x),
        ca.W_key(x),
        ca.W_value(x),
        causal_attend_mask(t) & pad[:, None, :],
    )
    assert torch.allclose(ca(x, pad[:, None, :]), expected, atol=ATOL)
    unmasked = reference_attention(
        ca.W_query(x), ca.W_key(x), ca.W_value(x), causal_attend_mask(t)
    )
    assert torch.allclose(ca(x), unmasked, atol=ATOL)
    assert torch.equal(ca.mask.bool(), to_hide_mask(causal_attend_mask(ctx)))


@given(dims())
def test_multihead_variants_and_copy_helpers_are_equivalent(d):
    b, t, d_in, d_out, h, ctx, seed = d
    torch.manual_seed(seed)
    mha = MultiHeadAttention(d_in, d_out, ctx, 0.0, h, qkv_bias=bool(seed % 2)).eval()
    fused = copy_to_fused(mha).eval()
    wrapper = copy_to_wrapper(mha).eval()
    x = torch.randn(b, t, d_in)
    pad = padding_for(b, t, seed)
    with torch.no_grad():
        out = mha(x)
        assert out.shape == (b, t, d_out)
        assert torch.allclose(
            out, reference_mha(mha, x, causal_attend_mask(t)), atol=ATOL
        )
        assert torch.allclose(fused(x), out, atol=ATOL)
        assert torch.allclose(mha.out_proj(wrapper(x)), out, atol=ATOL)
        masked = mha(x, key_padding(pad))
        expected = reference_mha(mha, x, causal_attend_mask(t) & key_padding(pad))
        assert torch.allclose(masked, expected, atol=ATOL)
        assert torch.allclose(fused(x, key_padding(pad)), masked, atol=ATOL)
        wrapped = mha.out_proj(wrapper(x, key_padding(pad, num_heads_axis=False)))
        assert torch.allclose(wrapped, masked, atol=ATOL)
        assert torch.isfinite(masked).all()


@given(dims(equal_widths=True))
def test_torch_multihead_copy_is_equivalent(d):
    b, t, d_in, d_out, h, ctx, seed = d
    torch.manual_seed(seed)
    mha = MultiHeadAttention(d_in, d_out, ctx, 0.0, h, qkv_bias=bool(seed % 2)).eval()
    ref = to_torch_multihead(mha).eval()
    x = torch.randn(b, t, d_in)
    with torch.no_grad():
        expected = ref(x, x, x, attn_mask=~causal_attend_mask(t), need_weights=False)[0]
        assert torch.allclose(mha(x), expected, atol=ATOL)


# --- dropout: where it acts ---------------------------------------------------------------------
@given(dims(), st.sampled_from([0.2, 0.5]))
def test_dropout_acts_on_the_attention_weights_after_the_softmax(d, p):
    b, t, d_in, d_out, h, ctx, seed = d
    torch.manual_seed(seed)
    ca = CausalAttention(d_in, d_out, ctx, p).train()
    mha = MultiHeadAttention(d_in, d_out, ctx, p, h).train()
    x = torch.randn(b, t, d_in)
    for module, heads in ((ca, None), (mha, h)):
        torch.manual_seed(seed)
        out = module(x)
        q, k, v = module.W_query(x), module.W_key(x), module.W_value(x)
        if heads is not None:
            q, k, v = (z.view(b, t, h, -1).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        weights = masked_softmax(scores, causal_attend_mask(t))
        torch.manual_seed(seed)  # the module's dropout is its only random draw
        context = F.dropout(weights, p, training=True) @ v
        if heads is not None:
            context = module.out_proj(context.transpose(1, 2).reshape(b, t, d_out))
        assert torch.allclose(out, context, atol=ATOL), type(module).__name__
        module.eval()
        assert torch.equal(module(x), module(x))  # no dropout in eval mode


# --- softmax rows and mask conventions ----------------------------------------------------------
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**16))
def test_masked_softmax_rows(batch, rows, cols, seed):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, rows, cols, generator=g) * 5
    attend = torch.rand(batch, rows, cols, generator=g) > 0.4
    weights = masked_softmax(scores, attend)
    visible = attend.any(-1)
    assert torch.isfinite(weights).all()
    assert torch.allclose(weights.sum(-1), visible.float(), atol=ATOL)
    assert (weights[~attend] == 0).all()
    expected = torch.softmax(scores.masked_fill(~attend, float("-inf")), dim=-1)
    assert torch.allclose(weights[visible], expected[visible], atol=ATOL)
    everything = torch.ones_like(attend)
    assert torch.allclose(masked_softmax(scores, everything), torch.softmax(scores, -1))


@given(st.integers(1, 3), st.integers(1, 7), st.integers(0, 2**16))
def test_mask_conventions(batch, length, seed):
    g = torch.Generator().manual_seed(seed)
    future = causal_attend_mask(length)
    i, j = torch.meshgrid(torch.arange(length), torch.arange(length), indexing="ij")
    assert torch.equal(future, j <= i)  # row = query, column = key, True = may attend
    assert torch.equal(to_hide_mask(future), j > i)
    tokens = torch.randint(0, 4, (batch, length), generator=g)
    padding = padding_attend_mask(tokens, pad_id=3)
    assert torch.equal(padding, tokens != 3)
    combined = combine_attend_masks(padding, future)
    assert combined.shape == (batch, 1, length, length)
    for b in range(batch):
        expected = padding[b][None, :] & (j <= i)  # padded *keys* (columns) are hidden
        assert torch.equal(combined[b, 0], expected)
    assert torch.equal(key_padding(padding)[:, 0, 0], padding)
    assert torch.equal(key_padding(padding, num_heads_axis=False)[:, 0], padding)
    check_attn_mask(combined, (batch, 2, length, length))


# --- the decoder and its cache ------------------------------------------------------------------
@functools.cache
def small_decoder(seed: int, num_layers: int = 2) -> GPTDecoder:
    """One of a few small decoders (building one per example would dominate the run time)."""
    torch.manual_seed(seed)
    config = GPTConfig(
        d_model=12, num_heads=3, num_layers=num_layers, d_ff=20, dropout=0.0
    )
    model = GPTDecoder(config).eval()
    with torch.no_grad():  # as after training: layer norms that are not the identity
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.normal_(1.0, 0.5)
                module.bias.normal_(0.0, 0.5)
    return model


@given(st.integers(1, 3), st.integers(1, 11), st.integers(0, 2**16), st.data())
def test_decoder_is_causal_and_its_attention_rows_sum_to_one(batch, length, seed, data):
    model = small_decoder(seed % 3)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 18, (batch, length), generator=g)
    cut = data.draw(st.integers(0, length - 1))
    changed = tokens.clone()
    changed[:, cut + 1 :] = torch.randint(
        0, 18, changed[:, cut + 1 :].shape, generator=g
    )
    logits, maps = attention_maps(model, tokens)
    assert torch.allclose(model(changed)[:, : cut + 1], logits[:, : cut + 1], atol=ATOL)
    for weights in maps:
        assert torch.allclose(weights.sum(-1), torch.ones(batch, 3, length), atol=ATOL)
        assert (weights.triu(diagonal=1) == 0).all()


@given(st.integers(1, 3), st.integers(2, 11), st.integers(0, 2**16), st.data())
def test_cached_forward_equals_the_full_forward_for_any_split(
    batch, length, seed, data
):
    model = small_decoder(seed % 3)
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 18, (batch, length), generator=g)
    padding = torch.rand(batch, length, generator=g) > 0.2
    cuts = sorted(set(data.draw(st.lists(st.integers(1, length - 1), max_size=3))))
    cache = KVCache(
        len(model.decoder_blocks), max_len=data.draw(st.sampled_from([None, length]))
    )
    pieces, start = [], 0
    for end in [*cuts, length]:
        pieces.append(model(tokens[:, start:end], padding[:, :end], cache))
        start = end
    assert cache.length == length
    full = model(tokens, padding)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-4)
    assert torch.isfinite(full).all()  # a fully padded prefix gives zeros, never NaN


@given(
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(1, 8),
    st.integers(1, 9),
    st.integers(0, 2**16),
)
def test_feed_forward_is_linear_relu_linear(batch, length, d_model, d_ff, seed):
    from chapter3.gpt import PositionwiseFeedForward

    torch.manual_seed(seed)
    ffn = PositionwiseFeedForward(d_model, d_ff, dropout=0.5).eval()
    first, second = ffn.ffn[0], ffn.ffn[3]
    assert (first.in_features, first.out_features) == (d_model, d_ff)
    x = torch.randn(batch, length, d_model)
    expected = second(torch.relu(first(x)))
    assert torch.allclose(ffn(x), expected, atol=ATOL)


@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**16))
def test_one_head_follows_the_formula(length, d_model, seed):
    from chapter3.one_head import SelfAttention

    torch.manual_seed(seed)
    head = SelfAttention(d_model)
    x = torch.randn(length, d_model)
    everything = torch.ones(length, length, dtype=torch.bool)
    expected = reference_attention(
        head.w_query(x), head.w_key(x), head.w_value(x), everything
    )
    assert torch.allclose(head(x), expected, atol=ATOL)
