import pytest
import torch
from torch import nn

from chapter3.gpt import (
    AddNorm,
    GPTConfig,
    GPTDecoder,
    LayerNormWithStd,
    attention_maps,
    count_parameters,
)
from chapter3.kv_cache import KVCache
from chapter3.multihead import MultiHeadAttention


def small_config(**kw):
    base = dict(
        vocab_size=18, max_seq_len=11, d_model=16, num_heads=2, num_layers=2, d_ff=32
    )
    base.update(kw)
    return GPTConfig(**base)


def test_decoder_has_270482_parameters_and_the_notebooks_270226_without_out_proj_bias():
    model = GPTDecoder(GPTConfig())
    assert count_parameters(model) == 270_482
    # where they live: 2 blocks of 132,096, embeddings 2,304 + 1,408, final norm 256, head 2,322
    block = sum(p.numel() for p in model.decoder_blocks[0].parameters())
    assert block == 132_096
    # The notebook's attention has a bias-free output projection (W_O): rebuilding that
    # gives its published count, 270,226.
    for b in model.decoder_blocks:
        b.masked_self_attention.out_proj = nn.Linear(128, 128, bias=False)
    assert count_parameters(model) == 270_226
    assert model.head.weight.shape == (18, 128) and model.pos_embed.shape == (
        1,
        11,
        128,
    )


def test_attention_is_the_chapters_class_and_every_matrix_is_xavier():
    torch.manual_seed(0)
    model = GPTDecoder(GPTConfig())
    mha = model.decoder_blocks[0].masked_self_attention
    assert type(mha) is MultiHeadAttention
    for name in ("W_query", "W_key", "W_value"):
        assert getattr(mha, name).bias is None
    assert mha.out_proj.bias is not None
    # Xavier-uniform bound for a (128, 128) matrix is sqrt(6 / 256); the zeros of pos_embed
    # are overwritten too (dim 3 > 1).
    bound = (6 / 256) ** 0.5
    assert mha.W_query.weight.abs().max() <= bound
    assert mha.W_query.weight.abs().max() > 0.9 * bound  # Xavier, not torch's default
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


def test_without_the_causal_mask_the_future_leaks():
    """The check above can fail: zero every attention module's mask buffer and it does."""
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 18, (2, 6))
    changed = x.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 18
    for block in model.decoder_blocks:
        block.masked_self_attention.mask.zero_()  # nothing is a future key any more
    assert not torch.allclose(model(x)[:, 0], model(changed)[:, 0])


def test_attention_weights_of_every_layer_are_returned_and_stored():
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 18, (2, 7))
    logits, maps = attention_maps(model, x)
    assert torch.equal(logits, model(x))
    assert logits.shape == (2, 7, 18)
    assert len(maps) == 2 and all(m.shape == (2, 2, 7, 7) for m in maps)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 2, 7))
    # nothing above the diagonal
    assert torch.equal(maps[0].triu(1), torch.zeros_like(maps[0]))
    dropout = model.decoder_blocks[0].masked_self_attention.dropout
    assert not dropout._forward_hooks  # the hooks are removed again


def test_padding_hides_padded_keys_from_every_query():
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (2, 5))
    pad = torch.ones(2, 5, dtype=torch.bool)
    pad[1, 3:] = False
    changed = x.clone()
    changed[1, 3:] = (changed[1, 3:] + 1) % 16  # what sits under the padding
    a, b = model(x, pad), model(changed, pad)
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
    # the same change without the padding mask is seen by position 3 (the test can fail)
    assert not torch.allclose(model(x)[1, 3], model(changed)[1, 3])


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
    with pytest.raises(ValueError, match="padding_mask must have the shape"):
        model(x, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.bool"):
        model(x, torch.ones(2, 4))


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
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (3, 9))
    full = model(x)
    cache = KVCache(num_layers=2)
    parts = [model(x[:, :5], cache=cache)]
    parts += [model(x[:, t : t + 1], cache=cache) for t in range(5, 9)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    assert cache.length == 9 and cache.keys[0].shape == (3, 2, 9, 8)
    with pytest.raises(ValueError, match="exceed max_seq_len=11"):
        model(x[:, :3], cache=cache)


def test_preallocated_cache_writes_in_place_and_gives_the_same_logits():
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (3, 9))
    grown, preallocated = KVCache(num_layers=2), KVCache(num_layers=2, max_len=11)
    for cache in (grown, preallocated):
        parts = [model(x[:, :5], cache=cache)]
        parts += [model(x[:, t : t + 1], cache=cache) for t in range(5, 9)]
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
    torch.manual_seed(0)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (2, 4))
    cache = KVCache(num_layers=2, max_len=11)
    model(x, cache=cache)
    rows = torch.tensor([1, 0, 1])
    selected = cache.select_rows(rows)
    assert selected.length == 4 and selected.keys[0].shape == (3, 2, 4, 8)
    for layer in range(2):
        assert torch.equal(selected.keys[layer], cache.keys[layer][rows])
        assert torch.equal(selected.values[layer], cache.values[layer][rows])
    # the copy has room for more positions, and extending it leaves the original alone
    model(torch.randint(0, 16, (3, 1)), cache=selected)
    assert selected.length == 5 and cache.length == 4


def test_cached_forward_with_padding_gives_the_full_pass_position_by_position():
    torch.manual_seed(1)
    model = GPTDecoder(small_config()).eval()
    x = torch.randint(0, 16, (4, 8))
    padding = torch.ones(4, 8, dtype=torch.bool)
    # one hidden key, to check the mask's rows are the ones of the new positions
    padding[1, 2] = False
    full = model(x, padding)
    cache = KVCache(num_layers=2, max_len=11)
    first = model(x[:, :6], padding[:, :6], cache)
    last = model(x[:, 6:], padding, cache)
    assert first.shape == (4, 6, 18) and last.shape == (4, 2, 18)
    assert torch.allclose(torch.cat([first, last], dim=1), full, atol=1e-5)
    assert cache.length == 8  # every position's keys and values were cached
