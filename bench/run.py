"""Measurements too long for the tests: ``make bench`` runs ``python -m bench``.

This is a tool of the repository, not a part of the ``chapter3`` package (the wheel a reader
installs holds the book's code only).

Each section is a function that returns plain data; :func:`main` runs them, prints a table per
section and writes everything, with the machine, the date, the load and the command, to
``docs/_data/bench.json`` (the ablations to ``docs/_data/ablations.json``), which the book's
"Performance" and "The adder at the frontier" pages read. ``--quick`` (``make bench QUICK=1``)
runs every section at small sizes in well under a minute and writes to ``_build/bench-quick/``
instead: a smoke test of the whole pipeline, part of ``make test``, that checks the files are
written and never looks at a timing.

1. :func:`bench_attention`: causal multi-head attention at the size of the well-known
   comparison (batch 8, 1,024 tokens, width 768, 12 heads, float32, dropout 0), forward and
   forward + backward, timed with ``torch.utils.benchmark``: the wrapper of single heads,
   the chapter's :class:`~chapter3.multihead.MultiHeadAttention`, one combined QKV
   projection, einsum, fused SDPA with an explicit mask and with ``is_causal=True``, and
   :class:`torch.nn.MultiheadAttention` with and without ``need_weights``. Ratios are to the
   chapter's class, and every variant's largest output difference from it is measured in the
   same run. On a GPU (when one is present) the table is repeated in bfloat16.
2. :func:`bench_recipes`: the whole ``python -m chapter3.adder train`` command, start to saved
   checkpoint, for the original and the fast recipe, in turn, five times each;
   :func:`summarize_recipe_runs` takes the medians.
3. :func:`bench_seeds`: the fast recipe's command for ten initialisation seeds, each under
   the three :data:`CAPABILITIES` of ATen's CPU kernels, and for every run whether each of
   :data:`~chapter3.adder.heads.GENERAL_CLAIMS` holds; :func:`summarize_seed_runs` counts
   in how many runs each claim holds and how many reach 10,000/10,000.
4. ``bench_ablations()``: answer format, layers, width and heads: parameters, steps and
   time to 10,000/10,000.
5. :func:`bench_decoding`: batched greedy decoding of all 10,000 sums against the per-sum
   loop.

Timings depend on the machine and on what else runs on it: every result file records the
load average before and after.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils import benchmark

from chapter3.adder.ablations import ablation_recipes
from chapter3.adder.checkpoints import load_checkpoint
from chapter3.adder.data import all_equations
from chapter3.adder.decoding import benchmark_decoding
from chapter3.adder.heads import general_head_claims
from chapter3.adder.training import Recipe, train
from chapter3.gpt import GPTConfig, GPTDecoder, count_parameters
from chapter3.masks import causal_attend_mask
from chapter3.multihead import (
    MultiHeadAttention,
    copy_to_fused,
    copy_to_wrapper,
    masked_attention,
    to_torch_multihead,
)

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "docs" / "_data"
QUICK_DIR = ROOT / "_build" / "bench-quick"


# --- the machine -----------------------------------------------------------------------------
def machine() -> dict:
    """What the numbers were measured on: CPU, cores, threads, torch, GPU, load, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "load_average": _load(),
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def print_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Print a plain-text table with right-aligned columns."""
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


# --- section 1: multi-head attention variants ------------------------------------------------
class CombinedQKVAttention(nn.Module):
    """The chapter's multi-head attention with one (d_in → 3·d_out) projection for Q, K, V."""

    def __init__(self, d_in, d_out, context_length, num_heads):
        super().__init__()
        self.num_heads, self.head_dim, self.d_out = num_heads, d_out // num_heads, d_out
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=False)
        self.out_proj = nn.Linear(d_out, d_out)
        self.register_buffer("attend", causal_attend_mask(context_length))

    def forward(self, x):
        b, t, _ = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.num_heads, self.head_dim)
        queries, keys, values = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, T, d_head)
        attend = self.attend[:t, :t]  # (T, T), True = may attend
        context = masked_attention(queries, keys, values, attend, nn.Identity())
        context = context.transpose(1, 2).reshape(b, t, self.d_out)
        return self.out_proj(context)  # (B, T, d_out)


class EinsumAttention(nn.Module):
    """The same computation with :func:`torch.einsum` for the projections and the head split
    (one ``"btc,hdc->bhtd"`` product per projection: no ``transpose`` of activations)."""

    def __init__(self, d_in, d_out, context_length, num_heads):
        super().__init__()
        self.num_heads, self.head_dim, self.d_out = num_heads, d_out // num_heads, d_out
        self.W_query = nn.Parameter(torch.empty(d_out, d_in))
        self.W_key = nn.Parameter(torch.empty(d_out, d_in))
        self.W_value = nn.Parameter(torch.empty(d_out, d_in))
        self.out_proj = nn.Linear(d_out, d_out)
        self.register_buffer("attend", causal_attend_mask(context_length))

    def forward(self, x):
        b, t, _ = x.shape
        h, d = self.num_heads, self.head_dim

        def heads(weight):  # (B, T, d_in) → (B, H, T, d_head)
            return torch.einsum("btc,hdc->bhtd", x, weight.view(h, d, -1))

        queries, keys, values = (
            heads(self.W_query),
            heads(self.W_key),
            heads(self.W_value),
        )
        attend = self.attend[:t, :t]  # (T, T), True = may attend
        context = masked_attention(queries, keys, values, attend, nn.Identity())
        context = torch.einsum("bhtd->bthd", context)  # (B, T, H, d_head)
        return self.out_proj(context.reshape(b, t, self.d_out))


@torch.no_grad()
def attention_variants(mha: MultiHeadAttention) -> dict[str, tuple[nn.Module, object]]:
    """Every variant with ``mha``'s weights: name -> (module, call(x) -> output)."""
    wrapper = copy_to_wrapper(mha)
    combined = CombinedQKVAttention(
        mha.d_in, mha.d_out, mha.context_length, mha.num_heads
    )
    combined.qkv.weight.copy_(
        torch.cat([mha.W_query.weight, mha.W_key.weight, mha.W_value.weight])
    )
    combined.out_proj.load_state_dict(mha.out_proj.state_dict())
    einsum = EinsumAttention(mha.d_in, mha.d_out, mha.context_length, mha.num_heads)
    for name in ("W_query", "W_key", "W_value"):
        getattr(einsum, name).copy_(getattr(mha, name).weight)
    einsum.out_proj.load_state_dict(mha.out_proj.state_dict())
    fused = copy_to_fused(mha)
    reference = to_torch_multihead(mha)

    def explicit(x):  # SDPA with a boolean mask built and passed explicitly
        everything = torch.ones(
            1, 1, x.size(1), x.size(1), dtype=torch.bool, device=x.device
        )
        return fused(x, everything)  # combined with the future mask inside

    def torch_mha(need_weights):
        def call(x):
            hide = ~causal_attend_mask(x.size(1), device=x.device)  # True = hide
            return reference(x, x, x, attn_mask=hide, need_weights=need_weights)[0]

        return call

    return {
        "wrapper": (wrapper, lambda x: mha.out_proj(wrapper(x))),
        "MultiHeadAttention": (mha, mha),
        "combined QKV": (combined, combined),
        "einsum": (einsum, einsum),
        "SDPA, explicit mask": (fused, explicit),
        "SDPA, is_causal": (fused, fused),
        "nn.MultiheadAttention": (reference, torch_mha(True)),
        "nn.MultiheadAttention, no weights": (reference, torch_mha(False)),
    }


def bench_attention(
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    batch_size: int = 8,
    seq_len: int = 1024,
    d_model: int = 768,
    num_heads: int = 12,
    min_run_time: float = 2.0,
) -> list[dict]:
    """Median forward and forward+backward milliseconds of every variant, ratios to the
    chapter's class, and each variant's largest output difference from it."""
    torch.manual_seed(123)
    mha = MultiHeadAttention(d_model, d_model, seq_len, 0.0, num_heads)
    variants = attention_variants(mha)
    for module, _ in variants.values():
        # dropout is 0: the same in either mode
        module.to(device=device, dtype=dtype).train()
    x = torch.randn(batch_size, seq_len, d_model, device=device, dtype=dtype)
    with torch.no_grad():
        expected = mha(x).float()

    def timed(stmt: str, call) -> float:
        timer = benchmark.Timer(
            stmt=stmt,
            globals={"call": call, "x": x},
            num_threads=torch.get_num_threads(),
        )
        return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3

    rows = []
    for name, (module, call) in variants.items():
        with torch.no_grad():
            diff = (call(x).float() - expected).abs().max().item()

        def backward(module=module, call=call):
            module.zero_grad(set_to_none=True)
            call(x).sum().backward()

        with torch.no_grad():
            forward_ms = timed("call(x)", call)
        backward_ms = timed("call()", backward)
        rows.append(
            {
                "variant": name,
                "forward_ms": forward_ms,
                "forward_backward_ms": backward_ms,
                "max_abs_diff": diff,
            }
        )
        del backward
    base = next(r for r in rows if r["variant"] == "MultiHeadAttention")
    for row in rows:
        row["forward_ratio"] = row["forward_ms"] / base["forward_ms"]
        row["forward_backward_ratio"] = (
            row["forward_backward_ms"] / base["forward_backward_ms"]
        )
    return rows


def print_attention(result: dict) -> None:
    print_table(
        f"Causal MHA on {result['device']} ({result['dtype']}): batch "
        f"{result['batch_size']}, {result['seq_len']} tokens, width {result['d_model']}, "
        f"{result['num_heads']} heads; median ms, ratio = variant / MultiHeadAttention",
        ["variant", "forward", "ratio", "fwd+bwd", "ratio", "max|diff|"],
        [
            [
                r["variant"],
                f"{r['forward_ms']:.1f}",
                f"{r['forward_ratio']:.2f}",
                f"{r['forward_backward_ms']:.1f}",
                f"{r['forward_backward_ratio']:.2f}",
                f"{r['max_abs_diff']:.1e}",
            ]
            for r in result["rows"]
        ],
    )


# --- sections 2 and 3: the train command, recipe against recipe, seed after seed -------------
def time_train_command(
    recipe: str,
    seed: int | None = None,
    epochs: int | None = None,
    capability: str | None = None,
    claims_on: list[str] | None = None,
) -> dict:
    """Run ``python -m chapter3.adder train`` in a fresh process and time all of it.

    The clock runs from the start of the process to its exit (interpreter start-up, imports,
    data, training with its progress report, the final scoring of all 10,000 sums and the
    saved checkpoint). The scores are read back from the checkpoint. ``capability`` is one of
    :data:`CAPABILITIES` (the child's ATen kernels; ``None``: the child inherits this
    process's environment). With ``claims_on`` (a list of sums), the trained model's
    :func:`~chapter3.adder.heads.general_head_claims` on those sums are added, evaluated in
    this process before the checkpoint is deleted.
    """
    env = None if capability is None else _capability_env(capability)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "adder.pt"
        command = [sys.executable, "-m", "chapter3.adder", "train", "--recipe", recipe]
        command += ["--out", str(out)]
        if seed is not None:
            command += ["--seed", str(seed)]
        if epochs is not None:
            command += ["--epochs", str(epochs)]
        start, cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=ROOT, env=env
        )
        seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
        model, history = load_checkpoint(out)
        claims = None if claims_on is None else general_head_claims(model, claims_on)
    row = {
        "recipe": recipe,
        "seed": seed,
        "capability": capability,
        "command_seconds": seconds,
        "command_cpu_seconds": cpu,  # user + system time of the process: less load-bound
        "train_seconds": history.train_seconds,
        "steps": history.steps,
        "epochs": len(history.epoch),
        "all_correct": history.all_correct,
        "scores": history.scores,
        "wrong": [list(w) for w in history.wrong[:20]],
        "output_lines": len(done.stdout.splitlines()) + len(done.stderr.splitlines()),
    }
    if claims is not None:
        row["claims"] = claims  # claim -> whether it holds for this run's model
    return row


def _children_cpu() -> float:
    """User + system seconds of every finished child process so far (0 where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on every platform
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


RECIPE_ROUNDS = 5
"""Runs of each recipe's train command in the recipes section (one with ``--quick``)."""


def bench_recipes(quick: bool = False, rounds: int = RECIPE_ROUNDS) -> list[dict]:
    """The original and the fast recipe's train commands in turn, ``rounds`` times each.

    The order alternates (fast then original, then original then fast, ...): on a machine
    whose speed drifts, or whose first command after a long one runs slow, neither recipe
    always gets the same turn. Each row says its ``round``; :func:`summarize_recipe_runs`
    takes the medians.
    """
    epochs = 1 if quick else None
    rows = []
    for k in range(1 if quick else rounds):
        order = ("fast", "original") if k % 2 == 0 else ("original", "fast")
        for recipe in order:
            rows.append(time_train_command(recipe, epochs=epochs) | {"round": k + 1})
    return rows


def summarize_recipe_runs(rows: Sequence[dict]) -> dict:
    """Per recipe, the median whole-command seconds (and CPU seconds) of its runs, the runs'
    seconds in order, and the speed-up: the original's median over the fast one's."""
    summary = {}
    for recipe in dict.fromkeys(r["recipe"] for r in rows):
        runs = [r for r in rows if r["recipe"] == recipe]
        summary[recipe] = {
            "runs": len(runs),
            "seconds": [r["command_seconds"] for r in runs],
            "median_seconds": statistics.median(r["command_seconds"] for r in runs),
            "median_cpu_seconds": statistics.median(
                r["command_cpu_seconds"] for r in runs
            ),
            "steps": sorted({r["steps"] for r in runs}),
            "all_correct": sorted({r["all_correct"] for r in runs}),
        }
    if {"original", "fast"} <= set(summary):
        summary["speed_up"] = (
            summary["original"]["median_seconds"] / summary["fast"]["median_seconds"]
        )
    return summary


CAPABILITIES = ("native", "avx2", "default")
"""The CPU kernels the seeds section trains with: ``native`` leaves ``ATEN_CPU_CAPABILITY``
unset (the best this CPU has), the others set it, so that one machine trains as an AVX2-only
or a vector-less CPU would."""


def _capability_env(capability: str) -> dict[str, str]:
    """The environment of a child process that uses ``capability``'s ATen kernels."""
    if capability not in CAPABILITIES:
        raise ValueError(
            f"capability must be one of {CAPABILITIES}, got {capability!r}"
        )
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    if capability != "native":
        env["ATEN_CPU_CAPABILITY"] = capability
    return env


def cpu_capability_of(capability: str) -> str:
    """What ``torch.backends.cpu.get_cpu_capability()`` says in a child with ``capability``
    (``native`` is ``AVX512`` on an AVX-512 machine, ``AVX2`` on an AVX2-only one)."""
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=_capability_env(capability),
        check=True,
    )
    return done.stdout.strip()


def bench_seeds(
    quick: bool = False,
    seeds: Sequence[int] = range(10),
    capabilities: Sequence[str] = CAPABILITIES,
) -> list[dict]:
    """The fast recipe's train command for each seed under each capability, with each trained
    model's general head claims (on all 10,000 sums).

    ``quick``: the first seed, one epoch, the first two capabilities, claims on 500 sums.
    """
    seeds, capabilities = list(seeds), list(capabilities)
    epochs, sums = None, all_equations(2)
    if quick:
        seeds, capabilities, epochs, sums = seeds[:1], capabilities[:2], 1, sums[::20]
    rows = []
    for capability in capabilities:
        used = cpu_capability_of(capability)
        for seed in seeds:
            row = time_train_command(
                "fast", seed=seed, epochs=epochs, capability=capability, claims_on=sums
            )
            rows.append(row | {"cpu_capability": used, "claims_on": len(sums)})
    return rows


def summarize_seed_runs(rows: Sequence[dict]) -> dict:
    """Counts over the runs of :func:`bench_seeds`: how many reach 10,000/10,000 and how many
    each claim holds in, overall and per capability (each count a ``{"k": .., "n": ..}``)."""

    def count(test) -> dict:
        by = {}
        for r in rows:
            k, n = by.get(r["capability"], (0, 0))
            by[r["capability"]] = (k + bool(test(r)), n + 1)
        return {
            "k": sum(k for k, _ in by.values()),
            "n": len(rows),
            "by_capability": {c: {"k": k, "n": n} for c, (k, n) in by.items()},
        }

    claims = list(rows[0]["claims"]) if rows else []
    return {
        "runs": len(rows),
        "seeds": sorted({r["seed"] for r in rows}),
        "capabilities": {r["capability"]: r["cpu_capability"] for r in rows},
        "all_correct": count(lambda r: r["all_correct"] == 10_000),
        "claims": [{"claim": c} | count(lambda r, c=c: r["claims"][c]) for c in claims],
    }


# --- section 4: ablations --------------------------------------------------------------------
def run_ablation(name: str, recipe: Recipe) -> dict:
    """Train one variant (stopping when the validation part is all right) and score it."""
    start = time.perf_counter()
    model, history = train(recipe, progress=False)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "recipe": recipe.name,
        "num_layers": recipe.model.num_layers,
        "d_model": recipe.model.d_model,
        "num_heads": recipe.model.num_heads,
        "d_ff": recipe.model.d_ff,
        "reverse_answer": recipe.reverse_answer,
        "parameters": count_parameters(model),
        "steps": history.steps,
        "max_steps": recipe.epochs * -(-recipe.disjoint_sizes[0] // recipe.batch_size),
        "train_seconds": history.train_seconds,
        "seconds": seconds,
        "all_correct": history.all_correct,
        "scores": history.scores,
        "reached_all": history.all_correct == 10_000,
    }


def bench_ablations(quick: bool = False) -> list[dict]:
    return [run_ablation(name, r) for name, r in ablation_recipes(quick).items()]


# --- section 5: decoding ---------------------------------------------------------------------
def bench_decoding(quick: bool = False) -> list[dict]:
    """Batched greedy decoding of all 10,000 sums against the per-sum loop.

    The model is the fast recipe's, trained here (on the first use of this build's cache);
    with ``quick``, a tiny untrained model on 200 sums.
    """
    equations = all_equations(2)
    torch.manual_seed(0)
    if quick:
        config = GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0)
        models = {"tiny, untrained": GPTDecoder(config).eval()}
        equations, repeats = equations[::50], 1
    else:
        from chapter3.adder.checkpoints import trained_adder

        models = {"fast recipe, trained": trained_adder("fast")[0]}
        repeats = 3
    rows = []
    for name, model in models.items():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            result = benchmark_decoding(model, equations, repeats=repeats)
        finally:
            torch.set_num_threads(threads)
        rows.append({"model": name, **result})
    return rows


# --- main ------------------------------------------------------------------------------------
SECTIONS = ("attention", "recipes", "seeds", "ablations", "decoding")


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: the whole run in under a minute",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder for bench.json and ablations.json (default: {DATA_DIR.relative_to(ROOT)}"
        f", or {QUICK_DIR.relative_to(ROOT)} with --quick)",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="run only these sections (the others keep their recorded results)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=list(range(10)),
        help="initialisation seeds of the seeds section (default: 0 to 9)",
    )
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA if present")
    args = parser.parse_args(argv)
    quick = args.quick
    out = args.out or (QUICK_DIR if quick else DATA_DIR)
    bench_path, ablation_path = out / "bench.json", out / "ablations.json"
    command = "make bench QUICK=1" if quick else "make bench"
    if args.sections != list(SECTIONS) or args.seeds != list(range(10)):
        command = f"python -m bench --sections {' '.join(args.sections)}"
        if args.seeds != list(range(10)) and "seeds" in args.sections:
            command += f" --seeds {' '.join(map(str, args.seeds))}"

    results = json.loads(bench_path.read_text()) if bench_path.is_file() else {}
    results.update({"quick": quick})
    results.setdefault("sections", {})
    started = time.perf_counter()

    before = {}  # the machine (date, load average) as each section starts

    def start(section: str) -> bool:
        if section in args.sections:
            before[section] = machine()
        return section in args.sections

    def record(section: str, data, **extra) -> None:
        results["sections"][section] = {
            "machine": before[section],
            "load_average_after": _load(),
            "command": command,
            "data": data,
        } | extra
        _write(bench_path, results)

    if start("attention"):
        devices = [torch.device("cpu")]
        if torch.cuda.is_available() and not args.cpu_only:
            devices.append(torch.device("cuda"))
        size = (
            dict(batch_size=2, seq_len=32, d_model=24, num_heads=2, min_run_time=0.01)
            if quick
            else dict(batch_size=8, seq_len=1024, d_model=768, num_heads=12)
        )
        tables = []
        for device in devices:
            dtypes = [torch.float32] + (
                [torch.bfloat16] if device.type == "cuda" else []
            )
            for dtype in dtypes:
                rows = bench_attention(device, dtype, **size)
                tables.append(
                    {"device": str(device), "dtype": str(dtype).split(".")[-1]}
                    | {k: v for k, v in size.items() if k != "min_run_time"}
                    | {"rows": rows}
                )
                print_attention(tables[-1])
        record("attention", tables)

    if start("recipes"):
        rows = bench_recipes(quick)
        summary = summarize_recipe_runs(rows)
        print_table(
            "The train command, start to saved checkpoint (one process each, in turn)",
            [
                "round",
                "recipe",
                "seconds",
                "CPU s",
                "steps",
                "epochs",
                "right of 10,000",
            ],
            [
                [
                    r["round"],
                    r["recipe"],
                    f"{r['command_seconds']:.1f}",
                    f"{r['command_cpu_seconds']:.1f}",
                    r["steps"],
                    r["epochs"],
                    r["all_correct"],
                ]
                for r in rows
            ],
        )
        if "speed_up" in summary:
            print(
                f"medians: the fast command is {summary['speed_up']:.1f} times faster"
            )
        record("recipes", rows, summary=summary)

    if start("seeds"):
        rows = bench_seeds(quick, args.seeds)
        print_table(
            "The fast recipe's train command, seed by seed, under each CPU capability",
            ["seed", "kernels", "seconds", "CPU s", "steps", "right", "claims"],
            [
                [
                    r["seed"],
                    f"{r['capability']} ({r['cpu_capability']})",
                    f"{r['command_seconds']:.1f}",
                    f"{r['command_cpu_seconds']:.1f}",
                    r["steps"],
                    r["all_correct"],
                    "".join("+" if v else "-" for v in r["claims"].values()),
                ]
                for r in rows
            ],
        )
        summary = summarize_seed_runs(rows)

        def fraction(count: dict) -> str:
            by = ", ".join(
                f"{c} {v['k']}/{v['n']}" for c, v in count["by_capability"].items()
            )
            return f"{count['k']:>2} of {count['n']} ({by})"

        print(f"\n10,000/10,000: {fraction(summary['all_correct'])}")
        print("claims (column 'claims' above, in this order): holds in")
        for c in summary["claims"]:
            print(f"  {fraction(c)}: {c['claim']}")
        record("seeds", rows, summary=summary)

    if start("decoding"):
        rows = bench_decoding(quick)
        print_table(
            "Greedy decoding of every sum (1 thread; batched: best of 3)",
            ["model", "sums", "batched ms", "per-sum loop s", "speed-up", "same"],
            [
                [
                    r["model"],
                    r["equations"],
                    f"{r['batched_seconds'] * 1e3:.0f}",
                    f"{r['loop_seconds']:.1f}",
                    f"{r['speedup']:.0f}x",
                    r["same_predictions"],
                ]
                for r in rows
            ],
        )
        record("decoding", rows)

    if start("ablations"):
        rows = bench_ablations(quick)
        print_table(
            "Ablations of the fast recipe (each stops when every validation sum is right)",
            ["variant", "params", "steps", "train s", "right of 10,000"],
            [
                [
                    r["name"],
                    r["parameters"],
                    r["steps"],
                    f"{r['train_seconds']:.1f}",
                    r["all_correct"],
                ]
                for r in rows
            ],
        )
        _write(
            ablation_path,
            {
                "machine": before["ablations"],
                "load_average_after": _load(),
                "command": command,
                "quick": quick,
                "rows": rows,
            },
        )

    # The check that make test relies on: every section asked for left its results behind.
    written = json.loads(bench_path.read_text())
    missing = [
        s for s in args.sections if s != "ablations" and s not in written["sections"]
    ]
    if "ablations" in args.sections and not ablation_path.is_file():
        missing.append("ablations")
    if missing:
        raise RuntimeError(f"the bench did not record: {', '.join(missing)}")
    print(
        f"\nwrote {bench_path} and {ablation_path} "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "machine",
    "CombinedQKVAttention",
    "EinsumAttention",
    "attention_variants",
    "bench_attention",
    "time_train_command",
    "bench_recipes",
    "CAPABILITIES",
    "cpu_capability_of",
    "bench_seeds",
    "summarize_recipe_runs",
    "summarize_seed_runs",
    "run_ablation",
    "bench_ablations",
    "bench_decoding",
    "main",
]
