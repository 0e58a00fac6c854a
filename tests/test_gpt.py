import pytest
import torch
from torch import nn

from chapter3.gpt import (
    AddNorm,
    GPTConfig,
    GPTDecoder,
    LayerNormWithStd,
    MultiHeadAttention,
    ScaledDotProductAttention,
    count_parameters,
)
from chapter3.masks import causal_attend_mask


def small_config(**kw):
    base = dict(
        vocab_size=18, max_seq_len=11, d_model=16, num_heads=2, num_layers=2, d_ff=32
    )
    base.update(kw)
    return GPTConfig(**base)


def test_seed_model_has_270226_parameters():
    model = GPTDecoder(GPTConfig())
    assert count_parameters(model) == 270_226
    # where they live: 2 blocks of 131,968, embeddings 2,304 + 1,408, final norm 256, head 2,322
    block = sum(p.numel() for p in model.decoder_blocks[0].parameters())
    assert block == 131_968
    assert model.head.weight.shape == (18, 128) and model.pos_embed.shape == (
        1,
        11,
        128,
    )


def test_projections_have_no_bias_and_every_matrix_is_xavier():
    torch.manual_seed(0)
    model = GPTDecoder(GPTConfig())
    mha = model.decoder_blocks[0].masked_self_attention
    for name in ("W_Q", "W_K", "W_V", "W_O"):
        assert getattr(mha, name).bias is None
    # Xavier-uniform bound for a (128, 128) matrix is sqrt(6 / 256); the zeros of pos_embed
    # are overwritten too (dim 3 > 1).
    bound = (6 / 256) ** 0.5
    assert mha.W_Q.weight.abs().max() <= bound
    assert model.pos_embed.abs().sum() > 0


def test_whole_decoder_is_causal():
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 18, (3, 10))
    base = model(x)
    for t in range(10):
        changed = x.clone()
        changed[:, t] = (changed[:, t] + 1) % 18
        out = model(changed)
        # positions before t never see token t ...
        assert torch.allclose(out[:, :t], base[:, :t], atol=1e-6)
        # ... and position t itself does change (the test could fail)
        assert not torch.allclose(out[:, t], base[:, t])


def test_without_future_mask_the_future_leaks():
    """The check above can fail: a decoder given an all-True mask is not causal."""
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 18, (2, 6))
    everything = torch.ones(6, 6, dtype=torch.bool)
    changed = x.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 18
    assert not torch.allclose(
        model(x, future_mask=everything)[:, 0],
        model(changed, future_mask=everything)[:, 0],
    )


def test_attention_weights_of_every_layer_are_returned_and_stored():
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 18, (2, 7))
    logits, maps = model(x, return_attention=True)
    assert logits.shape == (2, 7, 18)
    assert len(maps) == 2 and all(m.shape == (2, 2, 7, 7) for m in maps)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 2, 7))
    assert torch.equal(
        maps[0].triu(1), torch.zeros_like(maps[0])
    )  # nothing above the diagonal
    assert all(
        torch.equal(a, b) for a, b in zip(model.attention_maps(), maps, strict=True)
    )


def test_masks_in_all_accepted_shapes_agree():
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (2, 5))
    x[1, 3:] = 16
    pad = x != 16
    full = pad[:, None, None, :].expand(2, 1, 5, 5)
    fut = causal_attend_mask(5)
    a = model(x, pad, fut)
    b = model(x, full, fut.expand(2, 1, 5, 5))
    assert torch.allclose(a, b)


def test_scaled_dot_product_matches_torch():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    mask = causal_attend_mask(5)
    ours, weights = ScaledDotProductAttention()(q, k, v, mask)
    ref = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert weights.shape == (2, 3, 5, 5)


def test_multihead_split_and_merge_are_inverses():
    mha = MultiHeadAttention(d_model=8, num_heads=2)
    x = torch.randn(3, 5, 8)
    assert mha.split_heads(x).shape == (3, 2, 5, 4)
    assert torch.equal(mha.merge_heads(mha.split_heads(x)), x)


def test_addnorm_is_layer_norm_of_x_plus_sublayer_of_dropped_x():
    torch.manual_seed(0)
    add_norm = AddNorm(4, dropout=0.5).train()
    x = torch.randn(2, 3, 4)
    seen = []
    torch.manual_seed(1)
    out = add_norm(x, lambda z: seen.append(z) or 2 * z)
    # the sublayer received a dropped-out x (some entries zero, others scaled by 2)
    assert (seen[0] == 0).any() and torch.allclose(
        seen[0][seen[0] != 0], 2 * x[seen[0] != 0]
    )
    assert torch.allclose(out, add_norm.layer_norm(x + 2 * seen[0]))


def test_seed_layer_norm_uses_unbiased_std_plus_eps():
    x = torch.tensor([[1.0, 2.0, 4.0, 7.0]])
    ours = LayerNormWithStd(4)(x)
    torch_ln = nn.LayerNorm(4)(x)
    assert torch.allclose(ours, (x - x.mean()) / (x.std() + 1e-6))
    # biased vs unbiased: the ratio is sqrt((N - 1) / N) for N = 4 (eps aside)
    assert torch.allclose(
        ours / torch_ln, torch.full_like(x, (3 / 4) ** 0.5), atol=1e-4
    )


@pytest.mark.parametrize(
    ("tokens", "error", "message"),
    [
        (torch.zeros(1, 12, dtype=torch.long), ValueError, "outside 1..max_seq_len=11"),
        (torch.zeros(1, 5), TypeError, "integer token ids"),
        (torch.zeros(5, dtype=torch.long), ValueError, r"2-D \(B, L\)"),
        (torch.full((1, 3), 18), ValueError, r"token ids must lie in 0..17"),
        ([[1, 2]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_refused_clearly(tokens, error, message):
    model = GPTDecoder(small_config())
    with pytest.raises(error, match=message):
        model(tokens)


def test_bad_mask_shape_is_refused():
    model = GPTDecoder(small_config())
    x = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="future_mask has shape"):
        model(x, future_mask=causal_attend_mask(5))
    with pytest.raises(TypeError, match="torch.bool"):
        model(x, target_padding_mask=torch.ones(2, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_model": 130}, "divisible by num_heads"),
        ({"num_layers": 0}, "num_layers must be a positive integer"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**kwargs)


def test_cached_forward_equals_full_forward():
    from chapter3.gpt import KVCache

    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (3, 9))
    full = model(x)
    cache = KVCache(num_layers=2)
    parts = [model.forward_cached(x[:, :5], cache)]
    parts += [model.forward_cached(x[:, t : t + 1], cache) for t in range(5, 9)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    assert cache.length == 9 and cache.keys[0].shape == (3, 2, 9, 8)
    with pytest.raises(ValueError, match="exceed max_seq_len=11"):
        model.forward_cached(x[:, :3], cache)


def test_preallocated_cache_writes_in_place_and_gives_the_same_logits():
    from chapter3.gpt import KVCache

    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (3, 9))
    grown, preallocated = KVCache(num_layers=2), KVCache(num_layers=2, max_len=11)
    for cache in (grown, preallocated):
        parts = [model.forward_cached(x[:, :5], cache)]
        parts += [model.forward_cached(x[:, t : t + 1], cache) for t in range(5, 9)]
        assert torch.allclose(torch.cat(parts, dim=1), model(x), atol=1e-5)
        assert cache.length == 9 and cache.keys[0].shape == cache.values[1].shape == (
            3,
            2,
            9,
            8,
        )
    # one buffer of max_len positions, allocated at the first call and never replaced
    assert preallocated._keys[0].shape == (3, 2, 11, 8)
    assert torch.equal(grown.keys[1], preallocated.keys[1])


def test_cache_select_rows_copies_the_chosen_rows():
    from chapter3.gpt import KVCache

    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (2, 4))
    cache = KVCache(num_layers=2, max_len=11)
    model.forward_cached(x, cache)
    rows = torch.tensor([1, 0, 1])
    selected = cache.select_rows(rows)
    assert selected.length == 4 and selected.keys[0].shape == (3, 2, 4, 8)
    for layer in range(2):
        assert torch.equal(selected.keys[layer], cache.keys[layer][rows])
        assert torch.equal(selected.values[layer], cache.values[layer][rows])
    # the copy has room for more positions, and extending it leaves the original alone
    model.forward_cached(torch.randint(0, 16, (3, 1)), selected)
    assert selected.length == 5 and cache.length == 4


def test_forward_cached_last_only_gives_the_last_position_of_the_full_pass():
    from chapter3.gpt import KVCache

    torch.manual_seed(1)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (4, 8))
    padding = torch.ones(4, 8, dtype=torch.bool)
    padding[1, 2] = (
        False  # one hidden key, to check the mask's last row is the one used
    )
    full = model(x, padding)
    cache = KVCache(num_layers=2, max_len=11)
    first = model.forward_cached(x[:, :6], cache, padding[:, :6], last_only=True)
    last = model.forward_cached(x[:, 6:], cache, padding, last_only=True)
    assert first.shape == last.shape == (4, 1, 18)
    assert torch.allclose(first[:, 0], full[:, 5], atol=1e-5)
    assert torch.allclose(last[:, 0], full[:, 7], atol=1e-5)
    assert cache.length == 8  # every position's keys and values were cached
