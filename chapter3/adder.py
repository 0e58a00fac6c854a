"""The 2-digit adder of seed 003: vocabulary, data, batches, checkpoints, cache and command line.

Equations are written with zero padding, ``06+90=096``: two ``num_digits``-digit operands and a
``num_digits + 1``-digit sum, between ``<BOS>`` and ``<EOS>``. Every equation of the 2-digit
task is therefore 11 tokens long.

Training lives in :mod:`chapter3.training`, decoding in :mod:`chapter3.decoding`; this module
is the front door: ``python -m chapter3.adder --help``, and :func:`trained_adder`, the cached
training entry point shared by the book's pages and the gallery.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, Subset, random_split

from chapter3._checks import check_positive_int
from chapter3.masks import causal_attend_mask, padding_attend_mask

# --- the vocabulary (ids as in seed 003) -----------------------------------------------------
PLUS = 10
MUL = 11
MINUS = 12
EQUAL = 13
EOS = 14
BOS = 15
PAD = 16
UNK = 17

TOKEN_TO_INDEX: dict[str, int] = {
    **{str(d): d for d in range(10)},
    "+": PLUS,
    "*": MUL,
    "-": MINUS,
    "=": EQUAL,
    "<EOS>": EOS,
    "<BOS>": BOS,
    "<pad>": PAD,
    "??": UNK,
}
INDEX_TO_TOKEN: dict[int, str] = {i: t for t, i in TOKEN_TO_INDEX.items()}
VOCAB_SIZE = len(TOKEN_TO_INDEX)  # 18


def equation_length(num_digits: int = 2) -> int:
    """Tokens in one equation: <BOS>, a, "+", b, "=", the sum (one digit longer), <EOS>.

    >>> from chapter3.adder import equation_length
    >>> equation_length(2)
    11
    """
    check_positive_int(num_digits, "num_digits")
    return 1 + num_digits + 1 + num_digits + 1 + (num_digits + 1) + 1


def pad_number(num: int, length: int) -> str:
    """Zero-pad ``num`` on the left to ``length`` characters.

    >>> from chapter3.adder import pad_number
    >>> pad_number(6, 2), pad_number(96, 3)
    ('06', '096')
    """
    return str(num).zfill(length)


def equation_to_string(a: int, b: int, num_digits: int = 2) -> str:
    """``a+b=c`` with both operands padded to ``num_digits`` and the sum to ``num_digits + 1``.

    >>> from chapter3.adder import equation_to_string
    >>> equation_to_string(6, 90)
    '06+90=096'
    """
    a_str, b_str = pad_number(a, num_digits), pad_number(b, num_digits)
    return f"{a_str}+{b_str}={pad_number(a + b, num_digits + 1)}"


def encode(text: str) -> list[int]:
    """Token ids of a string of single-character tokens (digits and ``+ * - =``).

    >>> from chapter3.adder import encode
    >>> encode("15+57=")
    [1, 5, 10, 5, 7, 13]
    """
    unknown = sorted({ch for ch in text if ch not in TOKEN_TO_INDEX})
    if unknown:
        raise ValueError(
            f"characters {unknown} are not in the vocabulary (digits and + * - =)"
        )
    return [TOKEN_TO_INDEX[ch] for ch in text]


def encode_equation(equation: str) -> torch.Tensor:
    """``<BOS>`` + the tokens of ``equation`` + ``<EOS>``, as a 1-D long tensor.

    >>> from chapter3.adder import encode_equation
    >>> encode_equation("15+57=072")
    tensor([15,  1,  5, 10,  5,  7, 13,  0,  7,  2, 14])
    """
    return torch.tensor([BOS, *encode(equation), EOS], dtype=torch.long)


def decode(ids) -> str:
    """The string of a sequence of ids, without ``<BOS>``, ``<EOS>`` and ``<pad>``.

    >>> from chapter3.adder import decode
    >>> decode([15, 1, 5, 10, 5, 7, 13, 0, 7, 2, 14])
    '15+57=072'
    """
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    skip = {BOS, EOS, PAD}
    return "".join(INDEX_TO_TOKEN.get(i, "??") for i in ids if i not in skip)


def parse_question(question: str, num_digits: int = 2) -> str:
    """Check a question like ``"6+90="`` and return it zero-padded (``"06+90="``).

    >>> from chapter3.adder import parse_question
    >>> parse_question("6+90=")
    '06+90='
    >>> parse_question("123+4=")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: expected a question of the form 'a+b=' with a and b of 1 to 2 digits ...
    """
    if not isinstance(question, str):
        raise TypeError(
            f"question must be a str like '15+57=', got {type(question).__name__}"
        )
    match = re.fullmatch(
        rf"(\d{{1,{num_digits}}})\+(\d{{1,{num_digits}}})=", question.strip()
    )
    if match is None:
        raise ValueError(
            f"expected a question of the form 'a+b=' with a and b of 1 to {num_digits} digits "
            f"(e.g. '15+57='), got {question!r}"
        )
    a, b = (int(g) for g in match.groups())
    return f"{pad_number(a, num_digits)}+{pad_number(b, num_digits)}="


# --- the data set ----------------------------------------------------------------------------
def create_add_dataset(
    num_digits: int = 2, size: int = 10_000, seed: int = 1337
) -> tuple[list[torch.Tensor], list[str]]:
    """``size`` random equations, drawn as seed 003 draws them (with replacement).

    One ``torch.Generator`` seeded with ``seed`` draws ``a`` then ``b`` for each equation, so
    the list is the seed's, equation for equation. Returns (token tensors, strings).

    >>> from chapter3.adder import create_add_dataset
    >>> create_add_dataset(2, 4)[1]
    ['15+57=072', '92+00=092', '95+53=148', '15+10=025']
    """
    check_positive_int(num_digits, "num_digits")
    check_positive_int(size, "size")
    rng = torch.Generator().manual_seed(seed)
    high = 10**num_digits
    strings = []
    for _ in range(size):
        a = torch.randint(0, high, (1,), generator=rng).item()
        b = torch.randint(0, high, (1,), generator=rng).item()
        strings.append(equation_to_string(a, b, num_digits))
    return [encode_equation(s) for s in strings], strings


def all_equations(num_digits: int = 2) -> list[str]:
    """Every possible equation, ``00+00=000`` to ``99+99=198`` (10,000 for two digits).

    >>> from chapter3.adder import all_equations
    >>> eqs = all_equations(2)
    >>> len(eqs), eqs[0], eqs[-1]
    (10000, '00+00=000', '99+99=198')
    """
    high = 10**num_digits
    return [
        equation_to_string(a, b, num_digits) for a in range(high) for b in range(high)
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

    A class instead of the seed's lambda, so that a ``DataLoader`` with worker processes can
    pickle it. With zero-padded equations every sample has the same length anyway.

    >>> import torch
    >>> from chapter3.adder import PadCollate
    >>> PadCollate()([torch.tensor([1, 2, 3]), torch.tensor([4])])
    tensor([[ 1,  2,  3],
            [ 4, 16, 16]])
    """

    def __init__(self, pad_id: int = PAD) -> None:
        self.pad_id = pad_id

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
    """Train/val/test sizes as seed 003 rounds them (test takes the remainder).

    >>> from chapter3.adder import split_sizes
    >>> split_sizes(10_000, (0.7, 0.2, 0.1))
    (7000, 2000, 1000)
    """
    if (
        len(fractions) != 3
        or any(f < 0 for f in fractions)
        or abs(sum(fractions) - 1) > 1e-6
    ):
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    train = round(n * fractions[0])
    val = round(n * fractions[1])
    return train, val, n - train - val


def make_loaders(
    dataset,
    batch_size: int = 256,
    fractions: tuple[float, float, float] = (0.7, 0.2, 0.1),
    split_seed: int = 1992,
) -> AdderLoaders:
    """Split ``dataset`` with ``random_split`` (a generator seeded with ``split_seed``) and wrap
    each part in a ``DataLoader``. This is seed 003's ``DataLoaders.split_data``.
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
    two splits (unlike seed 003, which samples with replacement and then splits).

    >>> from chapter3.adder import disjoint_split
    >>> train, val, test = disjoint_split()
    >>> len(train), len(val), len(test), len(set(train) & set(test))
    (8000, 1000, 1000, 0)
    """
    equations = all_equations(num_digits)
    if sum(sizes) > len(equations):
        raise ValueError(
            f"sizes {sizes} ask for more than the {len(equations)} possible equations"
        )
    order = torch.randperm(
        len(equations), generator=torch.Generator().manual_seed(seed)
    ).tolist()
    shuffled = [equations[i] for i in order]
    n_train, n_val, n_test = sizes
    return (
        shuffled[:n_train],
        shuffled[n_train : n_train + n_val],
        shuffled[n_train + n_val : n_train + n_val + n_test],
    )


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
    target_padding_mask: (
        torch.Tensor
    )  # (B, 1, 10, 10): True where the key is a real token
    future_mask: torch.Tensor  # (B, 1, 10, 10): True on and below the diagonal


def construct_batches(x: torch.Tensor) -> Batch:
    """Turn a (B, L) batch of equations into the model's input, target and masks.

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
    >>> batch.target_padding_mask.shape, batch.future_mask.shape
    (torch.Size([1, 1, 10, 10]), torch.Size([1, 1, 10, 10]))
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

    batch_size, seq_len = inputs.shape
    pad = padding_attend_mask(inputs, PAD)  # (B, L-1)
    target_padding_mask = pad[:, None, None, :].expand(batch_size, 1, seq_len, seq_len)
    future = causal_attend_mask(seq_len).expand(batch_size, 1, seq_len, seq_len)
    return Batch(inputs, target, target_padding_mask, future)


# --- checkpoints -----------------------------------------------------------------------------
CHECKPOINT_FORMAT = "chapter3-adder/1"
DEFAULT_CHECKPOINT = Path("checkpoints") / "adder.pt"


def save_checkpoint(model, path, history=None, recipe: str | None = None) -> Path:
    """Save ``model`` with its config, the vocabulary and (optionally) its training history.

    The file is written next to ``path`` first and then renamed over it, so a reader never
    sees half a checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "vocab": dict(TOKEN_TO_INDEX),
        "recipe": recipe,
        "history": None if history is None else history.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path, expected_config=None):
    """Load a checkpoint written by :func:`save_checkpoint`: returns ``(model, history)``.

    ``history`` is a :class:`chapter3.training.History` or ``None``. With
    ``expected_config`` (a :class:`chapter3.gpt.GPTConfig`), a checkpoint made with another
    configuration raises a ``ValueError`` naming the fields that differ.
    """
    from chapter3.gpt import GPTConfig, GPTDecoder
    from chapter3.training import History

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: create one with `python -m chapter3.adder train "
            f"--out {path}`"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not an adder checkpoint (expected format {CHECKPOINT_FORMAT})"
        )
    if payload["vocab"] != TOKEN_TO_INDEX:
        raise ValueError(
            f"{path} was saved with another vocabulary than chapter3.adder's"
        )
    config = GPTConfig(**payload["config"])
    if expected_config is not None and config != expected_config:
        ours, theirs = expected_config.to_dict(), config.to_dict()
        diff = ", ".join(
            f"{k}={theirs[k]} (expected {ours[k]})"
            for k in ours
            if ours[k] != theirs[k]
        )
        raise ValueError(f"{path} holds a model with another configuration: {diff}")
    model = GPTDecoder(config)
    state = payload["state_dict"]
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        bad = sorted(
            k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k)
        )
        raise ValueError(
            f"{path}: the weights do not fit the configuration stored with them "
            f"(mismatched tensors: {', '.join(bad[:5])})"
        )
    model.load_state_dict(state)
    model.eval()
    history = (
        None
        if payload.get("history") is None
        else History.from_dict(payload["history"])
    )
    return model, history


# --- the cached training entry point ---------------------------------------------------------
def source_hash() -> str:
    """A short hash of every ``chapter3/*.py`` file: the cache is stale when the code changes."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for file in sorted(package.glob("*.py")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$CHAPTER3_CACHE_DIR``, else ``<checkout>/_build/adder-cache`` (from a checkout), else
    ``~/.cache/chapter3/adder``."""
    env = os.environ.get("CHAPTER3_CACHE_DIR")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        return root / "_build" / "adder-cache"
    return Path.home() / ".cache" / "chapter3" / "adder"


def cache_path(recipe="fast", cache_dir=None) -> Path:
    """Where :func:`trained_adder` keeps the checkpoint of ``recipe`` for the current code."""
    from chapter3.training import get_recipe

    recipe = get_recipe(recipe)
    key = hashlib.sha256(f"{source_hash()}|{recipe!r}".encode()).hexdigest()[:16]
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return directory / f"adder-{recipe.name}-{key}.pt"


class _FileLock:
    """An exclusive lock on a file (POSIX ``flock``; a no-op where ``fcntl`` is missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        self.handle = open(self.path, "a+")  # noqa: SIM115 - closed in __exit__
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()  # closing releases the lock


def trained_adder(
    recipe="fast", cache_dir=None, progress: bool = False, retrain: bool = False
):
    """The adder trained with ``recipe`` (``"fast"`` or ``"original"``): ``(model, history)``.

    The first call trains and stores the checkpoint and its :class:`chapter3.training.History`
    in ``cache_dir`` (default :func:`default_cache_dir`), under a name keyed on a hash of the
    package's source and of the recipe; later calls, in any process, load it. Two processes
    calling at once do not both train: the second waits on a lock, then loads.

    The history holds, per epoch, ``train_loss``, ``val_loss``, ``test_accuracy`` and ``lr``.
    """
    from chapter3.training import get_recipe, train

    recipe = get_recipe(recipe)
    path = cache_path(recipe, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _FileLock(path.with_suffix(".lock")):
        if path.is_file() and not retrain:
            return load_checkpoint(path)
        model, history = train(recipe, progress=progress)
        save_checkpoint(model, path, history, recipe=recipe.name)
    return model, history


# --- the command line ------------------------------------------------------------------------
def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chapter3.adder",
        description="Train, evaluate and query the GPT decoder that adds two 2-digit numbers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_train = sub.add_parser("train", help="train a model and save a checkpoint")
    p_train.add_argument(
        "--recipe",
        choices=["original", "fast"],
        default="fast",
        help="'seed': seed 003 as is (several minutes on 2 CPU cores); "
        "'fast': the fast recipe (default)",
    )
    p_train.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="number of epochs (default: the recipe's)",
    )
    p_train.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint to write (default: {DEFAULT_CHECKPOINT})",
    )
    p_train.add_argument("--quiet", action="store_true", help="no progress bar")

    p_eval = sub.add_parser(
        "evaluate", help="exact-match accuracy on the recipe's test split"
    )
    p_eval.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint to load (default: {DEFAULT_CHECKPOINT})",
    )
    p_eval.add_argument(
        "--show-wrong",
        type=int,
        default=10,
        metavar="N",
        help="list at most N wrong answers (default: 10)",
    )

    p_ask = sub.add_parser("ask", help='complete a question such as "15+57="')
    p_ask.add_argument(
        "question", help='a question of the form "a+b=" with 1- or 2-digit a, b'
    )
    p_ask.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint to load (default: {DEFAULT_CHECKPOINT})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m chapter3.adder``; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    from chapter3.decoding import evaluate, what_is
    from chapter3.training import build_data, get_recipe, train

    try:
        if args.command == "train":
            if args.epochs is not None and args.epochs < 1:
                parser.error(f"--epochs must be a positive integer, got {args.epochs}")
            model, history = train(
                args.recipe, epochs=args.epochs, progress=not args.quiet, log=print
            )
            save_checkpoint(model, args.out, history, recipe=args.recipe)
            print(
                f"test accuracy {history.final_test_accuracy:.4f} after "
                f"{history.train_seconds:.1f} s of training; saved {args.out}"
            )
        elif args.command == "evaluate":
            model, history = load_checkpoint(args.checkpoint)
            recipe = get_recipe(history.recipe if history is not None else "fast")
            test = build_data(recipe).test_set
            result = evaluate(model, test)
            print(
                f"exact match on the {result.total} test equations of recipe "
                f"'{recipe.name}': {result.accuracy:.4f} ({result.num_correct}/{result.total})"
            )
            for expected, predicted in result.wrong[: args.show_wrong]:
                print(f"  expected {expected}  got {predicted}")
        elif args.command == "ask":
            parse_question(args.question)  # a bad question fails before any loading
            model, _ = load_checkpoint(args.checkpoint)
            print(what_is(args.question, model))
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
