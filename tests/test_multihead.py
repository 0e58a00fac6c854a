"""Multi-head attention (3.6): chapter numbers, equivalences, causality, padding, bad input."""

import pytest
import torch
from torch import nn

from chapter3.causal import CausalAttention
from chapter3.masks import causal_attend_mask, combine_attend_masks, padding_attend_mask
from chapter3.multihead import (
    FusedMultiHeadAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    copy_to_fused,
    copy_to_wrapper,
    to_torch_multihead,
)

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
BATCH = torch.stack((INPUTS, INPUTS))  # (2, 6, 3)
CLASSES = [
    CausalAttention,
    MultiHeadAttentionWrapper,
    MultiHeadAttention,
    FusedMultiHeadAttention,
]


def build(cls, d_in=4, d_out=4, context_length=8, dropout=0.0, num_heads=2, **kw):
    if cls is CausalAttention:
        return cls(d_in, d_out, context_length, dropout, **kw)
    return cls(d_in, d_out, context_length, dropout, num_heads, **kw)


def mask_for(cls, attend):
    """A (B, 1, L, L) mask as the class expects it: (B, L, L) for single-head modules."""
    return (
        attend[:, 0] if cls in (CausalAttention, MultiHeadAttentionWrapper) else attend
    )


def test_wrapper_chapter_output():
    torch.manual_seed(123)
    out = MultiHeadAttentionWrapper(3, 2, context_length=6, dropout=0.0, num_heads=2)(
        BATCH
    )
    assert out.shape == (2, 6, 4)
    expected = torch.tensor(
        [
            [-0.4519, 0.2216, 0.4772, 0.1063],
            [-0.5874, 0.0058, 0.5891, 0.3257],
            [-0.6300, -0.0632, 0.6202, 0.3860],
            [-0.5675, -0.0843, 0.5478, 0.3589],
            [-0.5526, -0.0981, 0.5321, 0.3428],
            [-0.5299, -0.1081, 0.5077, 0.3493],
        ]
    )
    torch.testing.assert_close(out[0], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1], expected, atol=1e-4, rtol=0)


def test_multihead_chapter_output():
    torch.manual_seed(123)
    out = MultiHeadAttention(3, 2, context_length=6, dropout=0.0, num_heads=2)(BATCH)
    assert out.shape == (2, 6, 2)
    expected = torch.tensor(
        [
            [0.3190, 0.4858],
            [0.2943, 0.3897],
            [0.2856, 0.3593],
            [0.2693, 0.3873],
            [0.2639, 0.3928],
            [0.2575, 0.4028],
        ]
    )
    torch.testing.assert_close(out[0], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1], expected, atol=1e-4, rtol=0)


def test_gpt2_sized_parameter_count():
    mha = MultiHeadAttention(768, 768, context_length=1024, dropout=0.0, num_heads=12)
    fused = FusedMultiHeadAttention(
        768, 768, context_length=1024, dropout=0.0, num_heads=12
    )
    assert sum(p.numel() for p in mha.parameters()) == 2_360_064
    assert sum(p.numel() for p in fused.parameters()) == 2_360_064
    assert mha.mask.shape == (1024, 1024)  # a buffer: not counted above


def test_batched_matmul_equals_per_head_matmuls():
    # (1, 2, 3, 4)
    a = torch.tensor(
        [
            [
                [
                    [0.2745, 0.6584, 0.2775, 0.8573],
                    [0.8993, 0.0390, 0.9268, 0.7388],
                    [0.7179, 0.7058, 0.9156, 0.4340],
                ],
                [
                    [0.0772, 0.3565, 0.1479, 0.5331],
                    [0.4066, 0.2318, 0.4545, 0.9737],
                    [0.4606, 0.5159, 0.4220, 0.5786],
                ],
            ]
        ]
    )
    batched = a @ a.transpose(2, 3)  # (1, 2, 3, 3)
    for head in range(2):
        torch.testing.assert_close(batched[0, head], a[0, head] @ a[0, head].T)
    expected_head0 = torch.tensor(
        [[1.3208, 1.1631, 1.2879], [1.1631, 2.2150, 1.8424], [1.2879, 1.8424, 2.0402]]
    )
    torch.testing.assert_close(batched[0, 0], expected_head0, atol=1e-4, rtol=0)


def test_view_after_transpose_needs_contiguous():
    t = torch.rand(2, 3, 4, 5).transpose(1, 2)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(2, 4, 15)
    assert t.contiguous().view(2, 4, 15).shape == (2, 4, 15)


def test_one_head_wrapper_equals_causal_attention():
    torch.manual_seed(0)
    single = CausalAttention(4, 3, context_length=8, dropout=0.0)
    wrapper = MultiHeadAttentionWrapper(
        4, 3, context_length=8, dropout=0.0, num_heads=1
    )
    wrapper.heads[0].load_state_dict(single.state_dict())
    x = torch.rand(3, 8, 4)
    torch.testing.assert_close(wrapper(x), single(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_multihead_equals_fused_equals_torch(qkv_bias):
    torch.manual_seed(1)
    mha = MultiHeadAttention(
        8, 8, context_length=10, dropout=0.0, num_heads=4, qkv_bias=qkv_bias
    ).eval()
    nn.init.normal_(mha.out_proj.bias)  # make sure the bias really is copied
    fused = copy_to_fused(mha).eval()
    ref = to_torch_multihead(mha).eval()
    x = torch.randn(3, 10, 8)
    out = mha(x)
    torch.testing.assert_close(fused(x), out, atol=1e-5, rtol=0)
    ref_out = ref(x, x, x, attn_mask=~causal_attend_mask(10), need_weights=False)[0]
    torch.testing.assert_close(ref_out, out, atol=1e-5, rtol=0)
    # Shorter inputs use the top-left corner of the causal mask.
    torch.testing.assert_close(fused(x[:, :4]), mha(x[:, :4]), atol=1e-5, rtol=0)


def test_copy_into_existing_fused_module_and_padding_mask_agree():
    torch.manual_seed(2)
    mha = MultiHeadAttention(
        6, 6, context_length=5, dropout=0.0, num_heads=3, qkv_bias=True
    )
    fused = copy_to_fused(mha, FusedMultiHeadAttention(6, 6, 5, 0.0, 3, qkv_bias=True))
    tokens = torch.tensor([[5, 7, 9, 16, 16], [8, 6, 16, 16, 16], [3, 12, 4, 11, 16]])
    attend = combine_attend_masks(
        padding_attend_mask(tokens, 16), causal_attend_mask(5)
    )
    x = torch.randn(3, 5, 6)
    torch.testing.assert_close(fused(x, attend), mha(x, attend), atol=1e-5, rtol=0)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_wrapper_copy_equals_multihead_before_out_proj(qkv_bias):
    torch.manual_seed(4)
    mha = MultiHeadAttention(
        6, 8, context_length=7, dropout=0.0, num_heads=4, qkv_bias=qkv_bias
    ).eval()
    nn.init.normal_(mha.out_proj.bias)  # a real out_proj: the wrapper must not hide it
    wrapper = copy_to_wrapper(mha).eval()
    assert [(head.d_in, head.d_out) for head in wrapper.heads] == [(6, 2)] * 4
    x = torch.randn(3, 7, 6)
    with torch.no_grad():
        torch.testing.assert_close(mha.out_proj(wrapper(x)), mha(x), atol=1e-6, rtol=0)
        # out_proj is not optional
        assert not torch.allclose(wrapper(x), mha(x), atol=1e-3)
        # With out_proj the identity (zero bias), the wrapper's output *is* mha's output.
        mha.out_proj.weight.copy_(torch.eye(8))
        mha.out_proj.bias.zero_()
        torch.testing.assert_close(wrapper(x), mha(x), atol=1e-6, rtol=0)
        # Copying into an existing wrapper overwrites all of its projection weights.
        target = MultiHeadAttentionWrapper(6, 2, 7, 0.0, 4, qkv_bias=qkv_bias).eval()
        assert copy_to_wrapper(mha, target) is target
        torch.testing.assert_close(target(x), mha(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("cls", CLASSES)
def test_changing_the_last_token_never_changes_earlier_outputs(cls):
    torch.manual_seed(3)
    module = build(cls).eval()
    x = torch.randn(2, 8, 4)
    y = x.clone()
    y[:, -1] = torch.randn(2, 4) * 10
    a, b = module(x), module(y)
    torch.testing.assert_close(a[:, :-1], b[:, :-1], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, -1], b[:, -1])


@pytest.mark.parametrize("cls", CLASSES)
def test_padded_positions_never_change_real_outputs(cls):
    torch.manual_seed(4)
    module = build(cls, context_length=5).eval()
    tokens = torch.tensor([[5, 7, 9, 16, 16], [8, 6, 16, 16, 16], [3, 12, 4, 11, 16]])
    pad = padding_attend_mask(tokens, 16)
    attend = mask_for(cls, combine_attend_masks(pad, causal_attend_mask(5)))
    x = torch.randn(3, 5, 4)
    y = x.clone()
    y[~pad] = torch.randn(int((~pad).sum()), 4) * 100
    a, b = module(x, attend), module(y, attend)
    torch.testing.assert_close(a[pad], b[pad], atol=1e-6, rtol=0)


@pytest.mark.parametrize("cls", CLASSES)
def test_rows_with_no_visible_key_are_finite_and_zero_before_out_proj(cls):
    torch.manual_seed(5)
    module = build(cls, context_length=4).eval()
    # left padded
    pad = torch.tensor([[False, False, False, False], [False, False, True, True]])
    attend = mask_for(cls, pad[:, None, None, :].expand(2, 1, 4, 4))
    x = torch.randn(2, 4, 4, requires_grad=True)
    out = module(x, attend)
    assert torch.isfinite(out).all()
    bias = (
        module.out_proj.bias
        if hasattr(module, "out_proj")
        else torch.zeros(out.shape[-1])
    )
    blind = torch.tensor([[True, True, True, True], [True, True, False, False]])
    # A query that sees nothing has a zero context vector, so the output is out_proj(0) = bias.
    torch.testing.assert_close(
        out[blind], bias.expand(int(blind.sum()), -1), atol=1e-6, rtol=0
    )
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_fused_dropout_only_in_training():
    torch.manual_seed(6)
    fused = FusedMultiHeadAttention(4, 4, context_length=8, dropout=0.5, num_heads=2)
    x = torch.randn(2, 8, 4)
    fused.eval()
    torch.testing.assert_close(fused(x), fused(x), atol=0, rtol=0)
    evaluated = fused(x)
    fused.train()
    assert not torch.allclose(fused(x), evaluated)


@pytest.mark.parametrize("cls", [MultiHeadAttention, FusedMultiHeadAttention])
def test_d_out_not_divisible_by_heads(cls):
    with pytest.raises(ValueError, match=r"d_out=6 and num_heads=4"):
        cls(4, 6, 8, 0.0, 4)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.rand(1, 9, 4), r"9 tokens.*context_length=8"),
        (torch.rand(8, 4), r"3-D tensor \(B, T, d_in\)"),
        (torch.rand(1, 8, 5), r"5 features.*d_in=4"),
    ],
)
def test_bad_input_raises_value_error(cls, x, match):
    with pytest.raises(ValueError, match=match):
        build(cls)(x)


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("p", [1.0, -0.5])
def test_bad_dropout_raises_value_error(cls, p):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        build(cls, dropout=p)


@pytest.mark.parametrize("cls", [MultiHeadAttention, FusedMultiHeadAttention])
@pytest.mark.parametrize("shape", [(2, 8), (2, 8, 8), (2, 3, 8, 8), (2, 1, 8, 7)])
def test_mask_that_cannot_broadcast_raises_value_error(cls, shape):
    expected = r"cannot broadcast to the attention scores \(B, H, T, T\)"
    with pytest.raises(ValueError, match=expected):
        build(cls)(torch.rand(2, 8, 4), torch.ones(shape, dtype=torch.bool))


def test_weight_copy_helpers_check_their_arguments():
    mha = MultiHeadAttention(3, 4, 8, 0.0, 2)
    with pytest.raises(ValueError, match="d_in == d_out"):
        to_torch_multihead(mha)
    with pytest.raises(ValueError, match="same"):
        copy_to_fused(mha, FusedMultiHeadAttention(3, 4, 8, 0.0, 1))
    with pytest.raises(TypeError, match="MultiHeadAttention"):
        copy_to_fused(FusedMultiHeadAttention(3, 4, 8, 0.0, 2))
    with pytest.raises(TypeError, match="mha must be a MultiHeadAttention"):
        copy_to_wrapper(MultiHeadAttentionWrapper(3, 2, 8, 0.0, 2))
    with pytest.raises(TypeError, match="wrapper must be a MultiHeadAttentionWrapper"):
        copy_to_wrapper(mha, FusedMultiHeadAttention(3, 4, 8, 0.0, 2))
    with pytest.raises(ValueError, match="one head per head of mha, got 3 heads"):
        copy_to_wrapper(mha, MultiHeadAttentionWrapper(3, 2, 8, 0.0, 3))
    with pytest.raises(ValueError, match=r"got \(d_in, d_out\)=\(3, 4\)"):
        copy_to_wrapper(mha, MultiHeadAttentionWrapper(3, 4, 8, 0.0, 2))
    with pytest.raises(ValueError, match="qkv_bias"):
        copy_to_wrapper(mha, MultiHeadAttentionWrapper(3, 2, 8, 0.0, 2, qkv_bias=True))


def test_multihead_buffer_follows_to_and_is_saved():
    mha = MultiHeadAttention(4, 4, 8, 0.0, 2)
    assert "mask" in mha.state_dict()
    assert mha.to("meta").mask.device.type == "meta"


def test_bench_smoke(capsys, tmp_path):
    from bench.run import main

    main(["--quick", "--cpu-only", "--sections", "attention", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "SDPA, is_causal" in out and "nn.MultiheadAttention" in out
