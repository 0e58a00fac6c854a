"""The same seed on two sets of CPU kernels: the demonstration of the reproducibility page.

When PyTorch starts, it asks the CPU which vector instructions it has and picks, once for the
whole process, the matching build of its element-wise and reduction kernels: AVX-512 or AVX2
on x86, or a baseline (``default``) that runs on any CPU (plain scalar code on x86). The
environment variable ``ATEN_CPU_CAPABILITY`` lowers that choice, so one machine can stand in
for another. It is read at start-up only, which is why each run of
:func:`train_in_subprocess` is a fresh Python process.

:func:`train_in_subprocess` trains a recipe from its fixed seed in such a process and returns a
:class:`Run` (the capability the child reported, its weights and answers);
:func:`compare_runs` says how far two runs ended up apart. :data:`ONE_MACHINE` records what
longer runs did on the machine that trained the reference models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from chapter3.adder.reference import REFERENCE_RECIPES
from chapter3.adder.training import FAST_RECIPE

DEMO_RECIPE = dataclasses.replace(
    FAST_RECIPE, name="fast-1-epoch", epochs=1, extra_epochs=0
)
"""The fast recipe cut to its first epoch (184 steps): a second or two of training."""

CHILD_RECIPES = {"fast-1-epoch": DEMO_RECIPE, **REFERENCE_RECIPES}
"""The recipes a child process can train, by name."""

ONE_MACHINE = {
    "machine": "x86_64, AVX-512, torch 2.13.0+cpu, 2026-12-04",
    # recipe -> ATEN_CPU_CAPABILITY (None: PyTorch's own choice) -> (steps, sums right)
    "fast": {None: (1413, 10000), "avx2": (1385, 10000), "default": (1301, 9999)},
    "early": {None: (736, 9799), "avx2": (736, 9999), "default": (736, 9984)},
}
"""What the full fast recipe and the half-trained ``early`` run did under each capability on
the machine that trained the reference models, with the book's code of that date (a record of
a measurement: the runs with the machine's own kernels are the reference models). The code
has since moved the attention's softmax and the optimizer to faster kernels that round
differently, so today it trains other models there, as another CPU would."""

_CHILD = (
    "import sys; from chapter3.cpu_demo import _child; _child(sys.argv[1], sys.argv[2])"
)


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run in a child process."""

    requested: str | None  # ATEN_CPU_CAPABILITY given to the child (None: inherited)
    capability: str  # what torch.backends.cpu.get_cpu_capability() said in the child
    torch_version: str
    steps: int
    train_loss: float  # mean loss of the last epoch
    all_correct: int  # of the 10,000 sums
    wrong: dict[str, str]  # expected equation -> the model's answer, for the wrong ones
    state_dict: dict[str, torch.Tensor]
    seconds: float  # the child's whole life, imports included

    @property
    def weights_sha256(self) -> str:
        """A hash of every weight's bytes: equal hashes mean bitwise identical weights."""
        return weights_sha256(self.state_dict)

    def answer(self, equation: str) -> str:
        """The model's answer to ``equation`` (an equation string such as ``"15+57=072"``)."""
        return self.wrong.get(equation, equation)


@dataclasses.dataclass(frozen=True)
class RunComparison:
    """How far two runs of the same recipe and seed ended up apart."""

    identical: bool  # every weight bitwise equal
    largest_weight_difference: float  # max |a - b| over all weights
    # how many of the 10,000 sums the two models answer differently
    answered_differently: int


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a state dict's names and tensor bytes, in order.

    >>> import torch
    >>> from chapter3.cpu_demo import weights_sha256
    >>> a = {"w": torch.zeros(3)}
    >>> weights_sha256(a) == weights_sha256({"w": torch.zeros(3)})
    True
    >>> weights_sha256(a) == weights_sha256({"w": torch.tensor([0.0, 0.0, 1e-30])})
    False
    """
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _child(recipe_name: str, out: str) -> None:
    """Runs in the child process: train ``recipe_name``, save what :class:`Run` needs."""
    from chapter3.adder.training import train

    model, history = train(CHILD_RECIPES[recipe_name], progress=False)
    torch.save(
        {
            "capability": torch.backends.cpu.get_cpu_capability(),
            "torch_version": str(torch.__version__),
            "steps": history.steps,
            "train_loss": float(history.train_loss[-1]),
            "all_correct": history.all_correct,
            "wrong": [list(pair) for pair in history.wrong],
            "state_dict": model.state_dict(),
        },
        out,
    )


def train_in_subprocess(
    capability: str | None = None, recipe: str = "fast-1-epoch", timeout: float = 600
) -> Run:
    """Train ``recipe`` (a name of :data:`CHILD_RECIPES`) from its seed in a new process.

    ``capability`` sets ``ATEN_CPU_CAPABILITY`` in the child (``"default"``, ``"avx2"``,
    ``"avx512"``, ...); ``None`` passes the environment on unchanged, so the child uses the
    kernels PyTorch picks here (or the ones this process was told to use).
    """
    if recipe not in CHILD_RECIPES:
        raise ValueError(
            f"unknown recipe {recipe!r}: choose one of {sorted(CHILD_RECIPES)}"
        )
    if capability is not None and (not isinstance(capability, str) or not capability):
        raise ValueError(
            f"capability must be a non-empty str or None, got {capability!r}"
        )
    env = dict(os.environ)
    if capability is not None:
        env["ATEN_CPU_CAPABILITY"] = capability
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.pt"
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, recipe, str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(
                f"the training process failed ({done.returncode}): {last}"
            )
        data = torch.load(out, weights_only=True)
    return Run(
        requested=capability,
        capability=data["capability"],
        torch_version=data["torch_version"],
        steps=data["steps"],
        train_loss=data["train_loss"],
        all_correct=data["all_correct"],
        wrong={expected: got for expected, got in data["wrong"]},
        state_dict=data["state_dict"],
        seconds=seconds,
    )


def compare_runs(a: Run, b: Run) -> RunComparison:
    """Bitwise equality, the largest weight difference and the sums answered differently."""
    if list(a.state_dict) != list(b.state_dict):
        raise ValueError("the two runs trained models with different parameters")
    largest = max(
        float((x.double() - y.double()).abs().max())
        for x, y in zip(a.state_dict.values(), b.state_dict.values(), strict=True)
    )
    identical = all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict.values(), b.state_dict.values(), strict=True)
    )
    suspects = set(a.wrong) | set(b.wrong)  # a sum both get right has the same answer
    differently = sum(a.answer(e) != b.answer(e) for e in suspects)
    return RunComparison(identical, largest, differently)


__all__ = [
    "CHILD_RECIPES",
    "DEMO_RECIPE",
    "ONE_MACHINE",
    "Run",
    "RunComparison",
    "compare_runs",
    "train_in_subprocess",
    "weights_sha256",
]
