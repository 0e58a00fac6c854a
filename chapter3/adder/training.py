"""Training the adder: the adder notebook's original recipe, a fast recipe, the loss,
the Noam schedule.

A :class:`Recipe` holds every choice of a run (data, model size, optimiser, schedule, epochs);
:func:`train` runs it and returns the model and a :class:`History` with one entry per epoch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, replace

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from chapter3._checks import check_positive_int
from chapter3.adder.data import (
    AdderLoaders,
    EquationDataset,
    PadCollate,
    construct_batches,
    create_add_dataset,
    disjoint_split,
    make_loaders,
    split_strings,
)
from chapter3.adder.decoding import evaluate
from chapter3.adder.vocab import PAD
from chapter3.gpt import GPTConfig, GPTDecoder
from chapter3.seeding import seed_all


@dataclass(frozen=True)
class Recipe:
    """Every choice of a training run (``ORIGINAL_RECIPE`` and ``FAST_RECIPE`` are named)."""

    name: str
    model: GPTConfig = field(default_factory=GPTConfig)
    # "original": sampled with replacement, then split; "disjoint": see below
    data: str = "original"
    dataset_size: int = 10_000  # "original" data: equations drawn (with replacement)
    data_seed: int = 1337  # "original" data: the generator of create_add_dataset
    fractions: tuple[float, float, float] = (
        0.7,
        0.2,
        0.1,
    )  # "original" data: train/val/test
    disjoint_sizes: tuple[int, int, int] = (
        8000,
        1000,
        1000,
    )  # "disjoint" data: distinct strings
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
    threads: int | None = (
        None  # torch.set_num_threads during training (None: leave as is)
    )


ORIGINAL_RECIPE = Recipe(name="original")
"""The adder notebook's recipe as it is: 270,226 parameters, Adam(lr=0.2) × Noam
(warm-up 3 epochs), 30 epochs."""

FAST_RECIPE = Recipe(
    name="fast",
    model=GPTConfig(d_model=64, num_heads=4, num_layers=2, d_ff=128, dropout=0.0),
    data="disjoint",
    disjoint_sizes=(8000, 1000, 1000),
    batch_size=64,
    epochs=14,
    lr=5e-3,
    schedule="warmup_linear",
    warmup_epochs=0.5,
    threads=1,
)
"""A smaller model without dropout, a short warm-up and a linear decay, on disjoint splits."""

RECIPES = {"original": ORIGINAL_RECIPE, "fast": FAST_RECIPE}


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (``"original"`` or ``"fast"``), or the recipe itself."""
    if isinstance(recipe, Recipe):
        return recipe
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
        self.d_model = d_model
        self.warmup_steps = max(1, warmup_steps)

    def __call__(self, step: int) -> float:
        step += 1
        return self.d_model**-0.5 * min(step**-0.5, step * self.warmup_steps**-1.5)


class WarmupLinearSchedule:
    """Rise linearly to 1 over ``warmup_steps``, then fall linearly to 0 at ``total_steps``."""

    def __init__(self, warmup_steps: int, total_steps: int) -> None:
        self.warmup_steps = max(1, warmup_steps)
        self.total_steps = max(self.warmup_steps + 1, total_steps)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        return max(
            0.0, (self.total_steps - step) / (self.total_steps - self.warmup_steps)
        )


def make_schedule(
    optimizer: torch.optim.Optimizer, recipe: str | Recipe, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """The ``LambdaLR`` that :func:`train` steps once per batch for ``recipe``.

    The warm-up lasts ``ceil(recipe.warmup_epochs * steps_per_epoch)`` steps; the factor is a
    :class:`NoamSchedule` (``recipe.schedule == "noam"``) or a :class:`WarmupLinearSchedule`
    that reaches 0 after ``recipe.epochs * steps_per_epoch`` steps (``"warmup_linear"``).
    ``scheduler.lr_lambdas[0]`` is that factor; the learning rate of step ``s`` is
    ``recipe.lr * factor(s)`` (``optimizer``'s base lr should be ``recipe.lr``).

    >>> import torch
    >>> from chapter3.adder.training import ORIGINAL_RECIPE, make_schedule
    >>> optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=ORIGINAL_RECIPE.lr)
    >>> scheduler = make_schedule(optimizer, ORIGINAL_RECIPE, steps_per_epoch=28)
    >>> scheduler.lr_lambdas[0].warmup_steps
    84
    """
    recipe = get_recipe(recipe)
    check_positive_int(steps_per_epoch, "steps_per_epoch")
    warmup = math.ceil(recipe.warmup_epochs * steps_per_epoch)
    if recipe.schedule == "noam":
        factor = NoamSchedule(recipe.model.d_model, warmup)
    elif recipe.schedule == "warmup_linear":
        factor = WarmupLinearSchedule(warmup, recipe.epochs * steps_per_epoch)
    else:
        raise ValueError(
            f"unknown schedule {recipe.schedule!r}: use 'noam' or 'warmup_linear'"
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=factor)


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


@dataclass
class History:
    """What a training run did, epoch by epoch, and what it ended with."""

    recipe: str
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(
        default_factory=list
    )  # mean over the epoch's batches
    val_loss: list[float] = field(default_factory=list)  # after the epoch, dropout off
    test_accuracy: list[float] = field(
        default_factory=list
    )  # exact match, greedy decoding
    lr: list[float] = field(default_factory=list)  # at the end of the epoch
    train_seconds: float = 0.0  # optimisation steps only
    wall_seconds: float = 0.0  # including the per-epoch validation and test decoding
    num_train: int = 0
    num_val: int = 0
    num_test: int = 0
    train_coverage: int = 0  # distinct equations in the training split
    test_in_train: int = (
        0  # test equations whose string also occurs in the training split
    )
    wrong: list[tuple[str, str]] = field(
        default_factory=list
    )  # final (expected, predicted)
    threads: int = 0

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
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
        train, val, test = (
            EquationDataset(s)
            for s in disjoint_split(2, recipe.disjoint_sizes, recipe.split_seed)
        )
        collate = PadCollate(PAD)
        return AdderLoaders(
            train,
            val,
            test,
            DataLoader(
                train, batch_size=recipe.batch_size, shuffle=True, collate_fn=collate
            ),
            DataLoader(val, batch_size=1024, shuffle=False, collate_fn=collate),
            DataLoader(test, batch_size=1024, shuffle=False, collate_fn=collate),
        )
    raise ValueError(
        f"recipe.data must be 'original' or 'disjoint', got {recipe.data!r}"
    )


def train_epoch(
    model, loader, optimizer, scheduler=None, grad_clip=1.0, progress=None
) -> float:
    """One pass over ``loader`` with teacher forcing; returns the mean batch loss."""
    model.train()
    device = next(model.parameters()).device
    losses = []
    for x in loader:
        batch = construct_batches(x)
        logits = model(
            batch.input.to(device), batch.padding_mask.to(device)
        )  # (B, L, V)
        loss = adder_loss(logits, batch.target.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
            lr = optimizer.param_groups[0]["lr"]
            progress.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr:.2e}")
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
    return sum(losses) / len(losses)


def train(
    recipe: str | Recipe = "fast",
    epochs: int | None = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    log=None,
) -> tuple[GPTDecoder, History]:
    """Train a fresh adder with ``recipe``; returns ``(model, history)``.

    ``epochs`` overrides the recipe's (the learning-rate schedule is stretched to match).
    ``progress`` shows a tqdm bar with the loss and the learning rate. ``log`` (e.g. ``print``)
    receives one line per epoch. Runs on CUDA when present unless ``device`` says otherwise.
    """
    recipe = get_recipe(recipe)
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        recipe = replace(recipe, epochs=epochs)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    old_threads = torch.get_num_threads()
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    try:
        return _train(recipe, progress, device, log)
    finally:
        torch.set_num_threads(old_threads)


def _train(recipe: Recipe, progress: bool, device, log) -> tuple[GPTDecoder, History]:
    seed_all(recipe.init_seed)
    loaders = build_data(recipe)
    model = GPTDecoder(recipe.model).to(device)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=recipe.lr, betas=recipe.betas, eps=recipe.eps
    )
    steps_per_epoch = len(loaders.train_loader)
    scheduler = make_schedule(optimizer, recipe, steps_per_epoch)

    train_strings = split_strings(loaders.train_set)
    test_strings = split_strings(loaders.test_set)
    train_unique = set(train_strings)
    history = History(
        recipe=recipe.name,
        num_train=len(train_strings),
        num_val=len(loaders.val_set),
        num_test=len(test_strings),
        train_coverage=len(train_unique),
        test_in_train=sum(s in train_unique for s in test_strings),
        threads=torch.get_num_threads(),
    )
    bar = tqdm(
        total=recipe.epochs * steps_per_epoch,
        disable=not progress,
        desc=f"train ({recipe.name})",
        leave=False,
    )
    wall_start = time.perf_counter()
    result = None
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        train_loss = train_epoch(
            model, loaders.train_loader, optimizer, scheduler, recipe.grad_clip, bar
        )
        history.train_seconds += time.perf_counter() - start
        val_loss = validate(model, loaders.val_loader)
        result = evaluate(model, test_strings)
        history.epoch.append(epoch)
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.test_accuracy.append(result.accuracy)
        history.lr.append(optimizer.param_groups[0]["lr"])
        if log is not None:
            log(
                f"epoch {epoch:2d}: train_loss {train_loss:.5f}  val_loss {val_loss:.5f}  "
                f"test_acc {result.accuracy:.4f}  ({history.train_seconds:.1f} s)"
            )
    bar.close()
    history.wall_seconds = time.perf_counter() - wall_start
    history.wrong = list(result.wrong)
    model.eval()
    return model, history


__all__ = [
    "Recipe",
    "ORIGINAL_RECIPE",
    "FAST_RECIPE",
    "RECIPES",
    "get_recipe",
    "NoamSchedule",
    "WarmupLinearSchedule",
    "make_schedule",
    "adder_loss",
    "History",
    "build_data",
    "train_epoch",
    "validate",
    "train",
]
