"""Saving and loading the adder, and :func:`trained_adder`, the cached training entry point
shared by the book's pages and the gallery."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch

from chapter3.adder.training import History, get_recipe, train
from chapter3.adder.vocab import TOKEN_TO_INDEX
from chapter3.gpt import GPTConfig, GPTDecoder

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

    ``history`` is a :class:`chapter3.adder.training.History` or ``None``. With
    ``expected_config`` (a :class:`chapter3.gpt.GPTConfig`), a checkpoint made with another
    configuration raises a ``ValueError`` naming the fields that differ.
    """
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
    """A short hash of every ``.py`` file of the package: the cache is stale when the code
    changes."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]  # chapter3/
    for file in sorted(package.rglob("*.py")):
        name = file.relative_to(package).as_posix()
        digest.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def default_cache_dir() -> Path:
    """``$CHAPTER3_CACHE_DIR``, else ``<checkout>/_build/adder-cache`` (from a checkout), else
    ``~/.cache/chapter3/adder``."""
    env = os.environ.get("CHAPTER3_CACHE_DIR")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root / "_build" / "adder-cache"
    return Path.home() / ".cache" / "chapter3" / "adder"


def cache_path(recipe="fast", cache_dir=None) -> Path:
    """Where :func:`trained_adder` keeps the checkpoint of ``recipe`` for the current code."""
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

    The first call trains and stores the checkpoint and its :class:`chapter3.adder.training.History`
    in ``cache_dir`` (default :func:`default_cache_dir`), under a name keyed on a hash of the
    package's source and of the recipe; later calls, in any process, load it. Two processes
    calling at once do not both train: the second waits on a lock, then loads.

    The history holds, per epoch, ``train_loss``, ``val_loss``, ``test_accuracy`` and ``lr``.
    """
    recipe = get_recipe(recipe)
    path = cache_path(recipe, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _FileLock(path.with_suffix(".lock")):
        if path.is_file() and not retrain:
            return load_checkpoint(path)
        model, history = train(recipe, progress=progress)
        save_checkpoint(model, path, history, recipe=recipe.name)
    return model, history
