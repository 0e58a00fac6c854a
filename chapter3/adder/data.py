"""The adder's data: every equation, the splits, the loaders and teacher-forcing batches."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, Subset, random_split

from chapter3._checks import check_int, check_non_negative_int, check_positive_int
from chapter3.adder.vocab import EQUAL, PAD, decode, encode_equation, equation_to_string
from chapter3.masks import padding_attend_mask


# --- the data set ----------------------------------------------------------------------------
def create_add_dataset(
    num_digits: int = 2, size: int = 10_000, seed: int = 1337
) -> tuple[list[torch.Tensor], list[str]]:
    """``size`` random equations, drawn as the adder notebook draws them (with replacement).

    One ``torch.Generator`` seeded with ``seed`` draws ``a`` then ``b`` for each equation, so
    the list is the notebook's, equation for equation. Returns (token tensors, strings).

    >>> from chapter3.adder import create_add_dataset
    >>> create_add_dataset(2, 4)[1]
    ['15+57=072', '92+00=092', '95+53=148', '15+10=025']
    """
    _check_num_digits(num_digits)
    check_positive_int(size, "size")
    rng = torch.Generator().manual_seed(check_int(seed, "seed"))
    high = 10**num_digits
    strings = []
    for _ in range(size):
        a = torch.randint(0, high, (1,), generator=rng).item()
        b = torch.randint(0, high, (1,), generator=rng).item()
        strings.append(equation_to_string(a, b, num_digits))
    return [encode_equation(s) for s in strings], strings


def _check_num_digits(num_digits) -> int:
    """1 to 4 digits: 5 would mean 10^10 equations, more than fits in memory."""
    num_digits = check_positive_int(num_digits, "num_digits")
    if num_digits > 4:
        raise ValueError(f"num_digits must be 1 to 4, got {num_digits}")
    return num_digits


def all_equations(num_digits: int = 2) -> list[str]:
    """Every possible equation, ``00+00=000`` to ``99+99=198`` (10,000 for two digits).

    >>> from chapter3.adder import all_equations
    >>> eqs = all_equations(2)
    >>> len(eqs), eqs[0], eqs[-1]
    (10000, '00+00=000', '99+99=198')
    """
    n = _check_num_digits(num_digits)
    high = 10**n
    # equation_to_string's format, without its checks on each of the 10^(2n) pairs
    return [
        f"{a:0{n}d}+{b:0{n}d}={a + b:0{n + 1}d}"
        for a in range(high)
        for b in range(high)
    ]


class EquationDataset(Dataset):
    """A list of equation strings served as 1-D token tensors (``<BOS>`` … ``<EOS>``)."""

    def __init__(self, equations: list[str]) -> None:
        self.equations = list(equations)

    def __len__(self) -> int:
        return len(self.equations)

    def __getitem__(self, index: int) -> torch.Tensor:
        return encode_equation(self.equations[index])


class PadCollate:
    """Stack a list of 1-D token tensors into (B, L), padding with ``pad_id`` if lengths differ.

    A class instead of the notebook's lambda, so that a ``DataLoader`` with worker processes can
    pickle it. With zero-padded equations every sample has the same length anyway.

    >>> import torch
    >>> from chapter3.adder import PadCollate
    >>> PadCollate()([torch.tensor([1, 2, 3]), torch.tensor([4])])
    tensor([[ 1,  2,  3],
            [ 4, 16, 16]])
    """

    def __init__(self, pad_id: int = PAD) -> None:
        self.pad_id = check_int(pad_id, "pad_id")

    def __call__(self, batch: list[torch.Tensor]) -> torch.Tensor:
        return torch.nn.utils.rnn.pad_sequence(
            batch, batch_first=True, padding_value=self.pad_id
        )


@dataclass
class AdderLoaders:
    """The three splits and their loaders (train shuffled, the others in order)."""

    train_set: Dataset
    val_set: Dataset
    test_set: Dataset
    train_loader: DataLoader
    val_loader: DataLoader
    test_loader: DataLoader


def split_sizes(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """Train/val/test sizes as the adder notebook rounds them (test takes the remainder).

    >>> from chapter3.adder import split_sizes
    >>> split_sizes(10_000, (0.7, 0.2, 0.1))
    (7000, 2000, 1000)
    """
    n = check_non_negative_int(n, "n")
    _check_fractions(fractions)
    train = round(n * fractions[0])
    val = round(n * fractions[1])
    return train, val, n - train - val


def _check_fractions(fractions) -> None:
    message = (
        f"fractions must be three non-negative numbers summing to 1, got {fractions!r}"
    )
    if not isinstance(fractions, (tuple, list)) or len(fractions) != 3:
        raise ValueError(message)
    if not all(
        isinstance(f, numbers.Real) and not isinstance(f, bool) for f in fractions
    ):
        raise TypeError(message)
    if not all(math.isfinite(f) and f >= 0 for f in fractions):
        raise ValueError(message)
    if abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(message)


def make_loaders(
    dataset,
    batch_size: int = 256,
    fractions: tuple[float, float, float] = (0.7, 0.2, 0.1),
    split_seed: int = 1992,
) -> AdderLoaders:
    """Split ``dataset`` with ``random_split`` (a generator seeded with ``split_seed``) and wrap
    each part in a ``DataLoader``. This is the adder notebook's ``DataLoaders.split_data``.
    """
    check_positive_int(batch_size, "batch_size")
    sizes = split_sizes(len(dataset), fractions)
    train_set, val_set, test_set = random_split(
        dataset, list(sizes), generator=torch.Generator().manual_seed(split_seed)
    )
    collate = PadCollate(PAD)
    return AdderLoaders(
        train_set,
        val_set,
        test_set,
        DataLoader(train_set, batch_size=batch_size, shuffle=True, collate_fn=collate),
        DataLoader(val_set, batch_size=batch_size, shuffle=False, collate_fn=collate),
        DataLoader(test_set, batch_size=batch_size, shuffle=False, collate_fn=collate),
    )


def disjoint_split(
    num_digits: int = 2,
    sizes: tuple[int, int, int] = (8000, 1000, 1000),
    seed: int = 1992,
) -> tuple[list[str], list[str], list[str]]:
    """Shuffle every possible equation once and cut it into train/val/test: no string is in
    two splits (unlike the adder notebook, which samples with replacement and then splits).

    >>> from chapter3.adder import disjoint_split
    >>> train, val, test = disjoint_split()
    >>> len(train), len(val), len(test), len(set(train) & set(test))
    (8000, 1000, 1000, 0)
    """
    equations = all_equations(num_digits)
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 3:
        raise ValueError(
            f"sizes must be three split sizes (train, val, test), got {sizes!r}"
        )
    for name, size in zip(("train", "val", "test"), sizes, strict=True):
        check_non_negative_int(size, f"sizes ({name})")
    if sum(sizes) > len(equations):
        raise ValueError(
            f"sizes {sizes} ask for more than the {len(equations)} possible equations"
        )
    seed = check_int(seed, "seed")
    order = torch.randperm(
        len(equations), generator=torch.Generator().manual_seed(seed)
    ).tolist()
    shuffled = [equations[i] for i in order]
    n_train, n_val, n_test = (int(size) for size in sizes)
    return (
        shuffled[:n_train],
        shuffled[n_train : n_train + n_val],
        shuffled[n_train + n_val : n_train + n_val + n_test],
    )


def reverse_answer(equation: str) -> str:
    """The same equation with its answer digits in reverse order, ones digit first.

    Written ``a+b=`` then ones, tens, hundreds, the model produces the digit that needs no
    carry first, and each later digit can read the carry from the digit it just wrote. Applying
    it twice gives the equation back.

    >>> from chapter3.adder.data import reverse_answer
    >>> reverse_answer("15+57=072"), reverse_answer(reverse_answer("15+57=072"))
    ('15+57=270', '15+57=072')
    """
    if not isinstance(equation, str) or equation.count("=") != 1:
        raise ValueError(f"expected an equation like '15+57=072', got {equation!r}")
    question, answer = equation.split("=")
    return f"{question}={answer[::-1]}"


class TensorLoader:
    """The batches of a list of equations, encoded once into one (N, L) tensor.

    Iterating gives (B, L) slices of a fresh permutation each time (``torch.randperm`` on the
    global generator when ``shuffle``), like a ``DataLoader`` with ``shuffle=True`` but without
    encoding strings and collating on every step: for 11-token equations that per-step work
    costs as much as the model. All equations must have the same length.

    >>> import torch
    >>> from chapter3.adder.data import TensorLoader
    >>> loader = TensorLoader(["15+57=072", "92+00=092", "95+53=148"], batch_size=2)
    >>> len(loader), [tuple(x.shape) for x in loader]
    (2, [(2, 11), (1, 11)])
    """

    def __init__(
        self, equations: list[str], batch_size: int, shuffle: bool = True
    ) -> None:
        check_positive_int(batch_size, "batch_size")
        if not equations:
            raise ValueError("equations is empty: nothing to load")
        self.tokens = torch.stack([encode_equation(e) for e in equations])  # (N, L)
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return -(-self.tokens.size(0) // self.batch_size)  # ceil(N / B)

    def __iter__(self):
        n = self.tokens.size(0)
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            yield self.tokens[order[start : start + self.batch_size]]  # (B, L)


def split_strings(split) -> list[str]:
    """The equation strings of a split (a ``Subset`` of tensors or an :class:`EquationDataset`)."""
    if isinstance(split, EquationDataset):
        return list(split.equations)
    if isinstance(split, Subset):
        return [decode(split.dataset[i]) for i in split.indices]
    return [decode(x) for x in split]


# --- batches for teacher forcing -------------------------------------------------------------
class Batch(NamedTuple):
    """What one training step needs (shapes for 11-token equations, B = batch size)."""

    input: torch.Tensor  # (B, 10): the equation without its last token (<EOS>)
    target: torch.Tensor  # (B, 10): shifted left by one, PAD up to and including "="
    padding_mask: torch.Tensor  # (B, 10): True at real tokens (the causal mask is in
    # every attention module, so a batch carries no future mask)


def construct_batches(x: torch.Tensor) -> Batch:
    """Turn a (B, L) batch of equations into the model's input, target and padding mask.

    The target is the input shifted left by one token. Every target position up to and
    including "=" becomes PAD, so that the loss (``ignore_index=PAD``) only asks the model for
    the answer digits and ``<EOS>``: the operands are random, nothing can predict them.

    >>> import torch
    >>> from chapter3.adder import construct_batches, encode_equation
    >>> batch = construct_batches(encode_equation("90+38=128")[None, :])
    >>> batch.input
    tensor([[15,  9,  0, 10,  3,  8, 13,  1,  2,  8]])
    >>> batch.target
    tensor([[16, 16, 16, 16, 16, 16,  1,  2,  8, 14]])
    >>> batch.padding_mask.shape
    torch.Size([1, 10])
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.is_floating_point():
        raise ValueError(
            "x must be a (B, L) tensor of token ids (one equation per row)"
        )
    x = x.long()
    is_equal = x == EQUAL  # (B, L)
    if not torch.equal(is_equal.sum(dim=1), torch.ones(x.size(0), dtype=torch.long)):
        raise ValueError('every equation in the batch must contain exactly one "="')
    equal_pos = is_equal.long().argmax(dim=1)  # (B,)
    inputs = x[:, :-1]  # (B, L-1): drop the last token
    target = x[:, 1:].clone()  # (B, L-1): what comes next at each position
    positions = torch.arange(1, x.size(1))  # target[:, j] is token j + 1
    target[positions[None, :] <= equal_pos[:, None]] = PAD  # hide a, "+", b and "="

    return Batch(inputs, target, padding_attend_mask(inputs, PAD))  # mask: (B, L-1)
