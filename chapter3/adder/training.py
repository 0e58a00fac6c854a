"""Training the adder: the adder notebook's original recipe, a fast recipe, the loss,
the Noam schedule.

A :class:`Recipe` holds every choice of a run (data, model size, optimiser, schedule, epochs);
:func:`train` runs it and returns the model and a :class:`History` with one entry per epoch.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import torch
from torch.nn import functional as F
from tqdm import tqdm

from chapter3._checks import check_bool, check_non_negative_int, check_positive_int
from chapter3.adder.carries import carry_class_of_equation
from chapter3.adder.data import (
    MAX_DRAWN,
    AdderLoaders,
    Batch,
    EquationDataset,
    TensorLoader,
    check_seed,
    check_split_sizes,
    construct_batches,
    create_add_dataset,
    disjoint_split,
    make_loaders,
    reverse_answer,
    split_sizes,
    split_strings,
)
from chapter3.adder.decoding import evaluate
from chapter3.adder.exhaustive import answer_correct, score_all
from chapter3.adder.optim import LightAdam, clip_grad_norm
from chapter3.adder.vocab import PAD, encode_equations
from chapter3.gpt import GPTConfig, GPTDecoder
from chapter3.seeding import seed_all

MAX_EPOCHS = 10_000
"""The most epochs a recipe may ask for (the fast recipe needs 8 + 4)."""


def _number(value, name: str) -> float:
    """``value`` as a finite float, or a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _set(recipe, name: str, value) -> None:
    """Store a checked value back on the frozen recipe (a numpy int becomes an int)."""
    if type(getattr(recipe, name)) is not type(value):
        object.__setattr__(recipe, name, value)


def check_recipe_fields(recipe: Recipe) -> Recipe:
    """Check every field of ``recipe``: types, ranges and the choices it names.

    :class:`Recipe` runs it when it is made (``dataclasses.replace`` too), so a recipe that
    exists can be trained: ``grad_clip=-1`` (which would flip every gradient), ``epochs=0``
    (an untrained model reported as trained), a seed past 2**63 are refused here, in one line.
    Integers may be numpy integers (stored back as ``int``); ``bool`` is not an integer here.

    >>> from dataclasses import replace
    >>> from chapter3.adder.training import FAST_RECIPE
    >>> replace(FAST_RECIPE, grad_clip=-1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: grad_clip must be a positive finite number (the largest gradient norm...
    """
    if not isinstance(recipe.name, str) or not recipe.name:
        raise TypeError(f"name must be a non-empty str, got {recipe.name!r}")
    if not isinstance(recipe.model, GPTConfig):
        raise TypeError(f"model must be a GPTConfig, got {type(recipe.model).__name__}")
    choices = {
        "data": ("original", "disjoint"),
        "schedule": ("noam", "warmup_linear"),
        "position_init": ("notebook", "table"),
        "optimizer": ("torch", "light"),
    }
    for name, allowed in choices.items():
        if getattr(recipe, name) not in allowed:
            raise ValueError(
                f"unknown {name} {getattr(recipe, name)!r}: recipe.{name} must be "
                + " or ".join(repr(a) for a in allowed)
            )
    for name in ("reverse_answer", "stop_when_perfect", "evaluate_each_epoch"):
        check_bool(getattr(recipe, name), name)
    for name in ("data_seed", "split_seed", "init_seed"):
        _set(recipe, name, check_seed(getattr(recipe, name), name))
    for name in ("batch_size", "epochs", "repeat_cascades"):
        _set(recipe, name, check_positive_int(getattr(recipe, name), f"recipe.{name}"))
    for name in ("check_every", "check_streak", "extra_epochs"):
        _set(recipe, name, check_non_negative_int(getattr(recipe, name), name))
    if recipe.epochs + recipe.extra_epochs > MAX_EPOCHS:
        raise ValueError(
            f"epochs + extra_epochs must be at most {MAX_EPOCHS:,}, got "
            f"{recipe.epochs} + {recipe.extra_epochs}"
        )
    if recipe.threads is not None:
        _set(recipe, "threads", check_positive_int(recipe.threads, "threads"))
    dataset_size = check_positive_int(recipe.dataset_size, "dataset_size")
    if dataset_size > MAX_DRAWN:
        raise ValueError(
            f"dataset_size must be 1 to {MAX_DRAWN:,}, got {dataset_size:,}"
        )
    _set(recipe, "dataset_size", dataset_size)
    split_sizes(dataset_size, recipe.fractions)  # three fractions summing to 1
    sizes = check_split_sizes(recipe.disjoint_sizes)
    if sizes[0] == 0:
        raise ValueError(
            f"disjoint_sizes {sizes}: the training split must not be empty"
        )
    if sum(sizes) > 10_000:
        raise ValueError(
            f"disjoint_sizes {tuple(sizes)} ask for {sum(sizes):,} of the 10,000 sums"
        )
    if _number(recipe.grad_clip, "grad_clip") <= 0:
        raise ValueError(
            "grad_clip must be a positive finite number (the largest gradient norm a step "
            f"may apply), got {recipe.grad_clip!r}"
        )
    if _number(recipe.lr, "lr") <= 0:
        raise ValueError(f"lr must be a positive finite number, got {recipe.lr!r}")
    if _number(recipe.eps, "eps") < 0:
        raise ValueError(f"eps must be 0 or more, got {recipe.eps!r}")
    if _number(recipe.warmup_epochs, "warmup_epochs") < 0:
        raise ValueError(
            f"warmup_epochs must be 0 or more, got {recipe.warmup_epochs!r}"
        )
    if not 0 <= _number(recipe.final_lr_fraction, "final_lr_fraction") <= 1:
        raise ValueError(
            f"final_lr_fraction must be in [0, 1], got {recipe.final_lr_fraction!r}"
        )
    betas = recipe.betas
    if not (
        isinstance(betas, (tuple, list))
        and len(betas) == 2
        and all(
            isinstance(b, numbers.Real) and not isinstance(b, bool) and 0 <= b < 1
            for b in betas
        )
    ):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    if recipe.reverse_answer and recipe.data != "disjoint":
        raise ValueError("reverse_answer needs data == 'disjoint'")
    return recipe


@dataclass(frozen=True)
class Recipe:
    """Every choice of a training run (``ORIGINAL_RECIPE`` and ``FAST_RECIPE`` are named)."""

    name: str
    model: GPTConfig = field(default_factory=GPTConfig)
    # "original": sampled with replacement, then split; "disjoint": see below
    data: str = "original"
    dataset_size: int = 10_000  # "original" data: equations drawn (with replacement)
    data_seed: int = 1337  # "original" data: the generator of create_add_dataset
    # "original" data: train/val/test
    fractions: tuple[float, float, float] = (0.7, 0.2, 0.1)
    # "disjoint" data: distinct strings
    disjoint_sizes: tuple[int, int, int] = (8000, 1000, 1000)
    split_seed: int = 1992
    batch_size: int = 256
    epochs: int = 30
    lr: float = 0.2  # Adam's base lr; the schedule multiplies it
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-9
    schedule: str = "noam"  # "noam" (the adder notebook) or "warmup_linear"
    warmup_epochs: float = 3.0
    grad_clip: float = 1.0
    init_seed: int = 42  # seeds the weights and the shuffling
    # "notebook": Xavier on the (1, L, D) position tensor, as the adder notebook does, which
    # treats it like a convolution's weight and draws small values (bound 0.10 at D = 48);
    # "table": Xavier on the (L, D) table, the token embedding's scale (bound 0.32 at D = 48)
    position_init: str = "notebook"
    # "torch": torch.optim.Adam with a LambdaLR; "light": chapter3.adder.optim.LightAdam, the
    # same update without torch.optim (whose first use costs about a second of imports)
    optimizer: str = "torch"
    threads: int | None = (
        None  # torch.set_num_threads during training (None: leave as is)
    )
    reverse_answer: bool = False  # "disjoint" data: answer written ones digit first
    # "disjoint" data: each training sum of the hardest carry class (a cascade, such as
    # 55+45) is shown this many times per epoch; the set of training sums does not change
    repeat_cascades: int = 1
    # Validation checks: every `check_every` steps (0: at the end of each epoch) or, with
    # `check_streak`, once that many training sums in a row were right (the forward passes
    # of training already hold their predictions, so watching them costs nothing).
    check_every: int = 0
    check_streak: int = 0
    stop_when_perfect: bool = False  # stop at the first check with every val sum right
    # "warmup_linear": the learning rate falls to this fraction of `lr` at the end of
    # `epochs`; with `stop_when_perfect`, up to `extra_epochs` more epochs run at that rate
    # until a validation check finds every validation sum right
    final_lr_fraction: float = 0.0
    extra_epochs: int = 0
    # after each epoch, the validation loss and greedy exact match on the test split (the
    # notebook's habit; the fast recipe relies on its validation checks instead)
    evaluate_each_epoch: bool = True

    def __post_init__(self) -> None:
        check_recipe_fields(self)


ORIGINAL_RECIPE = Recipe(name="original")
"""The adder notebook's recipe as it is: 270,226 parameters, Adam(lr=0.2) × Noam
(warm-up 3 epochs), 30 epochs."""

FAST_RECIPE = Recipe(
    name="fast",
    model=GPTConfig(d_model=48, num_heads=6, num_layers=2, d_ff=128, dropout=0.0),
    data="disjoint",
    disjoint_sizes=(5000, 2500, 2500),
    batch_size=32,
    epochs=8,
    lr=1e-2,
    schedule="warmup_linear",
    warmup_epochs=0.5,
    threads=1,
    check_streak=5000,
    stop_when_perfect=True,
    final_lr_fraction=0.05,
    extra_epochs=4,
    evaluate_each_epoch=False,
    position_init="table",
    optimizer="light",
    repeat_cascades=5,
)
"""A smaller model without dropout (width 48, six heads), small batches, a short warm-up and a
linear decay to 5 %, trained on half of the 10,000 sums with every cascade among them shown
five times per epoch; it stops at the first validation check with every one of the 2,500
validation sums right (checked once 5,000 training sums in a row were right), after at most
8 + 4 epochs. Positions start at the token embedding's scale, and the optimizer is
:class:`~chapter3.adder.optim.LightAdam`."""

RECIPES = {"original": ORIGINAL_RECIPE, "fast": FAST_RECIPE}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (``"original"`` or ``"fast"``), or the recipe itself."""
    if isinstance(recipe, Recipe):
        return recipe
    if not isinstance(recipe, str):
        raise TypeError(
            f"recipe must be a Recipe or one of {sorted(RECIPES)}, got "
            f"{type(recipe).__name__}"
        )
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}: choose one of {sorted(RECIPES)}")
    return RECIPES[recipe]


class NoamSchedule:
    """The learning-rate factor of "Attention Is All You Need" (a class, so it pickles).

    factor(step) = d_model^-0.5 · min((step+1)^-0.5, (step+1) · warmup^-1.5): a linear rise
    for ``warmup_steps`` steps, then a decay like 1/√step. ``LambdaLR`` multiplies Adam's base
    lr by it, so with the original recipe's lr=0.2 and d_model=128 the peak is about 0.0019.

    >>> from chapter3.adder.training import NoamSchedule
    >>> f = NoamSchedule(d_model=128, warmup_steps=84)
    >>> round(0.2 * f(83), 5)
    0.00193
    """

    def __init__(self, d_model: int, warmup_steps: int) -> None:
        self.d_model = check_positive_int(d_model, "d_model")
        self.warmup_steps = max(1, check_non_negative_int(warmup_steps, "warmup_steps"))

    def __call__(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"step must be 0 or more, got {step}")
        step += 1
        return self.d_model**-0.5 * min(step**-0.5, step * self.warmup_steps**-1.5)


class WarmupLinearSchedule:
    """Rise linearly to 1 over ``warmup_steps``, then fall linearly to 0 at ``total_steps``;
    never below ``floor`` after the warm-up (0: all the way down, and it stays at 0).

    >>> from chapter3.adder.training import WarmupLinearSchedule
    >>> f = WarmupLinearSchedule(warmup_steps=10, total_steps=110, floor=0.05)
    >>> [round(f(s), 3) for s in (0, 9, 60, 108, 500)]
    [0.1, 1.0, 0.5, 0.05, 0.05]
    """

    def __init__(self, warmup_steps: int, total_steps: int, floor: float = 0.0) -> None:
        if not 0.0 <= _number(floor, "floor") <= 1.0:
            raise ValueError(f"floor must be between 0 and 1, got {floor!r}")
        warmup_steps = check_non_negative_int(warmup_steps, "warmup_steps")
        total_steps = check_non_negative_int(total_steps, "total_steps")
        self.warmup_steps = max(1, warmup_steps)
        self.total_steps = max(self.warmup_steps + 1, total_steps)
        self.floor = floor

    def __call__(self, step: int) -> float:
        if step < 0:
            raise ValueError(f"step must be 0 or more, got {step}")
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        linear = (self.total_steps - step) / (self.total_steps - self.warmup_steps)
        return max(self.floor, linear)


def schedule_factor(recipe: str | Recipe, steps_per_epoch: int):
    """The learning-rate factor of ``recipe``: step ``s`` uses ``recipe.lr * factor(s)``.

    The warm-up lasts ``ceil(recipe.warmup_epochs * steps_per_epoch)`` steps; the factor is a
    :class:`NoamSchedule` (``recipe.schedule == "noam"``) or a :class:`WarmupLinearSchedule`
    that reaches 0 after ``recipe.epochs * steps_per_epoch`` steps (``"warmup_linear"``).
    """
    recipe = get_recipe(recipe)
    check_positive_int(steps_per_epoch, "steps_per_epoch")
    warmup = math.ceil(recipe.warmup_epochs * steps_per_epoch)
    if recipe.schedule == "noam":
        return NoamSchedule(recipe.model.d_model, warmup)
    if recipe.schedule == "warmup_linear":
        return WarmupLinearSchedule(
            warmup, recipe.epochs * steps_per_epoch, recipe.final_lr_fraction
        )
    raise ValueError(
        f"unknown schedule {recipe.schedule!r}: use 'noam' or 'warmup_linear'"
    )


def make_schedule(
    optimizer: torch.optim.Optimizer, recipe: str | Recipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The ``LambdaLR`` that :func:`train` steps once per batch for ``recipe``.

    ``scheduler.lr_lambdas[0]`` is :func:`schedule_factor`; the learning rate of step ``s``
    is ``recipe.lr * factor(s)`` (``optimizer``'s base lr should be ``recipe.lr``).

    >>> import torch
    >>> from chapter3.adder.training import ORIGINAL_RECIPE, make_schedule
    >>> optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=ORIGINAL_RECIPE.lr)
    >>> scheduler = make_schedule(optimizer, ORIGINAL_RECIPE, steps_per_epoch=28)
    >>> scheduler.lr_lambdas[0].warmup_steps
    84
    """
    factor = schedule_factor(recipe, steps_per_epoch)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=factor)


def init_positions(model: GPTDecoder, how: str) -> GPTDecoder:
    """Re-draw the learned positions ``"table"``-style (Xavier on the (L, D) table), or leave
    the notebook's draw (``"notebook"``); returns ``model``."""
    if how == "table":
        with torch.no_grad():
            torch.nn.init.xavier_uniform_(model.pos_embed[0])  # (L, D) view
    elif how != "notebook":
        raise ValueError(f"position_init must be 'notebook' or 'table', got {how!r}")
    return model


def make_optimizer(model, recipe: Recipe, steps_per_epoch: int):
    """``(optimizer, scheduler)`` for ``recipe``: ``torch.optim.Adam`` with a ``LambdaLR``, or
    a :class:`~chapter3.adder.optim.LightAdam` with the schedule built in (and no scheduler).
    """
    kwargs = {"lr": recipe.lr, "betas": recipe.betas, "eps": recipe.eps}
    if recipe.optimizer == "light":
        factor = schedule_factor(recipe, steps_per_epoch)
        return LightAdam(model.parameters(), schedule=factor, **kwargs), None
    if recipe.optimizer != "torch":
        raise ValueError(
            f"recipe.optimizer must be 'torch' or 'light', got {recipe.optimizer!r}"
        )
    optimizer = torch.optim.Adam(model.parameters(), **kwargs)
    return optimizer, make_schedule(optimizer, recipe, steps_per_epoch)


def adder_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose target is not PAD.

    ``F.cross_entropy`` wants the classes on axis 1, so the (B, L, V) logits are flattened to
    (B·L, V) against a (B·L,) target; ``logits.permute(0, 2, 1)`` against (B, L) gives the same
    number.
    """
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),  # (B·L, V)
        target.reshape(-1),  # (B·L,)
        ignore_index=PAD,
    )


def _check_grad_clip(grad_clip) -> float:
    if _number(grad_clip, "grad_clip") <= 0:
        raise ValueError(
            f"grad_clip must be a positive finite number, got {grad_clip!r}"
        )
    return grad_clip


@dataclass
class History:
    """What a training run did, epoch by epoch, and what it ended with."""

    recipe: str
    epoch: list[int] = field(default_factory=list)
    # mean over the epoch's batches
    train_loss: list[float] = field(default_factory=list)
    # after the epoch, dropout off (with recipe.evaluate_each_epoch)
    val_loss: list[float] = field(default_factory=list)
    # exact match, greedy decoding (with recipe.evaluate_each_epoch)
    test_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # at the end of the epoch
    # training sums of the epoch right under teacher forcing, before their update
    train_correct: list[int] = field(default_factory=list)
    train_seconds: float = 0.0  # optimisation steps only
    wall_seconds: float = 0.0  # including the checks and the final scoring
    num_train: int = 0
    num_val: int = 0
    num_test: int = 0
    train_coverage: int = 0  # distinct equations in the training split
    test_in_train: int = (
        0  # test equations whose string also occurs in the training split
    )
    # final (expected, predicted) among all 10,000 sums
    wrong: list[tuple[str, str]] = field(default_factory=list)
    threads: int = 0
    steps: int = 0  # optimisation steps taken
    check_step: list[int] = field(default_factory=list)  # steps at validation checks
    val_correct: list[int] = field(default_factory=list)  # val sums right at each check
    stopped_early: bool = (
        False  # every validation sum right before the last epoch ended
    )
    # part -> [correct, total] over all 10,000 sums, after training
    scores: dict[str, list[int]] = field(default_factory=dict)

    @property
    def final_test_accuracy(self) -> float:
        if "test" in self.scores:
            correct, total = self.scores["test"]
            return correct / total
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    @property
    def all_correct(self) -> int:
        """How many of the 10,000 sums the trained model answers right."""
        return sum(correct for correct, _ in self.scores.values())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        data = dict(data)
        data["wrong"] = [tuple(w) for w in data.get("wrong", [])]
        return cls(**data)


def build_data(recipe: Recipe):
    """The recipe's loaders (an :class:`chapter3.adder.data.AdderLoaders`)."""
    if recipe.data == "original":
        dataset, _ = create_add_dataset(2, recipe.dataset_size, seed=recipe.data_seed)
        return make_loaders(
            dataset, recipe.batch_size, recipe.fractions, recipe.split_seed
        )
    if recipe.data == "disjoint":
        splits = disjoint_split(2, recipe.disjoint_sizes, recipe.split_seed)
        if recipe.reverse_answer:
            splits = tuple([reverse_answer(e) for e in part] for part in splits)
        train, val, test = (EquationDataset(part) for part in splits)
        check_positive_int(recipe.repeat_cascades, "recipe.repeat_cascades")
        cascades = [
            e for e in train.equations if carry_class_of_equation(e) == "cascade"
        ]
        shown = train.equations + [
            e for e in cascades for _ in range(recipe.repeat_cascades - 1)
        ]
        return AdderLoaders(
            train,
            val,
            test,
            TensorLoader(shown, recipe.batch_size, shuffle=True),
            TensorLoader(val.equations, 2500, shuffle=False),
            TensorLoader(test.equations, 2500, shuffle=False),
        )
    raise ValueError(
        f"recipe.data must be 'original' or 'disjoint', got {recipe.data!r}"
    )


def train_step(model, x, optimizer, scheduler=None, grad_clip=1.0) -> float:
    """One optimisation step with teacher forcing on the (B, L) equations ``x``."""
    _check_grad_clip(grad_clip)
    return _step(model, x, optimizer, scheduler, grad_clip)[0]


def _step(model, x, optimizer, scheduler, grad_clip) -> tuple[float, int]:
    """:func:`train_step`, also counting the equations whose every answer token was the
    arg-max of the forward pass (before the update): a free look at training accuracy."""
    device = next(model.parameters()).device
    batch = construct_batches(x)
    target = batch.target.to(device)  # (B, L)
    logits = model(batch.input.to(device), batch.padding_mask.to(device))  # (B, L, V)
    loss = adder_loss(logits, target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    with torch.no_grad():
        right = (logits.argmax(dim=-1) == target) | (target == PAD)  # (B, L)
        correct = int(right.all(dim=1).sum())
    return loss.item(), correct


class _TeacherForcing:
    """The training batches of a :class:`~chapter3.adder.data.TensorLoader`, with the
    teacher-forcing tensors (:func:`~chapter3.adder.data.construct_batches`) built once per
    run for every equation, on ``device``, instead of once per step.

    Iterating draws the same permutation as iterating the loader (``torch.randperm`` on the
    global generator), so the batches, and the run, are the same to the bit.
    """

    def __init__(self, loader: TensorLoader, device) -> None:
        self.loader = loader
        batch = construct_batches(loader.tokens)  # (N, L-1) each
        self.all = Batch(*(t.to(device) for t in batch))
        # equations of one length have no padding: a mask of all True hides nothing, and
        # leaving it out skips its work in every layer (the same numbers)
        self.padded = not bool(batch.padding_mask.all())

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        n, size = self.loader.tokens.size(0), self.loader.batch_size
        order = torch.randperm(n) if self.loader.shuffle else torch.arange(n)
        for start in range(0, n, size):
            rows = order[start : start + size].to(self.all.input.device)  # (B,)
            tokens, target, padding_mask = (t[rows] for t in self.all)  # (B, L-1) each
            yield Batch(tokens, target, padding_mask if self.padded else None)


def _prepared_step(model, params, batch: Batch, optimizer, grad_clip):
    """:func:`_step` for a batch that is already built and on the model's device, with the
    model's parameters gathered once per run (``params``): ``(loss, correct)``, the same
    numbers to the bit."""
    logits = model(batch.input, batch.padding_mask)  # (B, L-1, V)
    loss = adder_loss(logits, batch.target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_grad_norm([p.grad for p in params if p.grad is not None], grad_clip)
    optimizer.step()
    with torch.no_grad():
        right = (logits.argmax(dim=-1) == batch.target) | (batch.target == PAD)
        correct = int(right.all(dim=1).sum())  # right: (B, L-1)
    return loss.item(), correct


def train_epoch(
    model, loader, optimizer, scheduler=None, grad_clip=1.0, progress=None
) -> float:
    """One pass over ``loader`` with teacher forcing; returns the mean batch loss."""
    model.train()
    losses = []
    for x in loader:
        losses.append(train_step(model, x, optimizer, scheduler, grad_clip))
        if progress is not None:
            progress.update(1)
            lr = optimizer.param_groups[0]["lr"]
            progress.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{lr:.2e}")
    return sum(losses) / len(losses)


@torch.no_grad()
def validate(model, loader) -> float:
    """Mean loss over ``loader`` with dropout off (the mean of batch means, as the
    notebook does)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses = []
    for x in loader:
        batch = construct_batches(x)
        logits = model(batch.input.to(device), batch.padding_mask.to(device))
        losses.append(adder_loss(logits, batch.target.to(device)).item())
    model.train(was_training)
    if not losses:
        raise ValueError("loader is empty: there is no batch to compute a loss on")
    return sum(losses) / len(losses)


class LineProgress:
    """A progress report for output that is not a terminal (a pipe, CI, a notebook).

    A terminal redraws a tqdm bar in place; anywhere else each redraw is a new line, thousands
    of them. This prints one line when each quarter of the work is done and one at the end,
    with the same ``update``/``set_postfix``/``close`` calls as tqdm.
    """

    def __init__(self, total: int, desc: str, file=None, parts: int = 4) -> None:
        check_positive_int(parts, "parts")
        self.total, self.desc, self.file = max(1, total), desc, file
        self.n, self.postfix, self.start = 0, "", time.perf_counter()
        self.marks = [math.ceil(self.total * k / parts) for k in range(1, parts + 1)]

    def update(self, n: int = 1) -> None:
        before, self.n = self.n, self.n + n
        if any(before < mark <= self.n for mark in self.marks[:-1]):
            self._print()

    def set_postfix(self, refresh: bool = True, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _print(self) -> None:
        elapsed = time.perf_counter() - self.start
        line = f"{self.desc}: {self.n}/{self.total} steps, {elapsed:.1f} s"
        print(f"{line}, {self.postfix}" if self.postfix else line, file=self.file)

    def close(self) -> None:
        self._print()


def progress_bar(total: int, desc: str, enabled: bool = True, file=None):
    """A tqdm bar on a terminal, a :class:`LineProgress` elsewhere, ``None`` if disabled."""
    if not enabled:
        return None
    file = sys.stderr if file is None else file
    if getattr(file, "isatty", lambda: False)():
        return tqdm(total=total, desc=desc, leave=False, file=file)
    return LineProgress(total, desc, file=file)


def train(
    recipe: str | Recipe = "fast",
    epochs: int | None = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    log=None,
) -> tuple[GPTDecoder, History]:
    """Train a fresh adder with ``recipe``; returns ``(model, history)``.

    ``epochs`` overrides the recipe's budget (the learning-rate schedule is stretched to match,
    and no extra epochs follow).
    ``progress`` shows a tqdm bar with the loss and the learning rate on a terminal, a few
    summary lines elsewhere. ``log`` (e.g. ``print``) receives one line per epoch. Runs on
    CUDA when present unless ``device`` says otherwise. After training, all 10,000 sums are
    scored (``history.scores``, by part of the split) with
    :func:`~chapter3.adder.exhaustive.score_all`: the counts of greedy decoding.
    """
    recipe, device = check_train_args(recipe, epochs, progress, device, log)
    old_threads = torch.get_num_threads()
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    try:
        return _train(recipe, progress, device, log, old_threads)
    finally:
        torch.set_num_threads(old_threads)


def check_train_args(
    recipe, epochs, progress, device, log
) -> tuple[Recipe, torch.device]:
    """The checks at the door of :func:`train`; returns the recipe to run and the device.

    ``epochs`` is ``None`` or an integer from 1 to :data:`MAX_EPOCHS` (numpy integers too,
    ``bool`` not); ``device`` a device that exists here. Every field of the recipe was
    checked when it was made (:func:`check_recipe_fields`).
    """
    recipe = get_recipe(recipe)
    if epochs is not None:
        epochs = check_positive_int(epochs, "epochs")
        if epochs > MAX_EPOCHS:
            raise ValueError(f"epochs must be 1 to {MAX_EPOCHS:,}, got {epochs:,}")
        recipe = replace(recipe, epochs=epochs, extra_epochs=0)
    check_bool(progress, "progress")
    if log is not None and not callable(log):
        raise TypeError(f"log must be callable (such as print) or None, got {log!r}")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {device!r}")
    try:
        device = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device must name a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device} was asked for, but CUDA is not available here"
        )
    return recipe, device


def _train(
    recipe: Recipe, progress: bool, device, log, threads: int
) -> tuple[GPTDecoder, History]:
    wall_start = time.perf_counter()
    seed_all(recipe.init_seed)
    loaders = build_data(recipe)
    model = init_positions(GPTDecoder(recipe.model), recipe.position_init).to(device)
    steps_per_epoch = len(loaders.train_loader)
    optimizer, scheduler = make_optimizer(model, recipe, steps_per_epoch)

    train_strings = split_strings(loaders.train_set)
    test_strings = split_strings(loaders.test_set)
    # (N_val, L): the stopping check's equations
    val_tokens = encode_equations(split_strings(loaders.val_set))
    train_unique = set(train_strings)
    history = History(
        recipe=recipe.name,
        num_train=len(train_strings),
        num_val=len(val_tokens),
        num_test=len(test_strings),
        train_coverage=len(train_unique),
        test_in_train=sum(s in train_unique for s in test_strings),
        threads=torch.get_num_threads(),
    )

    def check() -> bool:  # True when every validation sum is right
        correct = int(answer_correct(model, val_tokens).sum())
        history.check_step.append(history.steps)
        history.val_correct.append(correct)
        return correct == len(val_tokens)

    # The batches of a TensorLoader are built once per run and clipped without torch's
    # per-call parameter walk (LightAdam has the schedule built in: no scheduler to step).
    fast = isinstance(loaders.train_loader, TensorLoader) and scheduler is None
    batches = (
        _TeacherForcing(loaders.train_loader, device) if fast else loaders.train_loader
    )
    params = [p for p in model.parameters() if p.requires_grad]
    streak = 0  # training sums right in a row (teacher forcing, before each update)
    bar = progress_bar(
        recipe.epochs * steps_per_epoch, f"train ({recipe.name})", progress
    )
    extra = recipe.extra_epochs if recipe.stop_when_perfect else 0
    for epoch in range(1, recipe.epochs + extra + 1):
        start, losses, perfect = time.perf_counter(), [], False
        history.train_correct.append(0)
        model.train()
        for x in batches:
            if fast:
                loss, correct = _prepared_step(
                    model, params, x, optimizer, recipe.grad_clip
                )
            else:
                loss, correct = _step(model, x, optimizer, scheduler, recipe.grad_clip)
            losses.append(loss)
            history.train_correct[-1] += correct
            history.steps += 1
            size = x.input.size(0) if fast else len(x)
            streak = streak + correct if correct == size else 0
            if bar is not None:
                bar.update(1)
                lr = optimizer.param_groups[0]["lr"]
                bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", refresh=False)
            if recipe.check_streak:
                due = streak >= recipe.check_streak
            else:
                due = recipe.check_every and history.steps % recipe.check_every == 0
            if due:
                history.train_seconds += time.perf_counter() - start
                perfect, streak = check(), 0
                start = time.perf_counter()
                if perfect and recipe.stop_when_perfect:
                    break
        history.train_seconds += time.perf_counter() - start
        if not (recipe.check_every or recipe.check_streak):
            perfect = check()
        history.epoch.append(epoch)
        history.train_loss.append(sum(losses) / len(losses))
        history.lr.append(optimizer.param_groups[0]["lr"])
        message = f"epoch {epoch:2d}: train_loss {history.train_loss[-1]:.5f}"
        if history.val_correct:
            message += f"  val right {history.val_correct[-1]}/{len(val_tokens)}"
        if recipe.evaluate_each_epoch:
            history.val_loss.append(validate(model, loaders.val_loader))
            history.test_accuracy.append(evaluate(model, test_strings).accuracy)
            message += (
                f"  val_loss {history.val_loss[-1]:.5f}"
                f"  test_acc {history.test_accuracy[-1]:.4f}"
            )
        if log is not None:
            log(f"{message}  ({history.train_seconds:.1f} s)")
        if perfect and recipe.stop_when_perfect:
            history.stopped_early = True
            break
    if bar is not None:
        bar.close()
    model.eval()
    # scoring 10,000 sums is big enough work for every thread (training steps are not)
    torch.set_num_threads(threads)
    scored = score_all(model, recipe)  # evaluate_all's counts, decoding only a few
    history.scores = {part: list(counts) for part, counts in scored.parts.items()}
    history.wrong = [(expected, got) for expected, got, _ in scored.wrong]
    history.wall_seconds = time.perf_counter() - wall_start
    return model, history


__all__ = [
    "Recipe",
    "ORIGINAL_RECIPE",
    "FAST_RECIPE",
    "RECIPES",
    "get_recipe",
    "NoamSchedule",
    "WarmupLinearSchedule",
    "schedule_factor",
    "make_schedule",
    "init_positions",
    "make_optimizer",
    "adder_loss",
    "History",
    "build_data",
    "train_step",
    "train_epoch",
    "LineProgress",
    "progress_bar",
    "validate",
    "train",
]
