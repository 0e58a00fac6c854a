"""
Attention weights as heatmaps
=============================

Row *i* of an attention-weight matrix says how much query token *i* takes from every token of
the sentence; each row sums to 1. This script draws the 6×6 weights of "Your journey starts
with one step" three times, as sections 3.3, 3.4 and 3.5 compute them: with no trainable
weights, with the query and key projections of ``SelfAttention_v2``, and with the future
hidden.
"""

# %%
# The sentence and its hand-made embeddings
# -----------------------------------------
# Six tokens, three numbers each (:func:`chapter3.inputs.example_inputs`).
import matplotlib.pyplot as plt
import torch

from chapter3.heatmap import annotate_heatmap
from chapter3.inputs import INPUT_WORDS, example_inputs
from chapter3.masks import causal_attend_mask, masked_softmax
from chapter3.self_attention import SelfAttention_v2
from chapter3.simple_attention import all_attn_scores

# the printed digits do not depend on the machine's thread count
torch.set_num_threads(1)
torch.set_printoptions(precision=4, sci_mode=False)

inputs = example_inputs()  # (T=6, d_in=3)
print(inputs)

# %%
# 3.3: no trainable weights
# -------------------------
# Each token is its own query and key: the scores are the dot products of the embeddings,
# ``inputs @ inputs.T``, and a softmax over each row turns them into weights.
attn_weights_3_3 = torch.softmax(all_attn_scores(inputs), dim=-1)  # (6, 6)

# %%
# 3.4: trainable query and key projections
# ----------------------------------------
# ``SelfAttention_v2`` built right after ``torch.manual_seed(789)``, as in the chapter. Its
# projections map each 3-number embedding to a 2-number query and key; the scores are divided
# by :math:`\sqrt{d_{out}} = \sqrt{2}` before the softmax.
torch.manual_seed(789)
sa_v2 = SelfAttention_v2(d_in=3, d_out=2)
with torch.no_grad():
    queries = sa_v2.W_query(inputs)  # (6, 2)
    keys = sa_v2.W_key(inputs)  # (6, 2)
    attn_scores = queries @ keys.T  # (6, 6)
    attn_weights_3_4 = torch.softmax(attn_scores / keys.shape[-1] ** 0.5, dim=-1)
print(attn_weights_3_4)

# %%
# 3.5: causal weights
# -------------------
# The same scores with every future key hidden before the softmax
# (:func:`chapter3.masks.masked_softmax` with :func:`chapter3.masks.causal_attend_mask`): row *i*
# spreads its weight over tokens ``0..i`` only, and the first token can only look at itself.
attn_weights_3_5 = masked_softmax(
    attn_scores / keys.shape[-1] ** 0.5, causal_attend_mask(6)
)
print(attn_weights_3_5)


# %%
# The three matrices side by side
# -------------------------------
def heatmap(ax, weights, title, hidden=None):
    """Draw a (T, T) weight matrix, the tokens on both axes and every value written in."""
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(INPUT_WORDS)), INPUT_WORDS, rotation=45, ha="right")
    ax.set_yticks(range(len(INPUT_WORDS)), INPUT_WORDS)
    ax.set_xlabel("key (attended to)")
    ax.set_title(title, fontsize=10)
    # white numbers on dark cells, dark numbers on light ones; "–" marks a hidden weight
    annotate_heatmap(ax, weights, hidden=hidden)


fig, axes = plt.subplots(1, 3, figsize=(13, 4.6), layout="constrained")
heatmap(axes[0], attn_weights_3_3, "3.3 no trainable weights:\nsoftmax(x · xᵀ)")
heatmap(
    axes[1],
    attn_weights_3_4,
    "3.4 SelfAttention_v2 (seed 789):\nsoftmax(q · kᵀ / √2)",
)
heatmap(
    axes[2],
    attn_weights_3_5,
    "3.5 causal: future keys hidden\n(– = masked, weight 0)",
    hidden=~causal_attend_mask(6),
)
axes[0].set_ylabel("query (row sums to 1)")
fig.suptitle(
    'Attention weights of "Your journey starts with one step": '
    "rows are queries, columns are keys"
)
plt.show()

# %%
# What the pictures show
# ----------------------
# Without trainable weights (left) the weights follow the raw similarity of the embeddings:
# "journey" and "starts" have almost the same embedding, so they take much of each other's
# weight, and every row leans towards the tokens with long embeddings. The untrained
# projections of ``SelfAttention_v2`` (middle) squeeze each embedding into two numbers with
# small random weights, so the scores are close to each other and every row is nearly uniform,
# close to 1/6 ≈ 0.17: attention has to be *learned* before it picks anything out. The causal
# version (right) is the middle matrix with the upper triangle removed and each row
# renormalised over the keys that remain, so the first row is a single 1.00 and row *i*
# averages over about *i* + 1 tokens.
