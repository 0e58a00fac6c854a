"""What the heads of a trained adder learned: attention by carry class, the "staircase" of
which operand digits each answer digit reads, and head ablation.

In the input ``<BOS> a1 a0 + b1 b0 = c2 c1 c0`` (positions 0 to 9) the answer digits are
predicted at the rows of ``=`` (the hundreds digit ``c2``), ``c2`` (the tens digit) and ``c1``
(the ones digit): :data:`ANSWER_ROWS`. Attention weights say where a head *reads*; they do not
say what the feed-forward layers compute from it. Head ablation asks the causal question
instead: with one head's output zeroed, which sums does the model still get right?
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

import torch
from torch import nn

from chapter3._checks import check_decoder_model, check_int
from chapter3.adder.carries import CARRY_CLASSES, carry_class_of_equation
from chapter3.adder.data import all_equations, check_equation_list, construct_batches
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
    # (layers, H, 3, 4)
    return torch.stack([m[:, :, rows][:, :, :, cols].mean(dim=0) for m in maps])


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


@contextmanager
def heads_zeroed(model: nn.Module, heads):
    """:func:`head_zeroed` for several heads at once: ``heads`` is an iterable of
    ``(layer, head)`` pairs (0-based), each zeroed as there. No heads: the intact model."""
    check_decoder_model(model)
    if isinstance(heads, (str, bytes)) or not hasattr(heads, "__iter__"):
        raise TypeError(
            f"heads must be an iterable of (layer, head) pairs, got {heads!r}"
        )
    pairs = list(heads)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise TypeError(f"each head must be a (layer, head) pair, got {pair!r}")
    with ExitStack() as stack:
        for layer, head in pairs:
            stack.enter_context(head_zeroed(model, layer, head))
        yield model


def wrong_with_heads_zeroed(
    model: nn.Module, heads, equations: list[str] | None = None
) -> list[str]:
    """The equations (all 10,000 sums by default) that ``model`` gets wrong with ``heads``
    (``(layer, head)`` pairs) zeroed, by batched greedy decoding
    (:func:`~chapter3.adder.decoding.evaluate`)."""
    equations = _equations(model, equations)
    model.eval()
    with heads_zeroed(model, heads):
        return [expected for expected, _ in evaluate(model, equations).wrong]


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


# --- claims that name no head: measured over many runs by ``make bench`` ---------------------
GENERAL_CLAIMS = (
    "layer 0's ones row reads a0, b0 (mean over its heads > 0.7)",
    "no layer-0 head of the ones row gives a1, b1 more than 0.15",
    "no layer-0 head of the tens row gives a0, b0 more than 0.3",
    "exactly one layer-0 head of the hundreds row reads a0, b0 (> 0.5), the others less "
    "than 0.2",
    "a head of the hundreds row reads a1, b1 (> 0.9)",
    "a layer-1 head of the hundreds row reads the ones positions (> 0.4)",
    "the hundreds row reads the carry: a layer-0 head reads a0, b0 (> 0.5) or a layer-1 "
    "head the ones positions (> 0.4)",
    "a head of the tens row reads a1, b1 (> 0.5)",
    "in most layer-0 heads the position of b0 reads a0, b0 (> 0.6)",
    "between carry classes, layer 1's answer-row weights move more than layer 0's",
    "between carry classes, no layer-0 answer-row weight moves by more than 0.4 and some "
    "layer-1 weight by more than 0.7",
    "every head but at most two matters: zeroing any other one breaks more than 2% of the "
    "sums it got right (200 of 10,000)",
    "some head hardly matters: zeroing it breaks fewer than 1% of the sums it got right",
    "some head is essential: zeroing it breaks more than 90% of the sums it got right",
)
"""Sentences about what the heads of a trained adder learned that name no head index, so
that they can hold or fail for any run: :func:`general_head_claims` decides each. They restate
what "What the trained adder attends to" and :ref:`adder_frontier` read off the reference
model; ``make bench`` records in how many runs (seeds × CPU capabilities) each one holds."""


def general_head_claims(
    model: nn.Module, equations: list[str] | None = None
) -> dict[str, bool]:
    """Whether each of :data:`GENERAL_CLAIMS` holds for ``model`` (in that order).

    Attention weights are means over ``equations`` (all 10,000 sums by default), as in
    :func:`staircase` and :func:`attention_by_carry`; "breaks" counts the sums the intact
    model gets right and the model with one head zeroed (:func:`head_ablation`) gets wrong.
    The model needs at least two layers: the claims speak of layer 0 and layer 1.
    """
    equations = _equations(model, equations)
    if len(model.decoder_blocks) < 2:
        raise ValueError(
            f"model must have at least 2 layers (the claims are about layer 0 and layer 1), "
            f"got {len(model.decoder_blocks)}"
        )
    hundreds, tens_row, ones_row = 0, 1, 2  # rows of staircase()
    stairs = staircase(model, equations)  # (layers, H, 3, 4): columns a1, a0, b1, b0
    ones = stairs[..., [1, 3]].sum(-1)  # (layers, H, 3): weight on a0, b0
    tens = stairs[..., [0, 2]].sum(-1)  # (layers, H, 3): weight on a1, b1

    batch = _batch(equations)
    _, maps = attention_maps(model.eval(), batch.input, batch.padding_mask)
    b0_reads = maps[0][:, :, OPERAND_DIGITS["b0"]].mean(dim=0)  # (H, L): query at b0
    b0_reads_ones = b0_reads[:, [OPERAND_DIGITS["a0"], OPERAND_DIGITS["b0"]]].sum(-1)

    # (classes, layers, H, 3, L)
    by_class = torch.stack(
        [
            m[:, :, list(ANSWER_ROWS)]
            for m in attention_by_carry(model, equations).values()
        ]
    )
    # (layers,)
    moves = (by_class.amax(dim=0) - by_class.amin(dim=0)).flatten(1).amax(1)

    right = {
        k: sum(c for c, _ in v.values())
        for k, v in head_ablation(model, equations).items()
    }
    intact = right.pop(None)
    broken = torch.tensor([intact - r for r in right.values()])  # (layers · H,)

    l0_carry = ones[0, :, hundreds] > 0.5  # (H,)
    l1_carry = bool((ones[1, :, hundreds] > 0.4).any())
    truths = (
        ones[0, :, ones_row].mean() > 0.7,
        tens[0, :, ones_row].max() <= 0.15,
        ones[0, :, tens_row].max() <= 0.3,
        l0_carry.sum() == 1 and (ones[0, ~l0_carry, hundreds] < 0.2).all(),
        (tens[:, :, hundreds] > 0.9).any(),
        l1_carry,
        l1_carry or l0_carry.any(),
        (tens[:, :, tens_row] > 0.5).any(),
        (b0_reads_ones > 0.6).sum() > b0_reads_ones.numel() / 2,
        moves[1] > moves[0],
        moves[0] <= 0.4 and moves[1] > 0.7,
        (broken <= 0.02 * intact).sum() <= 2 and intact > 0,
        (broken < 0.01 * intact).any(),
        (broken > 0.9 * intact).any(),
    )
    return {claim: bool(t) for claim, t in zip(GENERAL_CLAIMS, truths, strict=True)}


__all__ = [
    "ANSWER_ROWS",
    "OPERAND_DIGITS",
    "attention_by_carry",
    "staircase",
    "head_zeroed",
    "heads_zeroed",
    "wrong_with_heads_zeroed",
    "correct_by_carry",
    "head_ablation",
    "GENERAL_CLAIMS",
    "general_head_claims",
]
