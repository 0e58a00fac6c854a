"""heads_zeroed: several heads switched off at once, as the live page's switches do."""

from __future__ import annotations

import pytest
import torch

from chapter3.adder.heads import head_zeroed, heads_zeroed
from chapter3.gpt import GPTConfig, GPTDecoder


@pytest.fixture
def model():
    torch.manual_seed(0)
    config = GPTConfig(d_model=16, num_heads=2, num_layers=2, d_ff=32, dropout=0.0)
    return GPTDecoder(config).eval()


def test_several_heads_are_the_nested_single_heads(model):
    x = torch.randint(0, 14, (3, 10))
    with head_zeroed(model, 0, 1), head_zeroed(model, 1, 0):
        nested = model(x)
    with heads_zeroed(model, [(0, 1), (1, 0)]):
        both = model(x)
    assert torch.equal(both, nested)
    with heads_zeroed(model, [(0, 1)]):
        one = model(x)
    assert not torch.equal(one, both)


def test_no_heads_is_the_intact_model_and_the_hooks_go(model):
    x = torch.randint(0, 14, (2, 7))
    before = model(x)
    with heads_zeroed(model, []):
        assert torch.equal(model(x), before)
    with heads_zeroed(model, [(1, 1)]):
        assert not torch.equal(model(x), before)
    assert torch.equal(model(x), before)


@pytest.mark.parametrize(
    "heads, error, words",
    [
        ("0.1", TypeError, "iterable of \\(layer, head\\) pairs, got '0.1'"),
        (3, TypeError, "iterable of \\(layer, head\\) pairs, got 3"),
        ([(0, 1, 2)], TypeError, "a \\(layer, head\\) pair, got \\(0, 1, 2\\)"),
        ([(0, 2)], ValueError, "head must be in 0..1, got 2"),
        ([(2, 0)], ValueError, "layer must be in 0..1, got 2"),
    ],
)
def test_bad_heads_are_refused_by_name(model, heads, error, words):
    with pytest.raises(error, match=words):
        with heads_zeroed(model, heads):
            pass
