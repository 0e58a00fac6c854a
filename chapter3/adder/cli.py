"""The command line: ``python -m chapter3.adder train|evaluate|ask``.

Bad input is answered with one line on stderr and exit status 2, never a traceback: a bad
option or count (seeds 0 to 2**63 - 1, at most 10,000 epochs), a question that is not
``a+b=``, an unusable checkpoint (a directory, a FIFO or device, a file that is not an adder
checkpoint, a config beyond the bounds, a pickle that would run code), an ``--out`` that
cannot be written (checked before training starts), a full disk. Ctrl-C stops with one line
and status 130; nothing half-written is left behind.

``--out`` is a file: a missing parent folder is created, a path ending in ``/`` is refused
(name the file, ``runs/adder.pt``), and a symbolic link is written through to its target,
as ``cp`` does (the link stays a link).
"""

from __future__ import annotations

import argparse
import gc
import sys
from dataclasses import replace
from pathlib import Path

from chapter3.adder.checkpoints import (
    DEFAULT_CHECKPOINT,
    check_checkpoint_path,
    load_checkpoint,
    one_line,
    save_checkpoint,
)
from chapter3.adder.data import MAX_SEED
from chapter3.adder.decoding import evaluate, what_is
from chapter3.adder.exhaustive import evaluate_all
from chapter3.adder.training import MAX_EPOCHS, build_data, get_recipe, train
from chapter3.adder.vocab import parse_question


# --- the command line ------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (no usage block), status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _count(minimum: int, maximum: int | None = None):
    """An argparse type: an integer from ``minimum`` to ``maximum`` (if given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"must be at most {maximum} ({_power_of_two(maximum)}), got {value}"
            )
        return value

    return parse


def _power_of_two(n: int) -> str:
    return f"2**{n.bit_length()}" + (" - 1" if n & (n + 1) == 0 else "")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m chapter3.adder",
        description="Train, evaluate and query the GPT decoder that adds two 2-digit numbers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_train = sub.add_parser("train", help="train a model and save a checkpoint")
    p_train.add_argument(
        "--recipe",
        choices=["original", "fast"],
        default="fast",
        help="'original': the adder notebook's recipe (minutes on 2 CPU cores); "
        "'fast': the fast recipe (default)",
    )
    p_train.add_argument(
        "--epochs",
        type=_count(1, MAX_EPOCHS),
        default=None,
        help=f"number of epochs, 1 to {MAX_EPOCHS} (default: the recipe's)",
    )
    p_train.add_argument(
        "--out",
        type=str,
        default=str(DEFAULT_CHECKPOINT),
        help=f"checkpoint file to write (default: {DEFAULT_CHECKPOINT}); a missing "
        "folder is created, a path ending in '/' is refused, a symlink is written "
        "through to its target",
    )
    p_train.add_argument(
        "--seed",
        type=_count(0, MAX_SEED),
        default=None,
        help="initialisation seed of the weights and the shuffling, 0 to 2**63 - 1 "
        "(default: the recipe's)",
    )
    p_train.add_argument("--quiet", action="store_true", help="no progress bar")

    p_eval = sub.add_parser(
        "evaluate",
        help="exact-match accuracy on the recipe's test split, or on all 10,000 sums",
    )
    p_eval.add_argument(
        "--all",
        action="store_true",
        help="decode every one of the 10,000 sums in one batched pass and score them "
        "in total and per part of the split (train / val / test)",
    )
    p_eval.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint to load (default: {DEFAULT_CHECKPOINT})",
    )
    p_eval.add_argument(
        "--show-wrong",
        type=_count(0),
        default=10,
        metavar="N",
        help="list at most N wrong answers (default: 10)",
    )

    p_ask = sub.add_parser("ask", help='complete a question such as "15+57="')
    p_ask.add_argument(
        "question",
        nargs="?",  # a question such as "-5+3=" looks like an option: see main
        help='a question of the form "a+b=" with 1- or 2-digit a, b',
    )
    p_ask.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_CHECKPOINT,
        help=f"checkpoint to load (default: {DEFAULT_CHECKPOINT})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m chapter3.adder``; returns the exit status: 0, 2 for any
    fault (one line on stderr), 130 after Ctrl-C."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C): nothing was saved", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = _build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "ask" and args.question is None and len(extra) == 1:
        args.question, extra = extra[0], []  # "-5+3=": a question, not an option
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "ask" and args.question is None:
        parser.error("ask needs a question such as '15+57='")

    try:
        if args.command == "train":
            check_checkpoint_path(args.out, "--out")  # before training, not after
            recipe = get_recipe(args.recipe)
            if args.seed is not None:
                recipe = replace(recipe, init_seed=args.seed)
            # The ~170,000 objects that importing torch created will live until the process
            # ends: moved out of the collector's sight, they are not walked again by the full
            # collections that training's allocations trigger (about 0.1 s each).
            gc.freeze()
            model, history = train(
                recipe, epochs=args.epochs, progress=not args.quiet, log=print
            )
            save_checkpoint(model, args.out, history, recipe=args.recipe)
            right = ", ".join(
                f"{p} {c}/{t}" for p, (c, t) in history.scores.items() if t
            )
            print(
                f"all {sum(t for _, t in history.scores.values())} sums: "
                f"{history.all_correct} right ({right}) after {history.steps} steps, "
                f"{history.train_seconds:.1f} s of training; saved {args.out}"
            )
        elif args.command == "evaluate":
            model, history = load_checkpoint(args.checkpoint)
            recipe = get_recipe(history.recipe if history is not None else "fast")
            if args.all:
                scored = evaluate_all(model, recipe)
                print(
                    f"exact match on all {scored.total} sums (recipe '{recipe.name}'): "
                    f"{scored.summary()}, decoded in {scored.seconds:.2f} s"
                )
                for expected, predicted, part in scored.wrong[: args.show_wrong]:
                    print(f"  expected {expected}  got {predicted}  ({part})")
                if len(scored.wrong) > args.show_wrong:
                    print(f"  ... and {len(scored.wrong) - args.show_wrong} more")
                return 0
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
    except (ValueError, TypeError, OSError, RuntimeError, MemoryError) as error:
        message = one_line(error) or type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0
