"""The classes that the book shows as teaching listings stay short and fit the page."""

from __future__ import annotations

import ast
import inspect

import pytest

from chapter3 import causal, gpt, multihead, self_attention

LIMITS = {  # lines of code, without the docstring
    gpt.AddNorm: 35,
    gpt.PositionwiseFeedForward: 35,
    gpt.GPTDecoderBlock: 35,
    gpt.GPTDecoder: 45,
}
LISTINGS = [
    self_attention.SelfAttention_v1,
    self_attention.SelfAttention_v2,
    causal.CausalAttention,
    multihead.MultiHeadAttentionWrapper,
    multihead.MultiHeadAttention,
    *LIMITS,
]


def code_lines(cls) -> list[str]:
    source = inspect.getsource(cls)
    docstring = ast.get_docstring(ast.parse(source).body[0], clean=False)
    if docstring is not None:
        start = source.index('"""')
        source = source[:start] + source[source.index('"""', start + 3) + 3 :]
    return [line for line in source.splitlines() if line.strip()]


@pytest.mark.parametrize("cls", list(LIMITS), ids=lambda c: c.__name__)
def test_decoder_listings_are_short(cls):
    assert len(code_lines(cls)) <= LIMITS[cls]


@pytest.mark.parametrize("cls", LISTINGS, ids=lambda c: c.__name__)
def test_listings_fit_88_columns(cls):
    assert (
        max(len(line) for line in code_lines(cls)) <= 88
    )  # docstring prose may run to 100
