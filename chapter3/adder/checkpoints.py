"""Saving and loading the adder, and :func:`trained_adder`, the cached training entry point
shared by the book's pages and the gallery."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
from pathlib import Path

import torch

from chapter3._checks import check_decoder_model
from chapter3.adder.training import History, get_recipe, train
from chapter3.adder.vocab import TOKEN_TO_INDEX, VOCAB_SIZE, equation_length
from chapter3.gpt import GPTConfig, GPTDecoder

# --- checkpoints -----------------------------------------------------------------------------
CHECKPOINT_FORMAT = "chapter3-adder/1"
DEFAULT_CHECKPOINT = Path("checkpoints") / "adder.pt"
_FIELDS = ("format", "config", "vocab", "recipe", "history", "state_dict")


def check_checkpoint_path(path, name: str = "path") -> Path:
    """Raise a ``ValueError`` unless a checkpoint can be written at ``path``; return it.

    Run it *before* a long training, so that a typo in ``--out`` does not cost the model: it
    creates the parent folder if needed and writes (then removes) a scratch file in it.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or a Path, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there, it is a directory"
        )
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there, {blocking} is a file, not a "
            "directory"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
        os.close(fd)
        os.unlink(scratch)
    except OSError as error:
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there ({error.strerror or error})"
        ) from None
    return path


def save_checkpoint(model, path, history=None, recipe: str | None = None) -> Path:
    """Save ``model`` with its config, the vocabulary and (optionally) its training history.

    The file is written next to ``path`` first and then renamed over it, so a reader never
    sees half a checkpoint.
    """
    check_decoder_model(model)
    path = check_checkpoint_path(path)
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

    Any unusable file raises a ``ValueError`` that names it and says why (a missing one,
    ``FileNotFoundError``): unreadable bytes, not an adder checkpoint, missing or unknown
    fields, a configuration that cannot run the adder, weights that do not fit it, non-finite
    weights. The model is returned in eval mode.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}: create one with `python -m chapter3.adder train "
            f"--out {path}`"
        )
    if not path.is_file():
        raise ValueError(f"{path} is not a checkpoint file (it is a directory)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as error:  # empty, truncated, random bytes, text, a pickle of objects
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else ""
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(error).__name__}"
            f"{': ' + reason if reason else ''})"
        ) from None
    config = _check_payload(path, payload)
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
    not_finite = sorted(k for k, v in state.items() if not bool(v.isfinite().all()))
    if not_finite:
        raise ValueError(
            f"{path} holds non-finite weights (NaN or inf) in {', '.join(not_finite[:5])}: "
            "the model cannot answer"
        )
    model.load_state_dict(state)
    model.eval()
    try:
        history = (
            None
            if payload["history"] is None
            else History.from_dict(payload["history"])
        )
    except (TypeError, ValueError, AttributeError) as error:
        raise ValueError(
            f"{path} holds an unreadable training history: {error}"
        ) from None
    return model, history


def _check_payload(path: Path, payload) -> GPTConfig:
    """Check every field of a loaded checkpoint except the weights' values; return its config."""
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not an adder checkpoint (expected format {CHECKPOINT_FORMAT})"
        )
    missing = [k for k in _FIELDS if k not in payload]
    unknown = sorted(str(k) for k in payload if k not in _FIELDS)
    if missing or unknown:
        raise ValueError(
            f"{path} is not a complete adder checkpoint: "
            + "; ".join(
                f"{what} field(s) {', '.join(names)}"
                for what, names in (("missing", missing), ("unknown", unknown))
                if names
            )
        )
    if payload["vocab"] != TOKEN_TO_INDEX:
        raise ValueError(
            f"{path} was saved with another vocabulary than chapter3.adder's"
        )
    fields = {f.name for f in dataclasses.fields(GPTConfig)}
    stored = payload["config"]
    if not isinstance(stored, dict) or set(stored) != fields:
        names = set(stored) if isinstance(stored, dict) else set()
        raise ValueError(
            f"{path}: config must have the fields of GPTConfig; missing "
            f"{sorted(fields - names)}, unknown {sorted(map(str, names - fields))}"
        )
    try:
        config = GPTConfig(**stored)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path} holds an unusable config: {error}") from None
    needed = equation_length(2) - 1
    if config.vocab_size != VOCAB_SIZE or config.max_seq_len < needed:
        raise ValueError(
            f"{path} holds a decoder that cannot run the adder: it needs vocab_size="
            f"{VOCAB_SIZE} and max_seq_len >= {needed}, got vocab_size={config.vocab_size}, "
            f"max_seq_len={config.max_seq_len}"
        )
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(v, torch.Tensor) and v.is_floating_point() for v in state.values()
    ):
        raise ValueError(f"{path}: state_dict must map names to floating-point tensors")
    if payload["recipe"] is not None and not isinstance(payload["recipe"], str):
        raise ValueError(f"{path}: recipe must be a name or None")
    return config


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
    """Where :func:`trained_adder` keeps the checkpoint of ``recipe`` for the current code.

    The key holds the CPU kernels in use (``torch.backends.cpu.get_cpu_capability()``, which
    ``ATEN_CPU_CAPABILITY`` changes) and torch's version: each trains its own model.
    """
    recipe = get_recipe(recipe)
    kernels = f"{torch.__version__}|{torch.backends.cpu.get_cpu_capability()}"
    key = f"{source_hash()}|{recipe!r}|{kernels}"
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
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
