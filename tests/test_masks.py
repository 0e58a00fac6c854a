import pytest
import torch

from chapter3.masks import combine_masks, future_mask, padding_mask


def test_future_mask_is_lower_triangular():
    m = future_mask(5)
    assert m.dtype == torch.bool and m.shape == (5, 5)
    assert torch.equal(m, torch.tril(torch.ones(5, 5)).bool())


def test_combined_mask_hides_padded_keys_and_the_future():
    tokens = torch.tensor([[5, 7, 9, 16, 16], [8, 6, 16, 16, 16]])
    m = combine_masks(padding_mask(tokens, 16), future_mask(5))
    assert m.shape == (2, 1, 5, 5)
    assert not m[0, 0, :, 3:].any()  # padded keys are never attended
    assert m[0, 0, 4, :3].all()  # a later query still sees every real earlier key


@pytest.mark.parametrize("bad", [0, -1])
def test_future_mask_rejects_non_positive_length(bad):
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        future_mask(bad)


def test_combine_masks_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"\(L, L\) = \(3, 3\)"):
        combine_masks(torch.ones(2, 3, dtype=torch.bool), future_mask(4))
