"""Saving and loading the adder, and :func:`trained_adder`, the cached training entry point
shared by the book's pages and the gallery."""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import io
import os
import pickle
import re
import secrets
import stat
import sys
import warnings
from pathlib import Path

import torch

from chapter3._checks import check_bool, check_decoder_model
from chapter3.adder.training import History, get_recipe, train
from chapter3.adder.vocab import TOKEN_TO_INDEX, VOCAB_SIZE, equation_length
from chapter3.gpt import GPTConfig, GPTDecoder

# --- checkpoints -----------------------------------------------------------------------------
CHECKPOINT_FORMAT = "chapter3-adder/1"
DEFAULT_CHECKPOINT = Path("checkpoints") / "adder.pt"
_FIELDS = ("format", "config", "vocab", "recipe", "history", "state_dict")


MAX_CHECKPOINT_BYTES = 256 * 2**20
"""The largest checkpoint file read (the original recipe's is about 1 MB)."""

CONFIG_BOUNDS = {
    "max_seq_len": 1024,
    "d_model": 4096,
    "num_heads": 64,
    "num_layers": 64,
}
"""Upper bounds on a stored config's sizes, checked before any model is built."""

MAX_PARAMETERS = 64 * 2**20
"""The most weights a checkpoint may describe (the original recipe has 270,226)."""

_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x1f\x7f]")
_TEMPORARY = re.compile(r"\.(\d+)\.[0-9a-f]{8}\.tmp$")


def one_line(text: str) -> str:
    """``text`` on one line, without terminal escapes or control characters."""
    return " ".join(_CONTROL.sub(" ", str(text)).split())


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_checkpoint_path(path, name: str = "path") -> Path:
    """Raise a ``ValueError`` unless a checkpoint can be written at ``path``; return it.

    Run it *before* a long training, so that a typo in ``--out`` does not cost the model: it
    creates the parent folder if needed and writes (then removes) a scratch file in it.

    - A missing parent folder is created (``--out runs/new/adder.pt`` works).
    - A path that ends with ``/`` names a directory, and is refused: a checkpoint is a
      file, so name it (``runs/adder.pt``). An existing directory, FIFO, device or socket
      is refused as well.
    - A symbolic link is followed, as ``cp`` does: the checkpoint is written to the file
      the link points to, and the link stays a link.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or a Path, got {type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str or a Path, got bytes {text!r}")
    if not text:
        raise ValueError(f"{name} is empty: name a checkpoint file such as adder.pt")
    if text.endswith(("/", os.sep)):
        raise ValueError(
            f"{name} {text}: ends with '/', so it names a directory; a checkpoint is a "
            f"file: name it, e.g. {text.rstrip('/' + os.sep)}/adder.pt"
        )
    path = Path(text)
    target = _write_target(path)
    blocking = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there, {blocking} is a file, not a "
            "directory"
        )
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there ({error.strerror or error})"
        ) from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = _kind(mode)
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there, it is {kind}"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = _temporary_name(target)
        os.close(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(scratch)
    except OSError as error:
        raise ValueError(
            f"{name} {path}: cannot write a checkpoint there ({error.strerror or error})"
        ) from None
    return path


def _write_target(path: Path) -> Path:
    """The file a save to ``path`` writes: ``path`` itself, or where its symlink points."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _temporary_name(path: Path) -> Path:
    """``adder.pt.<pid>.<8 hex digits>.tmp`` next to ``path``: the pid says whose it is."""
    return path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that earlier, killed saves to ``path`` left behind.

    A save writes ``adder.pt.<pid>.<hex>.tmp`` first; a file whose process is gone (or one
    without a pid, from an older version) is a leftover. A live process's file is kept: two
    runs may save to one ``--out`` at once. Returns the files removed.
    """
    removed = []
    for candidate in path.parent.glob(f"{glob.escape(path.name)}.*.tmp"):
        match = _TEMPORARY.search(candidate.name[len(path.name) :])
        if match is not None and _alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the system allows opening a folder)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash or power cut at any moment leaves either
    the old file or the new one, never an empty or partial one.

    The bytes go to a temporary file in the same folder, which is flushed and ``fsync``-ed,
    given the mode of the file it replaces (a new file gets the usual ``0o666`` less the
    umask), renamed over ``path``, and the folder is ``fsync``-ed so that the rename itself
    survives. On any failure (a full disk, ``EFBIG``, Ctrl-C) the temporary file is removed
    and the old file is untouched; temporary files of earlier killed saves are removed first.
    """
    remove_stale_temporaries(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    tmp = _temporary_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def save_checkpoint(model, path, history=None, recipe: str | None = None) -> Path:
    """Save ``model`` with its config, the vocabulary and (optionally) its training history.

    The file is written with :func:`atomic_write`: a reader, a crash or a power cut never
    sees half a checkpoint, and a replaced file keeps its mode. ``path`` is checked by
    :func:`check_checkpoint_path` (a missing parent folder is created; a symlink is written
    through to its target). Returns ``path``.
    """
    check_decoder_model(model)
    if history is not None and not isinstance(history, History):
        raise TypeError(
            f"history must be a History or None, got {type(history).__name__}"
        )
    if recipe is not None and not isinstance(recipe, str):
        raise TypeError(f"recipe must be a recipe name or None, got {recipe!r}")
    path = check_checkpoint_path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "vocab": dict(TOKEN_TO_INDEX),
        "recipe": recipe,
        "history": None if history is None else history.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        atomic_write(_write_target(path), buffer.getvalue())
    except OSError as error:  # a full disk (ENOSPC), a file too large (EFBIG), ...
        raise OSError(
            error.errno,
            f"cannot write the checkpoint {path}: {error.strerror or error}",
        ) from None
    return path


def _read_payload(path: Path):
    """The unpickled payload of ``path``, read with ``weights_only=True`` (tensors and plain
    data only: a pickle that would run code is refused), or a one-line ``ValueError``."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no checkpoint at {path}: create one with `python -m chapter3.adder train "
            f"--out {path}`"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(
            f"{path} is not a checkpoint file (it is {_kind(info.st_mode)})"
        )
    if info.st_size > MAX_CHECKPOINT_BYTES:
        raise ValueError(
            f"{path} is {info.st_size:,} bytes, more than an adder checkpoint can be "
            f"({MAX_CHECKPOINT_BYTES:,})"
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as error:
        raise ValueError(
            f"{path} cannot be read: {error.strerror or one_line(error)}"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path} is not a readable checkpoint: it holds Python objects that are not "
            "tensors or plain data (refused unread: loading them could run code)"
        ) from None
    except Exception as error:  # empty, truncated, random bytes, text
        reason = one_line(error)[:120]
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(error).__name__}"
            f"{': ' + reason if reason else ''})"
        ) from None


def load_checkpoint(path, expected_config=None):
    """Load a checkpoint written by :func:`save_checkpoint`: returns ``(model, history)``.

    ``history`` is a :class:`chapter3.adder.training.History` or ``None``. With
    ``expected_config`` (a :class:`chapter3.gpt.GPTConfig`), a checkpoint made with another
    configuration raises a ``ValueError`` naming the fields that differ.

    The file is read with ``weights_only=True``: a pickle that would run code is refused
    without running it. Everything is checked *before* a model is built: the stored config
    against :data:`CONFIG_BOUNDS` and :data:`MAX_PARAMETERS`, then every tensor's name, shape
    and dtype against the model that config describes (worked out on torch's ``meta``
    device, which allocates nothing), then that every weight is finite. Any unusable file
    raises a one-line ``ValueError`` that names it and says why (a missing one,
    ``FileNotFoundError``). The model is returned in eval mode.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a Path, got {type(path).__name__}")
    if expected_config is not None and not isinstance(expected_config, GPTConfig):
        raise TypeError(
            f"expected_config must be a GPTConfig or None, got "
            f"{type(expected_config).__name__}"
        )
    path = Path(path)
    payload = _read_payload(path)
    config = _check_payload(path, payload)
    if expected_config is not None and config != expected_config:
        ours, theirs = expected_config.to_dict(), config.to_dict()
        diff = ", ".join(
            f"{k}={theirs[k]} (expected {ours[k]})"
            for k in ours
            if ours[k] != theirs[k]
        )
        raise ValueError(f"{path} holds a model with another configuration: {diff}")
    state = payload["state_dict"]
    _check_tensors(path, config, state)
    model = GPTDecoder(config)
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
            f"{path} holds an unreadable training history: {one_line(error)}"
        ) from None
    return model, history


def _check_tensors(path: Path, config: GPTConfig, state: dict) -> None:
    """Raise unless ``state`` has exactly the names, shapes and dtypes of the model that
    ``config`` describes, and only finite values; no model is allocated."""
    with torch.device("meta"):
        expected = GPTDecoder(config).state_dict()
    wrong = sorted(
        k
        for k in expected.keys() | state.keys()
        if k not in expected
        or k not in state
        or tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if wrong:
        details = ", ".join(
            f"{k} {tuple(state[k].shape) if k in state else 'missing'}"
            f" (expected {tuple(expected[k].shape) if k in expected else 'none'})"
            for k in wrong[:3]
        )
        raise ValueError(
            f"{path}: the weights do not fit the configuration stored with them "
            f"(mismatched tensors: {details}{', ...' if len(wrong) > 3 else ''})"
        )
    dtypes = sorted(k for k in state if state[k].dtype != expected[k].dtype)
    if dtypes:
        k = dtypes[0]
        raise ValueError(
            f"{path}: tensor {k} has dtype {state[k].dtype}, the model's is "
            f"{expected[k].dtype} ({len(dtypes)} tensor(s) differ)"
        )
    not_finite = sorted(k for k, v in state.items() if not bool(v.isfinite().all()))
    if not_finite:
        raise ValueError(
            f"{path} holds non-finite weights (NaN or inf) in {', '.join(not_finite[:5])}: "
            "the model cannot answer"
        )


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
    too_big = next(
        (
            f"{k}={stored[k]!r}"
            for k, bound in CONFIG_BOUNDS.items()
            if isinstance(stored[k], int) and stored[k] > bound
        ),
        None,
    )
    if too_big is not None:
        raise ValueError(
            f"{path} holds an unusable config: {too_big} is beyond the bounds "
            f"{CONFIG_BOUNDS} of an adder checkpoint"
        )
    try:
        config = GPTConfig(**stored)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{path} holds an unusable config: {one_line(error)}"
        ) from None
    d, layers = config.d_model, config.num_layers
    weights = (config.vocab_size + config.max_seq_len) * d + layers * (
        4 * d * d + 2 * d * config.d_ff
    )
    if weights > MAX_PARAMETERS:
        raise ValueError(
            f"{path} holds an unusable config: it describes about {weights:,} weights, "
            f"more than the {MAX_PARAMETERS:,} an adder checkpoint may have"
        )
    needed = equation_length(2) - 1
    if config.vocab_size != VOCAB_SIZE or config.max_seq_len < needed:
        raise ValueError(
            f"{path} holds a decoder that cannot run the adder: it needs vocab_size="
            f"{VOCAB_SIZE} and max_seq_len >= {needed}, got vocab_size={config.vocab_size}, "
            f"max_seq_len={config.max_seq_len}"
        )
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) and v.is_floating_point()
        for k, v in state.items()
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
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a str or a Path, got {cache_dir!r}")
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
    calling at once do not both train: the second waits on a lock, then loads. A cache
    entry that cannot be loaded (truncated by a full disk, say) is retrained, with a one-line
    note on stderr.

    The history holds, per epoch, ``train_loss``, ``val_loss``, ``test_accuracy`` and ``lr``.
    """
    recipe = get_recipe(recipe)
    check_bool(progress, "progress")
    check_bool(retrain, "retrain")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a str or a Path, got {cache_dir!r}")
    path = cache_path(recipe, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _FileLock(path.with_suffix(".lock")):
        if path.is_file() and not retrain:
            try:
                return load_checkpoint(path)
            except ValueError as error:  # a truncated or damaged cache entry
                print(
                    f"note: retraining the cached adder: {one_line(error)}",
                    file=sys.stderr,
                )
        model, history = train(recipe, progress=progress)
        save_checkpoint(model, path, history, recipe=recipe.name)
    return model, history
