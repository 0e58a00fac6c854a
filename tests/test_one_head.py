"""One attention head trained with MSE and AdamW reproduces the one-head notebook's losses."""

import pytest
import torch
from torch import nn

from chapter3.one_head import SelfAttention, toy_problem, train_one_head

SEED_000_LOSSES = [
    0.9530,
    0.8593,
    0.7912,
    0.7181,
    0.6358,
    0.5504,
    0.4689,
    0.3945,
    0.3288,
    0.2758,
    0.2360,
    0.2062,
    0.1824,
    0.1621,
    0.1441,
    0.1277,
    0.1127,
    0.0989,
    0.0863,
    0.0742,
]


def test_reproduces_seed_000_losses_and_falls_below_0_08():
    x, target = toy_problem()
    losses = train_one_head(SelfAttention(32), x, target)
    assert len(losses) == 200
    assert [round(loss, 4) for loss in losses[::10]] == SEED_000_LOSSES
    assert losses[-1] < 0.08


def test_unused_layer_matters_only_if_drawn_before_the_used_ones():
    x, target = toy_problem()
    model = SelfAttention(32)
    _ = nn.Linear(32, 32)  # drawn after the model: as in the notebook
    assert round(train_one_head(model, x, target, epochs=1)[0], 4) == 0.9530
    x, target = toy_problem()
    _ = nn.Linear(32, 32)  # drawn before: the model's initial weights change
    assert round(train_one_head(SelfAttention(32), x, target, epochs=1)[0], 4) == 0.9020


def test_validation():
    with pytest.raises(ValueError, match=r"2-D tensor \(seq_len, d_model\)"):
        SelfAttention(4)(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="built with d_model=4"):
        SelfAttention(4)(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="must match"):
        train_one_head(SelfAttention(4), torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train_one_head(SelfAttention(4), torch.zeros(3, 4), torch.zeros(3, 4), epochs=0)
