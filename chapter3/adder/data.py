"""The adder's data: every equation, the splits, the loaders and teacher-forcing batches."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, Subset, random_split

from chapter3._checks import (
    check_bool,
    check_int,
    check_non_negative_int,
    check_positive_int,
)
from chapter3.adder.vocab import (
    EQUAL,
    PAD,
    VOCAB_SIZE,
    check_equation_list,
    check_equations,
    decode,
    encode_equation,
    encode_equations,
    equation_to_string,
)
from chapter3.masks import padding_attend_mask

MAX_SEED = 2**63 - 1
"""The largest seed a ``torch.Generator`` takes as a non-negative int."""

MAX_DRAWN = 1_000_000
"""The most equations one call draws or lists (a 4-digit task has 10^8 of them)."""


def check_seed(seed, name: str = "seed") -> int:
    """Raise unless ``seed`` is an int from 0 to 2**63 - 1 (numpy ints too); return it.

    >>> from chapter3.adder.data import check_seed
    >>> check_seed(2**80)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: seed must be an int from 0 to 2**63 - 1, got 1208925819614629174706176
    """
    seed = check_int(seed, name)
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be an int from 0 to 2**63 - 1, got {seed}")
    return seed


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
    size = check_positive_int(size, "size")
    if size > MAX_DRAWN:
        raise ValueError(f"size must be 1 to {MAX_DRAWN:,}, got {size:,}")
    rng = torch.Generator().manual_seed(check_seed(seed))
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
    if high * high > MAX_DRAWN:
        raise ValueError(
            f"all_equations lists at most {MAX_DRAWN:,} equations; num_digits={n} "
            f"has {high * high:,} (use disjoint_split to draw some of them)"
        )
    return [_equation(a, b, n) for a in range(high) for b in range(high)]


def _equation(a: int, b: int, n: int) -> str:
    """:func:`~chapter3.adder.vocab.equation_to_string`'s format, without its checks, for
    operands known to fit (10,000 of them: a tenth of a second of checks saved)."""
    return f"{a:0{n}d}+{b:0{n}d}={a + b:0{n + 1}d}"


class EquationDataset(Dataset):
    """A list of equation strings served as 1-D token tensors (``<BOS>`` … ``<EOS>``)."""

    def __init__(self, equations: list[str]) -> None:
        self.equations = check_equation_list(equations)
        check_equations(self.equations)  # a malformed one fails here, by name

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
        if not 0 <= self.pad_id < VOCAB_SIZE:
            raise ValueError(
                f"pad_id must be a token id 0..{VOCAB_SIZE - 1}, got {pad_id}"
            )

    def __call__(self, batch: list[torch.Tensor]) -> torch.Tensor:
        _check_token_rows(batch)
        return torch.nn.utils.rnn.pad_sequence(
            batch, batch_first=True, padding_value=self.pad_id
        )


def _check_token_rows(batch) -> None:
    """Raise unless ``batch`` is a non-empty list of 1-D integer token tensors."""
    if not isinstance(batch, (list, tuple)) or not batch:
        raise ValueError(
            f"batch must be a non-empty list of 1-D token tensors, got {batch!r:.60}"
        )
    bad = next(
        (
            x
            for x in batch
            if not isinstance(x, torch.Tensor)
            or x.dim() != 1
            or x.is_floating_point()
            or x.dtype == torch.bool
        ),
        None,
    )
    if bad is not None:
        what = (
            f"shape {tuple(bad.shape)}, dtype {bad.dtype}"
            if isinstance(bad, torch.Tensor)
            else type(bad).__name__
        )
        raise TypeError(f"batch must hold 1-D integer token tensors, got {what}")


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
    if train + val > n:
        raise ValueError(
            f"fractions {tuple(fractions)} of n={n} round to {train} train and {val} "
            f"validation items, {train + val - n} more than there are: use a larger n or "
            "other fractions"
        )
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
    if not isinstance(dataset, Dataset) and not isinstance(dataset, (list, tuple)):
        raise TypeError(
            f"dataset must be a Dataset or a list of token tensors, got "
            f"{type(dataset).__name__}"
        )
    split_seed = check_seed(split_seed, "split_seed")
    sizes = split_sizes(len(dataset), fractions)
    if sizes[0] == 0:
        raise ValueError(
            f"the training split of {len(dataset)} items with fractions "
            f"{tuple(fractions)} is empty: nothing to train on"
        )
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
    num_digits = _check_num_digits(num_digits)
    n_train, n_val, n_test = check_split_sizes(sizes)
    high = 10**num_digits
    total, wanted = high * high, n_train + n_val + n_test
    if wanted > total:
        raise ValueError(
            f"sizes {tuple(sizes)} ask for {wanted:,} equations, more than the {total:,} "
            f"possible ones with num_digits={num_digits}"
        )
    if wanted > MAX_DRAWN:
        raise ValueError(
            f"sizes {tuple(sizes)} ask for {wanted:,} equations; at most {MAX_DRAWN:,} "
            "are drawn at once"
        )
    generator = torch.Generator().manual_seed(check_seed(seed))
    if total <= MAX_DRAWN:  # shuffle every equation (2 digits: the book's splits)
        order = torch.randperm(total, generator=generator)[:wanted].tolist()
    else:  # 4 digits: 10^8 equations; draw distinct ones without listing them all
        order = _distinct_draws(total, wanted, generator)
    shuffled = [_equation(i // high, i % high, num_digits) for i in order]
    return (
        shuffled[:n_train],
        shuffled[n_train : n_train + n_val],
        shuffled[n_train + n_val :],
    )


def check_split_sizes(sizes) -> tuple[int, int, int]:
    """Three non-negative ints (train, val, test)."""
    if not isinstance(sizes, (tuple, list)) or len(sizes) != 3:
        raise ValueError(
            f"sizes must be three split sizes (train, val, test), got {sizes!r}"
        )
    checked = tuple(
        check_non_negative_int(size, f"sizes ({name})")
        for name, size in zip(("train", "val", "test"), sizes, strict=True)
    )
    return checked


def _distinct_draws(total: int, wanted: int, generator: torch.Generator) -> list[int]:
    """``wanted`` distinct ints from ``0..total - 1`` in the order drawn (``wanted`` is
    at most 1 % of ``total`` here, so few draws repeat)."""
    seen: dict[int, None] = {}
    while len(seen) < wanted:
        for i in torch.randint(0, total, (wanted,), generator=generator).tolist():
            if len(seen) == wanted:
                break
            seen.setdefault(i)
    return list(seen)


def reverse_answer(equation: str) -> str:
    """The same equation with its answer digits in reverse order, ones digit first.

    Written ``a+b=`` then ones, tens, hundreds, the model produces the digit that needs no
    carry first, and each later digit can read the carry from the digit it just wrote. Applying
    it twice gives the equation back.

    >>> from chapter3.adder.data import reverse_answer
    >>> reverse_answer("15+57=072"), reverse_answer(reverse_answer("15+57=072"))
    ('15+57=270', '15+57=072')
    """
    if not isinstance(equation, str):
        raise TypeError(
            f"equation must be a str like '15+57=072', got {type(equation).__name__}"
        )
    encode_equation(equation)  # the shape a+b=c, or a one-line ValueError
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
        check_bool(shuffle, "shuffle")
        equations = check_equation_list(equations)
        self.tokens = encode_equations(equations)  # (N, L), one length for all
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
    if not isinstance(split, (Dataset, list, tuple)) or isinstance(split, str):
        raise TypeError(
            "split must be a data split (a Subset or an EquationDataset) or a list of "
            f"token tensors, got {type(split).__name__}"
        )
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
        got = (
            f"shape {tuple(x.shape)}, dtype {x.dtype}"
            if isinstance(x, torch.Tensor)
            else type(x).__name__
        )
        raise ValueError(
            f"x must be a (B, L) tensor of token ids (one equation per row), got {got}"
        )
    if x.dtype == torch.bool or x.numel() == 0:
        raise ValueError(
            f"x must be a non-empty (B, L) tensor of integer token ids, got shape "
            f"{tuple(x.shape)}, dtype {x.dtype}"
        )
    if int(x.min()) < 0 or int(x.max()) >= VOCAB_SIZE:
        raise ValueError(
            f"token ids must lie in 0..{VOCAB_SIZE - 1}, got values in "
            f"{int(x.min())}..{int(x.max())}"
        )
    x = x.long()
    is_equal = x == EQUAL  # (B, L)
    if not torch.equal(is_equal.sum(dim=1), torch.ones(x.size(0), dtype=torch.long)):
        raise ValueError('every equation in the batch must contain exactly one "="')
    equal_pos = is_equal.long().argmax(dim=1)  # (B,)
    if bool((equal_pos == x.size(1) - 1).any()):
        raise ValueError('"=" is the last token of a row: there is no answer to learn')
    inputs = x[:, :-1]  # (B, L-1): drop the last token
    target = x[:, 1:].clone()  # (B, L-1): what comes next at each position
    positions = torch.arange(1, x.size(1))  # target[:, j] is token j + 1
    target[positions[None, :] <= equal_pos[:, None]] = PAD  # hide a, "+", b and "="

    return Batch(inputs, target, padding_attend_mask(inputs, PAD))  # mask: (B, L-1)
