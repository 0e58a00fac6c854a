"""Measurements too long for the tests: ``make bench`` runs ``python -m chapter3.bench``.

Sections (each a function called by :func:`main`; add new ones below the last):

1. **Multi-head attention variants** at GPT-2 size (d 768, 12 heads, context 1024): forward
   time of the wrapper of 12 single heads, :class:`~chapter3.multihead.MultiHeadAttention`,
   the fused SDPA variant and :class:`torch.nn.MultiheadAttention`, on CPU and on CUDA when
   present, for a few sequence lengths.

2. **The adder's decoding** (:func:`bench_decoding_section`): batched greedy
   decoding of the 1,000 test equations, with and without the key/value cache, against seed
   003's one-equation-at-a-time loop, for the fast recipe's trained adder and a model
   of the notebook's size.

Timings depend on the machine and on what else runs on it; read them as ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch

from chapter3.adder.checkpoints import trained_adder
from chapter3.adder.data import disjoint_split
from chapter3.adder.decoding import benchmark_decoding
from chapter3.adder.training import FAST_RECIPE
from chapter3.gpt import GPTConfig, GPTDecoder
from chapter3.masks import causal_attend_mask
from chapter3.multihead import (
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    copy_to_fused,
    to_torch_multihead,
)


def time_call(
    fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 2
) -> float:
    """Median wall-clock milliseconds of ``fn()`` over ``repeats`` runs (after ``warmup``)."""

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


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


# --- section 1: multi-head attention variants -------------------------------------------------


def bench_attention(
    device: torch.device,
    d_model: int = 768,
    num_heads: int = 12,
    context_length: int = 1024,
    batch_size: int = 2,
    seq_lens: Sequence[int] = (128, 256, 512, 1024),
    repeats: int = 5,
) -> list[list[object]]:
    """Forward time (ms) of the four causal MHA variants, same weights, eval mode, no grad."""
    torch.manual_seed(123)
    mha = MultiHeadAttention(d_model, d_model, context_length, 0.0, num_heads)
    wrapper = MultiHeadAttentionWrapper(
        d_model, d_model // num_heads, context_length, 0.0, num_heads
    )
    fused = copy_to_fused(mha)
    reference = to_torch_multihead(mha)
    modules = {
        "wrapper": wrapper,
        "MultiHeadAttention": mha,
        "fused SDPA": fused,
        "nn.MultiheadAttention": reference,
    }
    for module in modules.values():
        module.to(device).eval()

    rows = []
    with torch.no_grad():
        for seq_len in seq_lens:
            x = torch.randn(batch_size, seq_len, d_model, device=device)
            hide = ~causal_attend_mask(
                seq_len, device=device
            )  # nn.MultiheadAttention: True = hide
            error = (fused(x) - mha(x)).abs().max().item()
            calls = {
                "wrapper": lambda x=x: wrapper(x),
                "MultiHeadAttention": lambda x=x: mha(x),
                "fused SDPA": lambda x=x: fused(x),
                "nn.MultiheadAttention": lambda x=x, hide=hide: reference(
                    x, x, x, attn_mask=hide, need_weights=False
                ),
            }
            times = {
                name: time_call(call, device, repeats) for name, call in calls.items()
            }
            speedup = times["MultiHeadAttention"] / times["fused SDPA"]
            rows.append(
                [seq_len]
                + [f"{times[name]:.2f}" for name in modules]
                + [f"{speedup:.2f}x", f"{error:.1e}"]
            )
    print_table(
        f"Causal MHA forward, ms (median of {repeats}) on {device}: d={d_model}, "
        f"{num_heads} heads, batch {batch_size}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads",
        ["T", *modules, "MHA/fused", "max|fused-MHA|"],
        rows,
    )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument(
        "--seq-lens", type=int, nargs="+", default=[128, 256, 512, 1024]
    )
    parser.add_argument(
        "--cpu-only", action="store_true", help="skip CUDA even if present"
    )
    args = parser.parse_args(argv)

    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.cpu_only:
        devices.append(torch.device("cuda"))

    # Section 1: multi-head attention variants.
    for device in devices:
        if args.tiny:
            bench_attention(
                device,
                d_model=8,
                num_heads=2,
                context_length=16,
                batch_size=2,
                seq_lens=(4, 16),
                repeats=1,
            )
        else:
            bench_attention(
                device,
                batch_size=args.batch_size,
                seq_lens=args.seq_lens,
                repeats=args.repeats,
            )

    # Section 2: the adder's batched greedy decoding against the per-equation loop.
    bench_decoding_section(tiny=args.tiny)

    # Later sections go here, each in its own function.


if __name__ == "__main__":
    main()


def bench_decoding_section(tiny: bool = False) -> list[dict]:
    """``make bench`` section: batched greedy decoding against the per-equation loop.

    Two models: the fast recipe's trained adder (from
    :func:`chapter3.adder.checkpoints.trained_adder`,
    trained on first use) and a model of the notebook's size (d_model 128) with its initial
    weights, whose timings are what matter here (its predictions are compared, not scored).
    With ``tiny``, a tiny untrained model and 50 equations: a smoke test.
    """
    test = disjoint_split(2, FAST_RECIPE.disjoint_sizes, FAST_RECIPE.split_seed)[2]
    torch.manual_seed(0)
    if tiny:
        tiny_config = GPTConfig(
            d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0
        )
        models = {"tiny, untrained": GPTDecoder(tiny_config)}
        test, repeats = test[:50], 1
    else:
        models = {
            "fast recipe, trained": trained_adder("fast")[0],
            "notebook size (d_model 128), untrained": GPTDecoder(GPTConfig()),
        }
        repeats = 3
    rows = []
    print(
        f"\nAdder decoding of {len(test)} test equations "
        f"({torch.get_num_threads()} threads; best of {repeats} for the batched paths)"
    )
    header = f"{'model':<36} {'batched+cache':>14} {'batched':>9} {'loop':>8} {'speed-up':>9} same"
    print(header)
    print("-" * len(header))
    for name, model in models.items():
        result = benchmark_decoding(model, test, repeats=repeats)
        rows.append({"model": name, **result})
        cached_ms = result["batched_seconds"] * 1e3
        uncached_ms = result["batched_no_cache_seconds"] * 1e3
        print(
            f"{name:<36} {cached_ms:>11.1f} ms {uncached_ms:>6.1f} ms "
            f"{result['loop_seconds']:>6.2f} s {result['speedup']:>8.0f}x "
            f"{result['same_predictions']}"
        )
    return rows
