"""What the heads of a trained adder learned: attention by carry class, the "staircase" of
which operand digits each answer digit reads, and head ablation.

In the input ``<BOS> a1 a0 + b1 b0 = c2 c1 c0`` (positions 0 to 9) the answer digits are
predicted at the rows of ``=`` (the hundreds digit ``c2``), ``c2`` (the tens digit) and ``c1``
(the ones digit): :data:`ANSWER_ROWS`. Attention weights say where a head *reads*; they do not
say what the feed-forward layers compute from it. Head ablation asks the causal question
instead: with one head's output zeroed, which sums does the model still get right?
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from chapter3._checks import (
    check_decoder_model,
    check_equation_list,
    check_int,
)
from chapter3.adder.carries import CARRY_CLASSES, carry_class_of_equation
from chapter3.adder.data import all_equations, construct_batches
from chapter3.adder.decoding import evaluate
from chapter3.adder.vocab import encode_equation, parse_equation
from chapter3.gpt import attention_maps

ANSWER_ROWS = {6: "hundreds", 7: "tens", 8: "ones"}
"""Query position -> the answer digit predicted there (answer written hundreds first)."""

OPERAND_DIGITS = {"a1": 1, "a0": 2, "b1": 4, "b0": 5}
"""Operand digit -> its position in the input (tens digit ``a1``, ones digit ``a0``, ...)."""


def _equations(model, equations) -> list[str]:
    """Check ``model`` and ``equations`` (default: all 10,000 sums); return the list."""
    check_decoder_model(model)
    if equations is None:
        return all_equations(2)
    equations = check_equation_list(equations)
    for equation in equations:
        parse_equation(equation)  # a malformed or wrong equation fails here, by name
    return equations


def _batch(equations: list[str]):
    return construct_batches(torch.stack([encode_equation(e) for e in equations]))


@torch.no_grad()
def attention_by_carry(
    model: nn.Module, equations: list[str] | None = None
) -> dict[str, torch.Tensor]:
    """Mean attention weights of the sums of each carry class.

    Returns ``class -> (num_layers, num_heads, L, L)``: row *i*, column *j* is how much query
    *i* reads key *j*, averaged over the sums of that class (all 10,000 by default). The order
    of the classes is ``chapter3.adder.carries.CARRY_CLASSES``.
    """
    equations = _equations(model, equations)
    batch = _batch(equations)
    model.eval()
    _, maps = attention_maps(model, batch.input, batch.padding_mask)
    stacked = torch.stack(maps, dim=1)  # (N, layers, H, L, L)
    classes = [carry_class_of_equation(e) for e in equations]
    result = {}
    for name in CARRY_CLASSES:
        rows = torch.tensor([c == name for c in classes])
        if rows.any():
            result[name] = stacked[rows].mean(dim=0)  # (layers, H, L, L)
    return result


@torch.no_grad()
def staircase(model: nn.Module, equations: list[str] | None = None) -> torch.Tensor:
    """(num_layers, num_heads, 3, 4): the mean weight each answer row puts on each operand digit.

    Rows follow :data:`ANSWER_ROWS` (hundreds, tens, ones), columns :data:`OPERAND_DIGITS`
    (``a1, a0, b1, b0``); the mean is over all 10,000 sums by default. For an answer written
    hundreds first, the ones digit needs only ``a0, b0``, the tens digit ``a1, b1`` and the carry
    from ``a0, b0``, the hundreds digit all four: a staircase, if the heads follow the
    arithmetic.
    """
    equations = _equations(model, equations)
    batch = _batch(equations)
    model.eval()
    _, maps = attention_maps(model, batch.input, batch.padding_mask)
    rows, cols = list(ANSWER_ROWS), list(OPERAND_DIGITS.values())
    return torch.stack(
        [m[:, :, rows][:, :, :, cols].mean(dim=0) for m in maps]
    )  # (layers, H, 3, 4)


@contextmanager
def head_zeroed(model: nn.Module, layer: int, head: int):
    """Within the block, head ``head`` of layer ``layer`` contributes nothing.

    A forward pre-hook on that layer's ``out_proj`` zeroes the head's slice of the context
    vector, ``[head·d_head, (head+1)·d_head)``, before the heads are mixed. The batched decoder
    (with or without the key/value cache) goes through the same ``out_proj``, so it sees the
    ablated model too.
    """
    check_decoder_model(model)
    layer, head = check_int(layer, "layer"), check_int(head, "head")
    if not 0 <= layer < len(model.decoder_blocks):
        raise ValueError(
            f"layer must be in 0..{len(model.decoder_blocks) - 1}, got {layer}"
        )
    attention = model.decoder_blocks[layer].masked_self_attention
    if not 0 <= head < attention.num_heads:
        raise ValueError(f"head must be in 0..{attention.num_heads - 1}, got {head}")
    width = attention.head_dim

    def zero_slice(module, inputs):
        context = inputs[0].clone()  # (B, T, d_out)
        context[..., head * width : (head + 1) * width] = 0
        return (context,)

    handle = attention.out_proj.register_forward_pre_hook(zero_slice)
    try:
        yield model
    finally:
        handle.remove()


def correct_by_carry(model: nn.Module, equations: list[str] | None = None) -> dict:
    """Exact-match counts per carry class, ``class -> (correct, total)`` (all sums by default),
    from one batched greedy decoding."""
    equations = _equations(model, equations)
    wrong = {expected for expected, _ in evaluate(model, equations).wrong}
    counts = {name: [0, 0] for name in CARRY_CLASSES}
    for equation in equations:
        name = carry_class_of_equation(equation)
        counts[name][1] += 1
        counts[name][0] += equation not in wrong
    return {name: tuple(c) for name, c in counts.items()}


def head_ablation(model: nn.Module, equations: list[str] | None = None) -> dict:
    """Zero one head at a time and re-score every sum by carry class.

    Returns ``(layer, head) -> {class: (correct, total)}`` for every head of every layer, plus
    ``None -> ...`` for the intact model.
    """
    equations = _equations(model, equations)
    model.eval()
    result = {None: correct_by_carry(model, equations)}
    for layer, block in enumerate(model.decoder_blocks):
        for head in range(block.masked_self_attention.num_heads):
            with head_zeroed(model, layer, head):
                result[(layer, head)] = correct_by_carry(model, equations)
    return result


__all__ = [
    "ANSWER_ROWS",
    "OPERAND_DIGITS",
    "attention_by_carry",
    "staircase",
    "head_zeroed",
    "correct_by_carry",
    "head_ablation",
]
