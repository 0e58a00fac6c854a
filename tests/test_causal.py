"""CausalAttention (3.5): the chapter's numbers, causality, padding, the buffer, bad input."""

import pytest
import torch

from chapter3.causal import CausalAttention
from chapter3.masks import masked_softmax

# The six embeddings of "Your journey starts with one step" (chapter 3.3).
INPUTS = torch.tensor(
    [
        [0.43, 0.15, 0.89],
        [0.55, 0.87, 0.66],
        [0.57, 0.85, 0.64],
        [0.22, 0.58, 0.33],
        [0.77, 0.25, 0.10],
        [0.05, 0.80, 0.55],
    ]
)

# The causal attention weights of 3.5 (SelfAttention_v2 weights of seed 789).
CAUSAL_WEIGHTS = torch.tensor(
    [
        [1.0000, 0.0000, 0.0000, 0.0000, 0.0000, 0.0000],
        [0.5517, 0.4483, 0.0000, 0.0000, 0.0000, 0.0000],
        [0.3800, 0.3097, 0.3103, 0.0000, 0.0000, 0.0000],
        [0.2758, 0.2460, 0.2462, 0.2319, 0.0000, 0.0000],
        [0.2175, 0.1983, 0.1984, 0.1888, 0.1971, 0.0000],
        [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
    ]
)


def make(seed=123, **kw):
    torch.manual_seed(seed)
    args = dict(d_in=3, d_out=2, context_length=6, dropout=0.0) | kw
    return CausalAttention(**args)


def test_chapter_output_on_the_stacked_batch():
    batch = torch.stack((INPUTS, INPUTS))  # (2, 6, 3)
    out = make()(batch)
    expected = torch.tensor(
        [
            [-0.4519, 0.2216],
            [-0.5874, 0.0058],
            [-0.6300, -0.0632],
            [-0.5675, -0.0843],
            [-0.5526, -0.0981],
            [-0.5299, -0.1081],
        ]
    )
    assert out.shape == (2, 6, 2)
    torch.testing.assert_close(out[0], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1], expected, atol=1e-4, rtol=0)


def test_seed_789_gives_the_chapter_causal_weights_by_both_routes():
    # same creation order as SelfAttention_v2: W_query, W_key, W_value
    ca = make(seed=789)
    with torch.no_grad():
        scores = ca.W_query(INPUTS) @ ca.W_key(INPUTS).T
        weights = torch.softmax(scores / 2**0.5, dim=-1)
    tril = torch.tril(torch.ones(6, 6))
    renormalised = weights * tril / (weights * tril).sum(dim=-1, keepdim=True)
    one_step = masked_softmax(scores / 2**0.5, tril.bool())
    torch.testing.assert_close(renormalised, CAUSAL_WEIGHTS, atol=1e-4, rtol=0)
    torch.testing.assert_close(one_step, renormalised, atol=1e-6, rtol=0)


def test_changing_the_last_token_never_changes_earlier_outputs():
    ca = make(d_in=3, d_out=4)
    x = torch.rand(2, 6, 3)
    y = x.clone()
    y[:, -1] = torch.rand(2, 3) * 10
    a, b = ca(x), ca(y)
    torch.testing.assert_close(a[:, :-1], b[:, :-1], atol=0, rtol=0)
    # the last position did see the change
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_padded_keys_do_not_change_real_positions():
    ca = make(context_length=5)
    pad = torch.tensor(
        [[True, True, True, False, False], [True, True, True, True, False]]
    )
    x = torch.rand(2, 5, 3)
    y = x.clone()
    y[0, 3:] = 100.0  # padded positions of sample 0
    y[1, 4] = -50.0
    a = ca(x, attn_mask=pad[:, None, :])
    b = ca(y, attn_mask=pad[:, None, :])
    assert torch.equal(a[pad], b[pad])


def test_a_query_with_no_visible_key_gives_zeros_and_finite_gradients():
    ca = make(context_length=4)
    x = torch.rand(2, 4, 3, requires_grad=True)
    # left padded
    pad = torch.tensor([[False, False, False, False], [False, True, True, False]])
    out = ca(x, attn_mask=pad[:, None, :])
    assert not out.isnan().any()
    # nothing visible anywhere in sample 0
    assert torch.equal(out[0], torch.zeros(4, 2))
    # query 0 of sample 1 sees only a padded key
    assert torch.equal(out[1, 0], torch.zeros(2))
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_dropout_scales_kept_weights_and_is_off_in_eval():
    ca = make(dropout=0.5)
    batch = torch.stack((INPUTS, INPUTS))
    ca.eval()
    reference = ca(batch)
    torch.testing.assert_close(ca(batch), reference, atol=0, rtol=0)
    ca.train()
    torch.manual_seed(0)
    assert not torch.allclose(ca(batch), reference)
    torch.manual_seed(123)
    dropped = torch.nn.Dropout(0.5)(CAUSAL_WEIGHTS)
    kept = dropped != 0
    # 1 / (1 - p) = 2
    torch.testing.assert_close(dropped[kept], 2 * CAUSAL_WEIGHTS[kept])


def test_mask_is_a_buffer_in_state_dict_that_follows_to():
    ca = make()
    assert "mask" in ca.state_dict()
    assert "mask" not in dict(ca.named_parameters())
    assert torch.equal(
        ca.mask, torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    )
    moved = make().to("meta")  # a device move without a GPU: every buffer goes along
    assert (
        moved.mask.device.type == "meta" and moved.W_query.weight.device.type == "meta"
    )
    if torch.cuda.is_available():  # pragma: no cover - CPU machines
        assert make().to("cuda").mask.is_cuda
    restored = make(seed=1)
    restored.load_state_dict(ca.state_dict())
    batch = torch.stack((INPUTS, INPUTS))
    torch.testing.assert_close(restored(batch), ca(batch), atol=0, rtol=0)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.rand(1, 7, 3), r"7 tokens.*context_length=6"),
        (torch.rand(6, 3), r"3-D tensor \(B, T, d_in\), got shape \(6, 3\)"),
        (torch.rand(1, 2, 6, 3), r"3-D tensor"),
        (torch.rand(1, 6, 4), r"4 features.*d_in=3"),
    ],
)
def test_bad_input_raises_value_error(x, match):
    with pytest.raises(ValueError, match=match):
        make()(x)


@pytest.mark.parametrize("p", [1.0, -0.1, 1.5])
def test_bad_dropout_raises_value_error(p):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        make(dropout=p)


@pytest.mark.parametrize("shape", [(2, 6), (2, 6, 5), (3, 6, 6), (2, 1, 6, 6)])
def test_mask_that_cannot_broadcast_raises_value_error(shape):
    with pytest.raises(
        ValueError, match=r"cannot broadcast to the attention scores \(B, T, T\)"
    ):
        make()(torch.rand(2, 6, 3), attn_mask=torch.ones(shape, dtype=torch.bool))


def test_float_mask_raises_type_error():
    with pytest.raises(TypeError, match="boolean"):
        make()(torch.rand(2, 6, 3), attn_mask=torch.ones(2, 6, 6))


def test_mask_buffer_is_the_chapters_float_triu_so_state_dicts_match():
    ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.0)
    state = ca.state_dict()
    assert set(state) == {"mask", "W_query.weight", "W_key.weight", "W_value.weight"}
    assert state["mask"].dtype == torch.float32
    assert torch.equal(state["mask"], torch.triu(torch.ones(6, 6), diagonal=1))
    # a state_dict saved from the chapter's class (same names, float mask) loads as it is
    ca.load_state_dict({k: v.clone() for k, v in state.items()})


def test_multihead_mask_buffer_is_the_chapters_too():
    from chapter3.multihead import MultiHeadAttention

    mha = MultiHeadAttention(4, 4, context_length=5, dropout=0.0, num_heads=2)
    mask = mha.state_dict()["mask"]
    assert mask.dtype == torch.float32
    assert torch.equal(mask, torch.triu(torch.ones(5, 5), diagonal=1))
