"""
Four multi-head attentions, one function
========================================

Section 3.6 builds multi-head attention twice: as a wrapper of independent causal heads, and
as one module that computes every head in a single batched product. This script puts both next
to a fused variant on :func:`torch.nn.functional.scaled_dot_product_attention` and next to
PyTorch's own :class:`torch.nn.MultiheadAttention`, copies one set of weights into all of them,
checks that they compute the same numbers, and times one forward pass of each at a small size.
"""

# %%
# One set of weights, four modules
# --------------------------------
# :class:`~chapter3.multihead.MultiHeadAttention` is the reference. The fused variant and
# PyTorch's module get its weights through :func:`~chapter3.multihead.copy_to_fused` and
# :func:`~chapter3.multihead.to_torch_multihead`, the wrapper through
# :func:`~chapter3.multihead.copy_to_wrapper`. Dropout is 0 and every module is in
# evaluation mode, so the outputs are deterministic.
import time

import matplotlib.pyplot as plt
import torch

from chapter3.masks import causal_attend_mask
from chapter3.multihead import (
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    copy_to_fused,
    copy_to_wrapper,
    to_torch_multihead,
)

torch.set_num_threads(1)  # timings of one core; the outputs do not depend on it

batch, num_tokens, d_model, num_heads = 8, 64, 64, 4
head_dim = d_model // num_heads

torch.manual_seed(123)
x = torch.rand(batch, num_tokens, d_model)  # (B, T, d_model)
mha = MultiHeadAttention(
    d_model, d_model, num_tokens, dropout=0.0, num_heads=num_heads
).eval()
fused = copy_to_fused(mha).eval()
torch_mha = to_torch_multihead(mha).eval()
# nn.MultiheadAttention: True = HIDE (the opposite!)
hide_future = ~causal_attend_mask(num_tokens)

# %%
# The wrapper has one :class:`~chapter3.causal.CausalAttention` per head and no output
# projection: it returns the heads side by side. :func:`~chapter3.multihead.copy_to_wrapper`
# copies head *h*'s slice of the reference's projections into head *h* of a new wrapper; the
# reference's ``out_proj`` applied to the wrapper's output must then give the reference's output.
wrapper = copy_to_wrapper(mha).eval()
assert isinstance(wrapper, MultiHeadAttentionWrapper)
assert [head.d_out for head in wrapper.heads] == [head_dim] * num_heads

variants = {
    "MultiHeadAttention\n(chapter, batched)": lambda: mha(x),
    "MultiHeadAttentionWrapper\n+ mha.out_proj": lambda: mha.out_proj(wrapper(x)),
    "FusedMultiHeadAttention\n(SDPA)": lambda: fused(x),
    "nn.MultiheadAttention\n(PyTorch)": lambda: torch_mha(
        x, x, x, attn_mask=hide_future, need_weights=False
    )[0],
}

# %%
# Equal outputs
# -------------
# The largest absolute difference from the reference, for each module. Float32 sums in a
# different order differ in the last bits, so "equal" means within ``1e-6`` here, not
# bit-identical.
with torch.no_grad():
    reference = mha(x)  # (B, T, d_model)
    for name, forward in variants.items():
        out = forward()
        diff = (out - reference).abs().max().item()
        label = name.replace("\n", " ")
        equal = torch.allclose(out, reference, atol=1e-6)
        print(f"{label:45s} max |diff| = {diff:.1e}  equal: {equal}")
        assert equal, label


# %%
# Forward time
# ------------
# The median of 30 timed calls after 5 warm-up calls, on one CPU thread, without gradients.
# These are numbers of one small shape on whatever machine built this page, shared with other
# work: read them as a rough comparison, not as a benchmark. ``make bench`` measures the
# variants at full size, with repeats and on a GPU when there is one.
def median_ms(forward, repeats=30, warmup=5):
    with torch.no_grad():
        for _ in range(warmup):
            forward()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            forward()
            times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


timings = {name: median_ms(forward) for name, forward in variants.items()}
for name, ms in timings.items():
    print(f"{name.replace(chr(10), ' '):45s} {ms:.3f} ms")
fused_name, mha_name = list(timings)[2], list(timings)[0]
print(f"fused / chapter module: {timings[fused_name] / timings[mha_name]:.2f}")

fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
names = list(timings)
bars = ax.barh(names, [timings[n] for n in names], color=["C0", "C1", "C2", "C3"])
ax.bar_label(bars, fmt="%.2f ms", padding=3)
ax.invert_yaxis()
ax.set_xlabel("median forward time (ms), one CPU thread")
ax.set_xlim(0, max(timings.values()) * 1.3)
ax.set_title(
    "Forward time of four multi-head attentions that compute the same function\n"
    f"(B={batch}, T={num_tokens}, d={d_model}, {num_heads} heads, causal)",
    fontsize=10,
)
plt.show()

# %%
# Reading the chart
# -----------------
# All four compute the same function, so the bars only compare how they compute it. The
# wrapper runs one small chain of matrix products per head, one head after another; the
# chapter's module does every head in one batched product, but writes out the (B, H, T, T)
# scores, the masked scores and the weights as separate tensors; the fused module hands the
# scaling, the causal mask, the softmax and the weighted sum to one SDPA call, which never
# stores the masked scores. When this script was written, the fused module took about a third
# of the chapter module's time on this small shape, and the wrapper and the chapter module
# swapped places from run to run: at this size, the fixed cost of each Python call and each
# small kernel is a large part of the total. The bars above are this build's own run; the
# gaps say little about large models, which ``make bench`` measures at full size.
