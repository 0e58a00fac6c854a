"""
What the trained adder attends to
=================================

The reference adder (the fast recipe trained once and committed with the book, so that these
maps are the same on every machine; the previous example trains your own) answers every
held-out sum. Where does each answer digit look? This script runs the trained decoder on a
few complete equations and draws the attention weights of every layer and every head. The
rows that matter are the three that *produce* the answer: the row at ``=`` predicts the
hundreds digit, the row at the hundreds digit predicts the tens digit, and the row at the tens
digit predicts the ones digit.
"""

# %%
# The reference model and a few equations
# ----------------------------------------
# :func:`chapter3.adder.reference.reference_adder` loads the committed reference model (after
# checking its SHA-256). A model trained on another kind of CPU would be a slightly
# different one, with other maps: training amplifies rounding differences.
# :func:`chapter3.gpt.attention_maps` runs the decoder and also returns the (B, H, L, L)
# attention weights of each layer. A causal decoder's row *i* depends only on tokens
# ``0..i``, so feeding the whole correct equation at once gives, for every row, exactly what
# the model saw while it decoded that position greedily (it answers all of these right).
import matplotlib.pyplot as plt
import torch

from chapter3.adder import (
    INDEX_TO_TOKEN,
    construct_batches,
    encode_equation,
    split_strings,
)
from chapter3.adder.decoding import what_is
from chapter3.adder.reference import reference_adder
from chapter3.adder.training import FAST_RECIPE, build_data
from chapter3.gpt import attention_maps

torch.set_num_threads(1)

model, _ = reference_adder("fast")
model.eval()
equations = ["99+99=198", "50+50=100", "15+57=072", "23+41=064"]
for equation in equations:
    assert what_is(equation[:6], model) == equation, f"the model got {equation} wrong"

batch = construct_batches(torch.stack([encode_equation(e) for e in equations]))
logits, attention = attention_maps(model, batch.input, batch.padding_mask)
num_layers, num_heads = len(attention), attention[0].shape[1]
print(
    f"{num_layers} layers x {num_heads} heads, maps of shape {tuple(attention[0].shape)}"
)

# Positions of the input <BOS> a1 a0 + b1 b0 = c2 c1 c0:
# the rows at 6, 7, 8 predict c2, c1, c0.
ANSWER_ROWS = {6: "hundreds", 7: "tens", 8: "ones"}


def token_labels(ids):
    return [INDEX_TO_TOKEN[int(i)].replace("<BOS>", "BOS") for i in ids]


# %%
# Every layer and head, three equations
# -------------------------------------
# One row of panels per equation, one panel per head: row *i* of a panel is the query at
# position *i*, column *j* the key it reads, and the upper triangle is the masked future. The
# three answer rows are labelled in red with the digit they predict (``= → 1`` is the row at
# ``=``, which predicts the hundreds digit 1).
shown = equations[:3]
fig, axes = plt.subplots(
    len(shown),
    num_layers * num_heads,
    figsize=(1.75 * num_layers * num_heads, 2.0 * len(shown)),
    layout="constrained",
)
for e, equation in enumerate(shown):
    labels = token_labels(batch.input[e])
    target = token_labels(batch.target[e])
    row_labels = [
        f"{lab} → {target[i]}" if i in ANSWER_ROWS else lab
        for i, lab in enumerate(labels)
    ]
    for layer in range(num_layers):
        for head in range(num_heads):
            col = layer * num_heads + head
            ax = axes[e, col]
            ax.imshow(attention[layer][e, head], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(labels)), labels, fontsize=5)
            ax.set_yticks(
                range(len(labels)), row_labels if col == 0 else [], fontsize=6
            )
            if col == 0:
                ax.set_ylabel(equation, fontsize=9)
                for i in ANSWER_ROWS:
                    ax.get_yticklabels()[i].set_color("C3")
            for i in ANSWER_ROWS:
                ax.add_patch(
                    plt.Rectangle(
                        (-0.5, i - 0.5), len(labels), 1, fill=False, ec="C3", lw=0.8
                    )
                )
            if e == 0:
                ax.set_title(f"layer {layer}, head {head}", fontsize=8)
fig.suptitle(
    "Attention weights of the trained adder, every layer and head "
    "(rows = queries; red rows predict the answer digits)"
)
plt.show()

# %%
# Where the answer rows look, over all held-out equations
# -------------------------------------------------------
# Three equations are anecdotes. The next figure averages the three answer rows over the
# held-out test equations and sorts their weight into four groups of keys: the ones digits of
# the operands (``a0``, ``b0``), their tens digits (``a1``, ``b1``), ``=`` with the answer
# digits written so far, and the two tokens that carry no digit (``BOS`` and ``+``).
test_equations = split_strings(build_data(FAST_RECIPE).test_set)
test_batch = construct_batches(
    torch.stack([encode_equation(e) for e in test_equations])
)
_, test_attention = attention_maps(model, test_batch.input, test_batch.padding_mask)
GROUPS = {
    "ones digits a0, b0": [2, 5],
    "tens digits a1, b1": [1, 4],
    "= and answer so far": [6, 7, 8],
    "BOS and +": [0, 3],
}
# mass[row][group] = one mean weight per (layer, head), layer by layer:
# L0H0, L0H1, ..., L1H0, ...
mass = {
    row: {
        group: [
            float(test_attention[layer][:, head, row, cols].sum(-1).mean())
            for layer in range(num_layers)
            for head in range(num_heads)
        ]
        for group, cols in GROUPS.items()
    }
    for row in ANSWER_ROWS
}
heads = [f"L{layer}H{head}" for layer in range(num_layers) for head in range(num_heads)]
for row, name in ANSWER_ROWS.items():
    print(
        f"{'row predicting the ' + name + ' digit':34s}"
        + " ".join(f"{h:>5}" for h in heads)
    )
    for group in GROUPS:
        print(f"  {group:32s}" + " ".join(f"{v:5.2f}" for v in mass[row][group]))

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), layout="constrained", sharey=True)
for ax, (row, name) in zip(axes, ANSWER_ROWS.items(), strict=True):
    bottom = [0.0] * len(heads)
    for g, group in enumerate(GROUPS):
        values = mass[row][group]
        ax.bar(heads, values, bottom=bottom, color=f"C{g}", label=group)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_title(f"row predicting the {name} digit", fontsize=10)
    ax.tick_params(axis="x", labelsize=8)
axes[0].set_ylabel("mean attention weight")
axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
fig.suptitle(
    f"Where the answer rows look: mean over the {len(test_equations):,} held-out test "
    "equations"
)
plt.show()

# sphinx_gallery_start_ignore
# The paragraph below describes the table above. These checks (run at build time, not shown
# on the page) restate its claims as numbers, so that a retrained reference model that no
# longer fits the text fails the build instead of being described wrongly.
ONES, TENS = "ones digits a0, b0", "tens digits a1, b1"
layer0 = range(num_heads)  # the first num_heads entries are layer 0
layer1 = range(num_heads, 2 * num_heads)
carry_readers = [h for h in layer1 if mass[6][ONES][h] > 0.4]
print(
    "layer-1 heads whose hundreds row reads the ones positions:",
    [heads[h] for h in carry_readers],
)
ones_readers = [h for h in layer0 if mass[6][ONES][h] > 0.5]
claims = {
    "layer 0 of the ones row reads a0, b0 (mean over its heads > 0.7)": sum(
        mass[8][ONES][h] for h in layer0
    )
    / num_heads
    > 0.7,
    "no layer-0 head of the ones row gives a1, b1 more than 0.15": all(
        mass[8][TENS][h] < 0.15 for h in layer0
    ),
    "exactly one layer-0 head of the hundreds row reads a0, b0 (> 0.5), the others less "
    "than 0.2": len(ones_readers) == 1
    and all(mass[6][ONES][h] < 0.2 for h in layer0 if h not in ones_readers),
    "at least one head of the hundreds row reads a1, b1 (> 0.9)": any(
        mass[6][TENS][h] > 0.9 for h in range(len(heads))
    ),
    "at least one layer-1 head of the hundreds row reads the ones positions (> 0.4)": len(
        carry_readers
    )
    >= 1,
    "at least one head of the tens row reads a1, b1 (> 0.5)": any(
        mass[7][TENS][h] > 0.5 for h in range(len(heads))
    ),
}
print(
    "layer-0 heads whose hundreds row reads the ones digits:",
    [heads[h] for h in ones_readers],
)
for claim, holds in claims.items():
    print(f"{'holds' if holds else 'FAILS'}: {claim}")
assert all(claims.values()), (
    "the paragraph 'What the maps show about carrying' no longer describes the reference "
    "model: "
    "look at the figures and rewrite it"
)
# sphinx_gallery_end_ignore

# %%
# What the maps show about carrying
# ---------------------------------
# The ones digit of the answer needs no carry, and its row shows it: layer 0 puts most of its
# weight on the two ones digits ``a0`` and ``b0`` (the table gives each head's share), and no
# layer-0 head of that row gives the tens digits more than 0.15. The hundreds digit is 1
# exactly when the tens column overflows, and whether it overflows can depend on the carry
# out of the ones column (``50+50`` does not carry, ``45+55`` does). In layer 0 the hundreds
# row reads the tens digits ``a1``, ``b1`` (at least one head with nearly all of its weight),
# and exactly one layer-0 head, named in the printout above, reads the ones digits there
# instead (more than half of its weight; the other layer-0 heads give them less than 0.2). A
# layer-1 head of the hundreds row, also named above, puts more than 0.4 of its weight on the
# ones positions, mostly on ``b0``, where layer 0 has gathered both ones digits: the carry is
# read twice, once directly and once one layer up (:ref:`adder_frontier` follows that path).
# The tens digit needs the tens column *and* the carry, and its row mixes the tens digits with
# ``=`` and the answer written so far. What the maps cannot show is the arithmetic itself:
# attention only says where a head reads; the feed-forward layers between the attention
# layers do the adding.

# sphinx_gallery_thumbnail_number = 1
