"""The reference models: trained adders committed with the package, the same on every machine.

Training is chaotic. PyTorch's vector kernels round differently on each kind of CPU (AVX-512,
AVX2, arm64, the scalar fallback), and after a thousand steps those last-bit differences have
grown into a different model: the same code and seed train another adder on a reader's laptop
than on the machine that built the book. Whatever the book says about *one* trained model (its
mistakes, its heads, its attention maps, the live page) is therefore said about a model that was
trained once and committed here, in ``chapter3/adder/reference/``:

- ``fast``: the fast recipe (:data:`~chapter3.adder.training.FAST_RECIPE`);
- ``early``: the same recipe cut to 4 epochs, the half-trained run of the inference page;
- ``small``: width 16, two heads, the smallest model of the frontier page that gets every sum
  right.

Each file is an ordinary checkpoint (:func:`~chapter3.adder.checkpoints.load_checkpoint`, loaded
with ``weights_only=True``), and ``manifest.json`` holds its SHA-256 and where it was trained.
:func:`reference_adder` checks the hash before it loads a file: a missing or altered checkpoint
is a one-line error. ``make reference`` (``python -m chapter3.adder.reference retrain``)
retrains them on purpose and prints what changed; a build never writes them.

>>> from chapter3.adder.reference import reference_adder
>>> model, history = reference_adder("fast")
>>> history.all_correct, history.steps
(10000, 1413)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import platform
import sys
import tempfile
from pathlib import Path

import torch

from chapter3.adder.checkpoints import load_checkpoint, save_checkpoint
from chapter3.adder.training import FAST_RECIPE, Recipe, train

REFERENCE_DIR = Path(__file__).resolve().with_name("reference")
MANIFEST = REFERENCE_DIR / "manifest.json"

SMALL_MODEL = dataclasses.replace(FAST_RECIPE.model, d_model=16, d_ff=32, num_heads=2)

REFERENCE_RECIPES: dict[str, Recipe] = {
    "fast": FAST_RECIPE,
    "early": dataclasses.replace(FAST_RECIPE, name="early", epochs=4, extra_epochs=0),
    "small": dataclasses.replace(
        FAST_RECIPE, name="width-16-2-heads", model=SMALL_MODEL, epochs=16
    ),
}
"""Reference name -> the recipe it was trained with."""


class ReferenceModelError(ValueError):
    """A reference checkpoint is missing, altered, or not the one its manifest describes."""


def recipe_fingerprint(recipe: Recipe) -> str:
    """A short hash of every field of ``recipe``: it changes when the recipe does."""
    return hashlib.sha256(repr(recipe).encode()).hexdigest()[:16]


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_manifest() -> dict:
    """``manifest.json``: reference name -> its file, SHA-256 and provenance."""
    try:
        return json.loads(MANIFEST.read_text())
    except FileNotFoundError:
        raise ReferenceModelError(
            f"{MANIFEST} is missing: reinstall chapter3 or restore it with git"
        ) from None
    except (OSError, ValueError) as error:
        raise ReferenceModelError(f"{MANIFEST} is unreadable: {error}") from None


def reference_path(name: str = "fast") -> Path:
    """The checkpoint file of the reference model ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in REFERENCE_RECIPES:
        raise ValueError(
            f"unknown reference model {name!r}: choose one of {sorted(REFERENCE_RECIPES)}"
        )
    return REFERENCE_DIR / f"{name}.pt"


def verify_reference(name: str = "fast") -> Path:
    """Check that the checkpoint of ``name`` is the one its manifest names; return its path.

    Raises :class:`ReferenceModelError` (one line) when the file is missing or its SHA-256
    differs from ``manifest.json``'s.
    """
    path = reference_path(name)
    entry = read_manifest().get(name)
    if entry is None:
        raise ReferenceModelError(
            f"{MANIFEST} has no entry for {name!r}: run `make reference`"
        )
    if not path.is_file():
        raise ReferenceModelError(
            f"reference model {name!r} is missing ({path}): restore it with "
            "`git checkout -- chapter3/adder/reference` or reinstall chapter3"
        )
    found = sha256_of(path)
    if found != entry["sha256"]:
        raise ReferenceModelError(
            f"reference model {name!r} ({path}) has been altered: its SHA-256 is "
            f"{found[:12]}…, the manifest expects {entry['sha256'][:12]}…; restore it with "
            "`git checkout -- chapter3/adder/reference`"
        )
    return path


def reference_adder(name: str = "fast"):
    """The committed reference model ``name`` and its training history: ``(model, history)``.

    The same weights on every machine (see the module's docstring), in eval mode; the history
    is the one of the run that trained it, on the machine named in ``manifest.json``.
    """
    path = verify_reference(name)
    expected = REFERENCE_RECIPES[name].model
    return load_checkpoint(path, expected_config=expected)


def provenance(name: str) -> dict:
    """Where and how the reference ``name`` was trained (from ``manifest.json``)."""
    verify_reference(name)
    return dict(read_manifest()[name])


# --- make reference: retrain on purpose, say what changed ------------------------------------
def _machine() -> dict:
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
    }


def _describe(model, history) -> dict:
    return {
        "steps": history.steps,
        "all_correct": history.all_correct,
        "wrong": len(history.wrong),
    }


def retrain(names=None, out_dir: Path | None = None, log=print) -> dict:
    """Retrain the reference models ``names`` (default: all), write them and the manifest.

    Prints, per model, what changed against the file it replaces: steps, sums right, the
    largest weight change and the new SHA-256. ``out_dir`` (default the package's reference
    folder) lets a test retrain into a scratch folder.
    """
    names = list(REFERENCE_RECIPES) if not names else list(names)
    for name in names:
        reference_path(name)  # an unknown name fails before any training
    out_dir = REFERENCE_DIR if out_dir is None else Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    for name in names:
        recipe = REFERENCE_RECIPES[name]
        path = out_dir / f"{name}.pt"
        old = load_checkpoint(path) if path.is_file() else None
        model, history = train(recipe, progress=False)
        with tempfile.TemporaryDirectory() as tmp:
            scratch = save_checkpoint(
                model, Path(tmp) / path.name, history, recipe=recipe.name
            )
            scratch.replace(path)
        new = _describe(model, history)
        manifest[name] = {
            "file": path.name,
            "sha256": sha256_of(path),
            "recipe": recipe.name,
            "recipe_fingerprint": recipe_fingerprint(recipe),
            **new,
            "trained_on": _machine(),
        }
        if old is None:
            log(f"{name}: new, {new['steps']} steps, {new['all_correct']}/10000 right")
            continue
        before = _describe(*old)
        drift = max(
            float((a - b).abs().max())
            for a, b in zip(
                old[0].state_dict().values(), model.state_dict().values(), strict=True
            )
        )
        changes = [
            f"{key} {before[key]} -> {new[key]}"
            for key in ("steps", "all_correct")
            if before[key] != new[key]
        ]
        log(
            f"{name}: "
            + (", ".join(changes) if changes else "same steps and score")
            + f"; largest weight change {drift:.3g}"
            + (" (identical weights)" if drift == 0 else "")
        )
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chapter3.adder.reference",
        description="Check or retrain the committed reference models of the adder.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="verify every reference checkpoint's SHA-256")
    check.add_argument("names", nargs="*", default=[])
    again = sub.add_parser("retrain", help="retrain them here and say what changed")
    again.add_argument("names", nargs="*", default=[])
    args = parser.parse_args(argv)
    names = args.names or list(REFERENCE_RECIPES)
    try:
        if args.command == "check":
            for name in names:
                model, history = reference_adder(name)
                print(
                    f"{name}: ok ({history.all_correct}/10000 right, "
                    f"{history.steps} steps)"
                )
        else:
            retrain(names)
    except (ValueError, TypeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = [
    "REFERENCE_DIR",
    "REFERENCE_RECIPES",
    "ReferenceModelError",
    "reference_adder",
    "reference_path",
    "verify_reference",
    "provenance",
    "retrain",
    "recipe_fingerprint",
]
