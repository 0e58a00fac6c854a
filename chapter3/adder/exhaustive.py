"""Scoring the adder on every one of the 10,000 sums, split by the part each sum belongs to.

A 2-digit adder has a finite domain: ``00+00`` to ``99+99``. Sampling a test split estimates
the accuracy; decoding all 10,000 questions in one batched pass *is* the accuracy.
:func:`evaluate_all` does that and counts the right answers in each part of the recipe's split
(``train``, ``val``, ``test``, and ``unused`` for the sums that are in none of them), so a claim
such as "10,000/10,000" can be checked exactly. :func:`answer_correct` is the cheap check used
during training: one teacher-forced forward pass that gives the same verdict as greedy
decoding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from chapter3._checks import check_decoder_model
from chapter3.adder.data import (
    all_equations,
    construct_batches,
    create_add_dataset,
    disjoint_split,
    reverse_answer,
    split_sizes,
)
from chapter3.adder.decoding import _evaluate_strings, evaluate
from chapter3.adder.vocab import PAD, encode_equations

PARTS = ("train", "val", "test", "unused")


def check_recipe(recipe, name: str = "recipe"):
    """Raise unless ``recipe`` is a :class:`chapter3.adder.training.Recipe` (or built like one).

    Checked by the fields the scoring code reads, so that this module need not import
    :mod:`chapter3.adder.training` (which imports it).
    """
    if not all(
        hasattr(recipe, f) for f in ("data", "disjoint_sizes", "reverse_answer")
    ):
        raise TypeError(
            f"{name} must be a Recipe (such as FAST_RECIPE), got {type(recipe).__name__}"
        )
    return recipe


def split_equations(recipe) -> dict[str, list[str]]:
    """The train, val and test equations of ``recipe``, answers unreversed.

    ``recipe`` is a :class:`~chapter3.adder.training.Recipe`.

    For the ``"original"`` data these are the notebook's samples, with repeats and overlaps;
    for ``"disjoint"`` data, three disjoint parts of the 10,000.

    >>> from chapter3.adder.exhaustive import split_equations
    >>> from chapter3.adder.training import FAST_RECIPE
    >>> {part: len(eqs) for part, eqs in split_equations(FAST_RECIPE).items()}
    {'train': 5000, 'val': 2500, 'test': 2500}
    """
    check_recipe(recipe)
    if recipe.data == "disjoint":
        train, val, test = disjoint_split(2, recipe.disjoint_sizes, recipe.split_seed)
        return {"train": train, "val": val, "test": test}
    if recipe.data == "original":
        _, strings = create_add_dataset(2, recipe.dataset_size, seed=recipe.data_seed)
        sizes = split_sizes(len(strings), recipe.fractions)
        # the same permutation as torch.utils.data.random_split with this generator
        order = torch.randperm(
            len(strings), generator=torch.Generator().manual_seed(recipe.split_seed)
        ).tolist()
        cut = [0, sizes[0], sizes[0] + sizes[1], len(strings)]
        parts = [[strings[i] for i in order[cut[k] : cut[k + 1]]] for k in range(3)]
        return dict(zip(("train", "val", "test"), parts, strict=True))
    raise ValueError(
        f"recipe.data must be 'original' or 'disjoint', got {recipe.data!r}"
    )


def part_of_each_sum(recipe) -> dict[str, str]:
    """Every one of the 10,000 equations, mapped to the first part that holds it.

    The parts are tried in the order train, val, test; a sum in none of them is ``unused``.
    With disjoint data each sum is in exactly one part; with the notebook's sampled data a
    test sum that also occurs in the training split counts as ``train``.

    >>> from collections import Counter
    >>> from chapter3.adder.exhaustive import part_of_each_sum
    >>> from chapter3.adder.training import FAST_RECIPE, ORIGINAL_RECIPE
    >>> Counter(part_of_each_sum(FAST_RECIPE).values())
    Counter({'train': 5000, 'val': 2500, 'test': 2500})
    >>> Counter(part_of_each_sum(ORIGINAL_RECIPE).values())
    Counter({'train': 5008, 'unused': 3682, 'val': 914, 'test': 396})
    """
    parts = split_equations(recipe)
    label = dict.fromkeys(all_equations(2), "unused")
    for part in ("test", "val", "train"):  # later parts overwrite: train wins
        for equation in parts[part]:
            label[equation] = part
    return label


@dataclass
class ExhaustiveResult:
    """Exact match on every sum, in total and per part (``part -> (correct, total)``)."""

    num_correct: int
    total: int
    parts: dict[str, tuple[int, int]]
    # expected, got, part
    wrong: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0  # the batched decoding only

    def summary(self) -> str:
        """One line: ``10000/10000 right (train 5000/5000, val ..., test ...)``."""
        parts = ", ".join(f"{part} {c}/{t}" for part, (c, t) in self.parts.items() if t)
        return f"{self.num_correct}/{self.total} right ({parts})"


def evaluate_all(model: nn.Module, recipe) -> ExhaustiveResult:
    """Greedy-decode all 10,000 questions in one batched pass and score them by part.

    ``recipe`` (a :class:`~chapter3.adder.training.Recipe`) says which sums were trained on
    and in which format the model writes its answer (``recipe.reverse_answer``); the wrong
    answers are listed in the ordinary format, most significant digit first.
    """
    check_decoder_model(model)
    labels = part_of_each_sum(recipe)  # checks the recipe
    equations = list(labels)
    shown = _shown(equations, recipe)
    # reversed answers ("15+57=270") are not true equations: evaluate would refuse them
    result = (
        _evaluate_strings(model, shown)
        if recipe.reverse_answer
        else evaluate(model, shown)
    )
    return _by_part(recipe, labels, shown, result.wrong, result.seconds)


def score_all(model: nn.Module, recipe, margin: float = 1e-3) -> ExhaustiveResult:
    """What :func:`evaluate_all` returns, from one teacher-forced pass over the 10,000 sums
    and greedy decoding of only the few sums that pass cannot vouch for.

    Greedy decoding feeds the model its own tokens; while they are right they *are* the
    teacher-forced prefix, so its logits are the teacher-forced ones up to float rounding
    (the decoder uses a key/value cache). A sum is *confirmed* when, at each answer position
    and at ``<EOS>``, the true token is the arg-max and leads the runner-up by more than
    ``margin · (1 + |its logit|)``, far more than rounding can move a logit: greedy decoding
    must then write the true answer. Every other sum (a wrong one, or a near tie) is decoded
    for real. The counts, and the wrong answers, are those of :func:`evaluate_all`
    (``tests/test_exhaustive.py`` compares the two on models that get sums wrong); after
    training, when nearly every sum is right, this takes a fraction of the time.
    """
    check_decoder_model(model)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin <= 0:
        raise ValueError(f"margin must be a positive number, got {margin!r}")
    labels = part_of_each_sum(recipe)  # checks the recipe
    shown = _shown(list(labels), recipe)
    start = time.perf_counter()
    confirmed = _confirmed_right(model, encode_equations(shown), margin).tolist()
    unsure = [s for s, sure in zip(shown, confirmed, strict=True) if not sure]
    wrong = _evaluate_strings(model, unsure).wrong if unsure else []
    return _by_part(recipe, labels, shown, wrong, time.perf_counter() - start)


def _shown(equations: list[str], recipe) -> list[str]:
    """The equations as the recipe's model writes them (answer reversed or not)."""
    if recipe.reverse_answer:
        return [reverse_answer(e) for e in equations]
    return equations


CHUNK = 1000
"""Sums per forward pass of :func:`score_all`'s teacher-forced check."""


@torch.inference_mode()
def _confirmed_right(model: nn.Module, tokens: torch.Tensor, margin: float):
    """(N,) booleans: every graded token of each (N, L) equation is the teacher-forced
    arg-max, ahead of the runner-up by more than ``margin · (1 + |top logit|)``."""
    was_training = model.training
    model.eval()
    batch = construct_batches(tokens)
    device = next(model.parameters()).device
    top2, predicted = [], []
    try:
        # in chunks: a (1000, H, L, L) score tensor stays in the CPU's cache, a (10000, ...)
        # one does not (about 20 % faster on CPU)
        for rows in torch.arange(len(tokens)).split(CHUNK):
            inputs, padding = batch.input[rows], batch.padding_mask[rows]
            logits = model(inputs.to(device), padding.to(device))  # (n, L-1, V)
            top2.append(logits.float().topk(2, dim=-1).values.cpu())  # (n, L-1, 2)
            predicted.append(logits.argmax(dim=-1).cpu())  # (n, L-1)
    finally:
        model.train(was_training)
    top2, predicted = torch.cat(top2), torch.cat(predicted)
    lead = top2[..., 0] - top2[..., 1]  # (N, L-1)
    clear = (predicted == batch.target) & (lead > margin * (1 + top2[..., 0].abs()))
    graded = batch.target != PAD  # (N, L-1): the answer digits and <EOS>
    return (clear | ~graded).all(dim=1)  # (N,)


def _by_part(recipe, labels, shown, decoded_wrong, seconds) -> ExhaustiveResult:
    """Count the right answers per part, given the (expected, got) wrong answers in the
    format the model writes (``shown``)."""
    equations = list(labels)
    wrong_set = {expected for expected, _ in decoded_wrong}
    parts = {}
    for part in PARTS:
        members = [
            s for e, s in zip(equations, shown, strict=True) if labels[e] == part
        ]
        parts[part] = (
            len(members) - sum(s in wrong_set for s in members),
            len(members),
        )
    wrong = []
    for expected, got in decoded_wrong:
        original = reverse_answer(expected) if recipe.reverse_answer else expected
        if recipe.reverse_answer and "=" in got:
            got = reverse_answer(got)
        wrong.append((original, got, labels[original]))
    total = len(equations)
    return ExhaustiveResult(total - len(wrong), total, parts, wrong, seconds=seconds)


@torch.no_grad()
def answer_correct(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """(N,) booleans: is every answer token of each (N, L) equation the model's arg-max?

    One teacher-forced forward pass. Greedy decoding feeds the model its own tokens; as long
    as they are right they *are* the true prefix, so a row is right here exactly when greedy
    decoding gets the whole answer right (up to float rounding between the two code paths:
    the decoder uses a key/value cache). :func:`evaluate_all` decodes for real.
    """
    check_decoder_model(model)
    was_training = model.training
    model.eval()
    try:
        batch = construct_batches(tokens)
        device = next(model.parameters()).device
        logits = model(batch.input.to(device), batch.padding_mask.to(device))
        predicted = logits.argmax(dim=-1).cpu()  # (N, L-1)
        graded = batch.target != PAD  # (N, L-1): the answer digits and <EOS>
        return ((predicted == batch.target) | ~graded).all(dim=1)  # (N,)
    finally:
        model.train(was_training)
