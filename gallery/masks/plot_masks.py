"""
Masks as pictures
=================

A decoder hides two kinds of keys from each query: keys in the future, and keys that are only
padding. This script draws both masks for a small batch of four token sequences, their
combination for every sample, and then what dropout does to a causal weight matrix. In every
mask picture a dark cell means **may attend** (``True``), the convention of
:mod:`chapter3.masks`.
"""

# %%
# A padded batch
# --------------
# The toy batch of the masks page: four short sentences made of the words of "Your journey
# starts with one step" (ids 1 to 6), right-padded to length 5 with the pad id 0. A padding
# mask has one entry per token: ``True`` for a real token.
import matplotlib.pyplot as plt
import torch

from chapter3.causal import CausalAttention
from chapter3.heatmap import annotate_heatmap
from chapter3.inputs import INPUT_WORDS, example_inputs
from chapter3.masks import (
    causal_attend_mask,
    combine_attend_masks,
    masked_softmax,
    padding_attend_mask,
)

torch.set_num_threads(1)
torch.set_printoptions(precision=4, sci_mode=False)

PAD = 0
# (B=4, L=5)
tokens = torch.tensor(
    [
        [1, 2, 3, PAD, PAD],  # Your journey starts
        [5, 6, PAD, PAD, PAD],  # one step
        [1, 2, 3, 4, PAD],  # Your journey starts with
        [4, 5, 6, PAD, PAD],  # with one step
    ]
)
pad = padding_attend_mask(tokens, pad_id=PAD)  # (4, 5)
future = causal_attend_mask(tokens.shape[1])  # (5, 5)
mask = combine_attend_masks(pad, future)  # (4, 1, 5, 5)
print(pad)
print(mask.shape)

# %%
# The future mask, the padding mask, and their combination
# --------------------------------------------------------
# :func:`~chapter3.masks.combine_attend_masks` broadcasts the padding mask along the *key* axis
# (``pad[:, None, None, :]``) and ANDs it with the future mask: query *i* of sample *b* may
# attend to key *j* when *j* ≤ *i* **and** token *j* is real. The padding mask hides
# *columns*; rows of padded queries keep the keys before them, so no row is ever empty (their
# outputs are ignored by the loss anyway).
cmap = "Greys"


def label_tokens(ax, ids, axis="both"):
    names = ["PAD" if int(t) == PAD else str(int(t)) for t in ids]
    if axis in ("x", "both"):
        ax.set_xticks(range(len(names)), names)
    if axis in ("y", "both"):
        ax.set_yticks(range(len(names)), names)


fig = plt.figure(figsize=(12, 6.4), layout="constrained")
top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1])
ax_future, ax_pad = top.subplots(1, 2, width_ratios=[5, 5])

ax_future.imshow(future, cmap=cmap, vmin=0, vmax=1)
ax_future.set_title("causal_attend_mask(5): query i sees keys 0..i", fontsize=10)
ax_future.set_xlabel("key position j")
ax_future.set_ylabel("query position i")
ax_future.set_xticks(range(5))
ax_future.set_yticks(range(5))

ax_pad.imshow(pad, cmap=cmap, vmin=0, vmax=1)
ax_pad.set_title(
    f"padding_attend_mask(tokens, pad_id={PAD}): one row per sample", fontsize=10
)
ax_pad.set_xlabel("position")
ax_pad.set_yticks(range(4), [f"sample {b}" for b in range(4)])
ax_pad.set_xticks(range(5))
annotate_heatmap(ax_pad, pad, labels=tokens)  # text color follows each cell

sample_axes = bottom.subplots(1, 4)
for b, ax in enumerate(sample_axes):
    ax.imshow(mask[b, 0], cmap=cmap, vmin=0, vmax=1)
    label_tokens(ax, tokens[b])
    ax.set_title(f"combined, sample {b}", fontsize=10)
    ax.set_xlabel("key token")
sample_axes[0].set_ylabel("query token")
fig.suptitle(
    "Masks of a padded batch (dark = may attend): future mask, padding mask, "
    "and combine_attend_masks for each sample"
)
plt.show()

# %%
# Dropout on causal attention weights
# -----------------------------------
# :class:`~chapter3.causal.CausalAttention` applies dropout to its attention weights *after*
# the softmax, during training only. Built right after ``torch.manual_seed(789)``, its
# projections equal those of the chapter's ``SelfAttention_v2``, so its causal weights for
# "Your journey starts with one step" are the chapter's. Dropout with ``p = 0.5`` zeroes about
# half of the weights and doubles the others (scaling by 1 / (1 − p) keeps each weight's
# *expected* value): the rows no longer sum to 1.
inputs = example_inputs()  # (6, 3)
torch.manual_seed(789)
ca = CausalAttention(d_in=3, d_out=2, context_length=6, dropout=0.5)
with torch.no_grad():
    keys = ca.W_key(inputs)  # (6, 2)
    attn_scores = ca.W_query(inputs) @ keys.T  # (6, 6)
    # the module's own buffer: 1 = hide (float, as in the chapter); flipped: True = attend
    attend = ~ca.mask.bool()[:6, :6]
    attn_weights = masked_softmax(attn_scores / keys.shape[-1] ** 0.5, attend)
    torch.manual_seed(123)
    ca.train()  # dropout is active in training mode only
    dropped = ca.dropout(attn_weights)
print("row sums before dropout:", attn_weights.sum(dim=-1))
print("row sums after dropout: ", dropped.sum(dim=-1))
print(
    f"zeroed: {int(((dropped == 0) & attend).sum())} "
    f"of the {int(attend.sum())} visible weights"
)

# %%
# In evaluation mode (``ca.eval()``) the same dropout layer returns its input unchanged.


def weights_heatmap(ax, weights, title):
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=2 * float(attn_weights.max()))
    ax.set_xticks(range(6), INPUT_WORDS, rotation=45, ha="right")
    ax.set_yticks(range(6), INPUT_WORDS)
    ax.set_title(title, fontsize=10)
    annotate_heatmap(ax, weights, hidden=~attend, hidden_text="")  # future: blank


fig, (ax_before, ax_after) = plt.subplots(1, 2, figsize=(9, 4.4), layout="constrained")
weights_heatmap(ax_before, attn_weights, "causal weights (rows sum to 1)")
weights_heatmap(ax_after, dropped, "after Dropout(0.5), training mode")
ax_before.set_ylabel("query")
fig.suptitle(
    "What dropout does to causal attention weights: "
    "about half are zeroed, the rest doubled"
)
plt.show()

# %%
# With this seed, 9 of the 21 visible weights are zeroed (printed above). The "journey" row
# loses both of its weights, so in this training step that token's context vector is zero;
# the "Your" row keeps its single weight, doubled to 2. The row sums printed above range from
# 0 to 2: dropout makes every training step see a different, noisier mixture, and only the
# average over many steps matches the weights on the left.

# sphinx_gallery_thumbnail_number = 1
