import re

import pytest
import torch

from chapter3.masks import (
    causal_attend_mask,
    check_attn_mask,
    combine_attend_masks,
    key_padding,
    masked_softmax,
    padding_attend_mask,
    to_hide_mask,
)


def test_future_mask_is_lower_triangular():
    m = causal_attend_mask(5)
    assert m.dtype == torch.bool and m.shape == (5, 5)
    assert torch.equal(m, torch.tril(torch.ones(5, 5)).bool())


def test_combined_mask_hides_padded_keys_and_the_future():
    tokens = torch.tensor([[5, 7, 9, 16, 16], [8, 6, 16, 16, 16]])
    m = combine_attend_masks(padding_attend_mask(tokens, 16), causal_attend_mask(5))
    assert m.shape == (2, 1, 5, 5)
    assert not m[0, 0, :, 3:].any()  # padded keys are never attended
    assert m[0, 0, 4, :3].all()  # a later query still sees every real earlier key


@pytest.mark.parametrize("bad", [0, -1])
def test_future_mask_rejects_non_positive_length(bad):
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        causal_attend_mask(bad)


def test_combine_masks_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"\(L, L\) = \(3, 3\)"):
        combine_attend_masks(torch.ones(2, 3, dtype=torch.bool), causal_attend_mask(4))


# --- the decoder walk-through of the masks page -------------------------------------------------

TARGET_BATCH = torch.tensor(
    [[5, 7, 9, 16, 16], [8, 6, 16, 16, 16], [3, 12, 4, 11, 16], [2, 1, 4, 16, 16]]
)


def test_target_batch_padding_mask():
    pad = padding_attend_mask(TARGET_BATCH, pad_id=16)
    assert pad.shape == (4, 5)
    assert pad.sum(dim=1).tolist() == [3, 2, 4, 3]
    assert pad[0].tolist() == [True, True, True, False, False]


def test_first_sample_rows_hide_padded_keys_not_padded_queries():
    attend = combine_attend_masks(
        padding_attend_mask(TARGET_BATCH, 16), causal_attend_mask(5)
    )[:, 0]  # (B, L, L)
    assert attend[0, 0].tolist() == [True, False, False, False, False]  # first token
    # The fourth token is padding, yet its row is not all False: the padding mask runs along
    # the key axis, so the padded query still sees the three real tokens before it.
    assert attend[0, 3].tolist() == [True, True, True, False, False]
    assert not attend[0, :, 3:].any()  # no query ever sees a padded key
    assert attend.any(
        dim=-1
    ).all()  # right padding never leaves a row with nothing visible


def test_seed_style_expand_gives_the_same_mask():
    b, seq_len = TARGET_BATCH.shape
    pad = padding_attend_mask(TARGET_BATCH, 16)
    # (B, L, L)
    future = causal_attend_mask(5).view(1, seq_len, seq_len).expand(b, -1, -1)
    pad3 = pad.view(b, 1, seq_len).expand(b, seq_len, seq_len)  # (B, L, L)
    assert torch.equal(
        (pad3 & future).unsqueeze(1), combine_attend_masks(pad, causal_attend_mask(5))
    )


def test_to_masked_fill_inverts_and_refuses_non_bool():
    m = causal_attend_mask(4)
    assert torch.equal(to_hide_mask(m), ~m)
    # what `mask == 0` does to a 0/1 mask
    assert torch.equal(to_hide_mask(m), m.int() == 0)
    with pytest.raises(TypeError, match="boolean"):
        to_hide_mask(m.int())


def test_key_padding_shapes_and_checks():
    pad = torch.tensor([[True, False], [True, True]])
    assert key_padding(pad).shape == (2, 1, 1, 2)
    assert key_padding(pad, num_heads_axis=False).shape == (2, 1, 2)
    with pytest.raises(ValueError, match=r"\(B, L\)"):
        key_padding(torch.ones(2, 2, 2, dtype=torch.bool))
    with pytest.raises(TypeError, match="boolean"):
        key_padding(pad.int())


@pytest.mark.parametrize(
    ("shape", "ok"),
    [
        ((2, 1, 1, 5), True),
        ((1, 1, 5, 5), True),
        ((2, 4, 5, 5), True),
        ((2, 5), False),
        ((2, 1, 5), False),
        ((3, 1, 5, 5), False),
        ((2, 2, 5, 5), False),
        ((2, 1, 5, 4), False),
    ],
)
def test_check_attn_mask(shape, ok):
    mask = torch.ones(shape, dtype=torch.bool)
    if ok:
        assert check_attn_mask(mask, (2, 4, 5, 5)) is mask
    else:
        with pytest.raises(
            ValueError, match=re.escape(f"shape {tuple(shape)} cannot broadcast")
        ):
            check_attn_mask(mask, (2, 4, 5, 5))


def test_check_attn_mask_refuses_float_masks():
    with pytest.raises(TypeError, match="additive float mask"):
        check_attn_mask(torch.zeros(1, 1, 5, 5), (2, 4, 5, 5))


def test_masked_softmax_matches_plain_softmax_and_zeroes_blind_rows():
    torch.manual_seed(0)
    scores = torch.randn(3, 5, requires_grad=True)
    attend = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5])
    w = masked_softmax(scores, attend)
    torch.testing.assert_close(w[0], torch.softmax(scores[0], dim=-1))
    torch.testing.assert_close(w[1, :2], torch.softmax(scores[1, :2], dim=-1))
    assert torch.equal(w[1, 2:], torch.zeros(3))
    assert torch.equal(w[2], torch.zeros(5))
    # the naive route really does give NaN on the blind row
    naive = torch.softmax(scores.detach().masked_fill(~attend, float("-inf")), dim=-1)
    assert naive[2].isnan().all()
    w.sum().backward()
    assert torch.isfinite(scores.grad).all()


@pytest.mark.parametrize(
    "mask_shape",
    [
        (3,),
        (1, 3),
        (2, 3),
        (4, 1, 3),
        (2, 1, 1),
        (5, 2, 3),
        (1, 1, 1, 3),
        (2, 2),
        (3, 3),
    ],
)
def test_masked_softmax_accepts_exactly_the_masks_torch_broadcasts(mask_shape):
    scores_shape = (4, 2, 3)
    try:
        fits = torch.broadcast_shapes(mask_shape, scores_shape) == scores_shape
    except RuntimeError:
        fits = False
    attend = torch.ones(mask_shape, dtype=torch.bool)
    if fits:
        assert masked_softmax(torch.zeros(scores_shape), attend).shape == scores_shape
    else:
        with pytest.raises(ValueError, match="does not broadcast"):
            masked_softmax(torch.zeros(scores_shape), attend)
