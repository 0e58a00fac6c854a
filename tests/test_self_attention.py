"""Section 3.4 and the notebook whose self-attention returns its weights: trainable
self-attention reproduces the chapter's numbers."""

import pytest
import torch

from chapter3.inputs import example_inputs
from chapter3.self_attention import (
    SelfAttention_v1,
    SelfAttention_v2,
    SelfAttentionWithWeights,
    transfer_weights,
)

ATOL = 5e-5
V1_SEED_123 = torch.tensor(
    [
        [0.2996, 0.8053],
        [0.3061, 0.8210],
        [0.3058, 0.8203],
        [0.2948, 0.7939],
        [0.2927, 0.7891],
        [0.2990, 0.8040],
    ]
)
V2_SEED_789 = torch.tensor(
    [
        [-0.0739, 0.0713],
        [-0.0748, 0.0703],
        [-0.0749, 0.0702],
        [-0.0760, 0.0685],
        [-0.0763, 0.0679],
        [-0.0754, 0.0693],
    ]
)


@pytest.fixture
def inputs():
    return example_inputs()


def hand_made_weights():
    torch.manual_seed(123)
    W_query = torch.nn.Parameter(torch.rand(3, 2), requires_grad=False)
    W_key = torch.nn.Parameter(torch.rand(3, 2), requires_grad=False)
    W_value = torch.nn.Parameter(torch.rand(3, 2), requires_grad=False)
    return W_query, W_key, W_value


def test_step_by_step_numbers_of_3_4_1(inputs):
    W_query, W_key, W_value = hand_made_weights()
    x_2 = inputs[1]
    query_2, key_2 = x_2 @ W_query, x_2 @ W_key
    torch.testing.assert_close(key_2, torch.tensor([0.4433, 1.1419]), atol=ATOL, rtol=0)
    assert query_2.dot(key_2).item() == pytest.approx(1.8524, abs=ATOL)
    attn_scores_2 = query_2 @ (inputs @ W_key).T
    torch.testing.assert_close(
        attn_scores_2,
        torch.tensor([1.2705, 1.8524, 1.8111, 1.0795, 0.5577, 1.5440]),
        atol=ATOL,
        rtol=0,
    )
    attn_weights_2 = torch.softmax(attn_scores_2 / 2**0.5, dim=-1)
    torch.testing.assert_close(
        attn_weights_2,
        torch.tensor([0.1500, 0.2264, 0.2199, 0.1311, 0.0906, 0.1820]),
        atol=ATOL,
        rtol=0,
    )
    assert attn_weights_2.sum().item() == pytest.approx(1.0, abs=1e-6)
    context_vec_2 = attn_weights_2 @ (inputs @ W_value)
    torch.testing.assert_close(
        context_vec_2, torch.tensor([0.3061, 0.8210]), atol=ATOL, rtol=0
    )


def test_v1_uses_the_hand_made_matrices(inputs):
    W_query, W_key, W_value = hand_made_weights()
    torch.manual_seed(123)
    sa_v1 = SelfAttention_v1(3, 2)
    for mine, theirs in [
        (sa_v1.W_query, W_query),
        (sa_v1.W_key, W_key),
        (sa_v1.W_value, W_value),
    ]:
        torch.testing.assert_close(mine.detach(), theirs.detach())


def test_v1_and_v2_outputs(inputs):
    torch.manual_seed(123)
    out_v1 = SelfAttention_v1(3, 2)(inputs)
    torch.testing.assert_close(out_v1.detach(), V1_SEED_123, atol=ATOL, rtol=0)
    torch.manual_seed(789)
    out_v2 = SelfAttention_v2(3, 2)(inputs)
    torch.testing.assert_close(out_v2.detach(), V2_SEED_789, atol=ATOL, rtol=0)


def test_transfer_makes_v1_equal_v2(inputs):
    torch.manual_seed(789)
    sa_v2 = SelfAttention_v2(3, 2)
    sa_v1 = SelfAttention_v1(3, 2)
    assert not torch.allclose(sa_v1(inputs), sa_v2(inputs), atol=1e-3)
    transfer_weights(sa_v2, sa_v1)
    torch.testing.assert_close(sa_v1(inputs), sa_v2(inputs), atol=1e-6, rtol=0)
    torch.testing.assert_close(sa_v1.W_key.detach(), sa_v2.W_key.weight.detach().T)
    assert sa_v1.W_query.requires_grad, "the copy must not freeze v1's parameters"


def test_transfer_refuses_mismatches():
    with pytest.raises(ValueError, match=r"same \(d_in, d_out\)"):
        transfer_weights(SelfAttention_v2(3, 2), SelfAttention_v1(3, 4))
    with pytest.raises(ValueError, match="qkv_bias=True"):
        transfer_weights(SelfAttention_v2(3, 2, qkv_bias=True), SelfAttention_v1(3, 2))
    with pytest.raises(
        TypeError, match="copies a SelfAttention_v2 into a SelfAttention_v1"
    ):
        transfer_weights(SelfAttention_v1(3, 2), SelfAttention_v2(3, 2))


@pytest.mark.parametrize("cls", [SelfAttention_v1, SelfAttention_v2])
def test_v1_v2_validate_input(cls, inputs):
    module = cls(3, 2)
    with pytest.raises(
        ValueError, match=r"x must be a 2-D tensor \(T, d_in\), got shape \(3,\)"
    ):
        module(inputs[0])
    with pytest.raises(
        ValueError, match=r"2-D tensor \(T, d_in\), got shape \(1, 6, 3\)"
    ):
        module(inputs[None])
    with pytest.raises(ValueError, match="x has 4 features .* built with d_in=3"):
        module(torch.rand(6, 4))
    with pytest.raises(ValueError, match="d_out must be a positive integer"):
        cls(3, 0)
    with pytest.raises(TypeError, match="d_in must be an int"):
        cls(3.0, 2)


def test_attention_rows_sum_to_one_at_every_seed(inputs):
    for seed in range(5):
        torch.manual_seed(seed)
        _, attn_weights = SelfAttentionWithWeights(3)(inputs[None])
        torch.testing.assert_close(attn_weights.sum(dim=-1), torch.ones(1, 6))


def test_self_attention_with_weights_shapes_and_values():
    torch.manual_seed(0)
    module = SelfAttentionWithWeights(8)
    x = torch.rand(1, 5, 8)
    context_vec, attn_weights = module(x)
    assert context_vec.shape == (1, 5, 8)
    assert attn_weights.shape == (1, 5, 5)
    assert (attn_weights > 0).all()
    torch.testing.assert_close(attn_weights @ module.W_value(x), context_vec)
    batch = torch.rand(3, 7, 8)
    out, w = module(batch)
    assert out.shape == (3, 7, 8) and w.shape == (3, 7, 7)
    torch.testing.assert_close(module(batch[1:2])[0], out[1:2])  # samples do not mix


def test_self_attention_with_weights_validates():
    module = SelfAttentionWithWeights(8)
    with pytest.raises(ValueError, match=r"3-D tensor \(B, T, embed_dim\)"):
        module(torch.rand(5, 8))
    with pytest.raises(ValueError, match="built with embed_dim=8"):
        module(torch.rand(1, 5, 6))
