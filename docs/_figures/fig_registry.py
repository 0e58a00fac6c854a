"""Every concept figure of the book: its name, the function that draws it, alt text, caption.

``docs/_ext/concept_figures.py`` draws each entry in both themes at build time; a page shows
one with ``{concept-figure} name``. Alt text says what the figure shows, for a reader who
cannot see it; the caption says why it is there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import fig_attention as attention
import fig_causal as causal
import fig_decoder as decoder
import fig_masks as masks
import fig_multihead as multihead
import fig_overview as overview


@dataclass(frozen=True)
class ConceptFigure:
    name: str
    draw: Callable
    page: str  # the docname that shows it
    alt: str
    caption: str


FIGURES = [
    ConceptFigure(
        "book-map",
        overview.book_map,
        "index",
        "Five boxes in a row, 3.3 self-attention, 3.4 trainable weights, 3.5 causal "
        "attention, 3.6 multi-head attention and the GPT decoder, each built on the one "
        "before; below, the tokens of '<BOS>15+57=' go into the trained decoder, which "
        "answers 0, 7, 2 and <EOS>.",
        "Read the top row left to right: each section adds one idea to attention, and the "
        "decoder stacks them. The bottom row is what the finished model does.",
    ),
    ConceptFigure(
        "simple-context",
        attention.simple_context,
        "ch3_3_simple_self_attention",
        "The six input embeddings, with the row of 'journey' highlighted as the query; "
        "arrows lead to its six dot-product scores, to the six softmax weights that sum to "
        "1, and to the context vector z(2), the weighted sum of the inputs.",
        "One query, three steps. Follow the outlined row, 'journey': its dot product with "
        "every input gives six scores, the softmax turns them into six weights that sum "
        "to 1, and the weighted sum of all six inputs is its context vector z(2).",
    ),
    ConceptFigure(
        "attention-matrix",
        attention.attention_matrix,
        "ch3_3_simple_self_attention",
        "The 6-by-6 matrix of scores inputs @ inputs.T, its row-wise softmax, a 6-by-6 "
        "matrix of attention weights whose rows sum to 1, times the 6-by-3 inputs, giving "
        "six context vectors; the row of 'journey' is outlined in all three.",
        "The same three steps for all six queries at once. The outlined row is the one "
        "query of the figure above; the matrix form computes nothing new.",
    ),
    ConceptFigure(
        "qkv-projection",
        attention.qkv_projection,
        "ch3_4_trainable_weights",
        "The 3-number embedding of 'journey' multiplied by three 3-by-2 weight matrices, "
        "W_query, W_key and W_value, side by side, giving its 2-number query, key and "
        "value vectors.",
        "One token, three roles. The same input x(2) times three different weight "
        "matrices gives its query, key and value; training changes the three matrices. "
        "The numbers are those the page computes below.",
    ),
    ConceptFigure(
        "qkv-context",
        attention.qkv_context,
        "ch3_4_trainable_weights",
        "The query of 'journey' is dotted with the six keys to give six scores; the scores "
        "divided by the square root of 2 go through a softmax to give six weights, which "
        "weight the six value vectors into the 2-number context vector z(2).",
        "Scores, scaled softmax and context vector for the query q(2): the same three "
        "steps as in 3.3, now on projected queries, keys and values.",
    ),
    ConceptFigure(
        "causal-renorm",
        causal.causal_renormalise,
        "ch3_5_causal_attention",
        "Three 6-by-6 grids of attention weights, each with a column of row sums: the "
        "weights of 3.4, where every row sums to 1; the same weights with the upper "
        "triangle set to zero, whose rows sum to less than 1; and the rows divided by "
        "their sums, which sum to 1 again.",
        "Causal attention in one picture. Look at the gray upper triangle: a query may not "
        "use keys that come after it. Zeroing them breaks the row sums (Σ); dividing each "
        "row by its sum repairs them.",
    ),
    ConceptFigure(
        "causal-mask",
        causal.causal_mask,
        "ch3_5_causal_attention",
        "Two 6-by-6 grids over the words of the sentence: the lower triangle torch.tril "
        "with ones where a query may look, and the strict upper triangle torch.triu with "
        "True where a key is in the query's future and must be hidden.",
        "The causal mask in the two forms the two routes use: 1 = keep for route 1, "
        "True = hide for route 2. Row i sees keys 0 to i.",
    ),
    ConceptFigure(
        "two-routes",
        causal.two_routes,
        "ch3_5_causal_attention",
        "Two rows of three heatmaps. Route 1: the softmax weights, the weights with the "
        "future set to zero, and the rows renormalised. Route 2: the raw scores, the "
        "scores with minus infinity above the diagonal, and one softmax. Both rows end in "
        "the same causal weights.",
        "The two routes of 3.5 on the chapter's numbers: zeroing the future after the "
        "softmax and renormalising gives exactly the weights of a softmax over scores "
        "with −∞ in the future.",
    ),
    ConceptFigure(
        "dropout-weights",
        causal.dropout_weights,
        "ch3_5_causal_attention",
        "The 6-by-6 causal weights, times a random dropout mask whose cells are 0 or 2, "
        "give weights in which about half of the entries are zero and the rest doubled; "
        "the row sums range from 0 to 2.",
        "Dropout with p = 0.5 on the causal weights (seed 123): dropped weights become "
        "0, kept ones are scaled by 1/(1 − p) = 2, so rows no longer sum to 1.",
    ),
    ConceptFigure(
        "heads-concat",
        multihead.heads_concat,
        "ch3_6_multi_head",
        "The 6-by-3 inputs go to two causal attention heads, each with its own query, key "
        "and value weights; each head gives a 6-by-2 output, and the two outputs are "
        "placed side by side as a 6-by-4 matrix of context vectors.",
        "Multi-head attention: several heads read the same input, each with its own "
        "weights, and their outputs are joined side by side. The colours show which "
        "columns come from which head.",
    ),
    ConceptFigure(
        "wrapper-vs-split",
        multihead.wrapper_vs_split,
        "ch3_6_multi_head",
        "Left: the wrapper runs two independent heads, each with its own query, key and "
        "value weights and its own attention, and concatenates their outputs. Right: "
        "MultiHeadAttention projects once to the full width, splits the result into "
        "per-head slices, runs all heads in one batched product, joins them and applies "
        "an output projection.",
        "Two ways to build multi-head attention: heads side by side and concatenated "
        "(the wrapper), or one projection split into heads (MultiHeadAttention).",
    ),
    ConceptFigure(
        "split-heads",
        multihead.split_heads_shapes,
        "ch3_6_multi_head",
        "The chapter's tensor in three shapes: a 3-by-8 matrix (B, T, d_out) whose first "
        "four columns belong to head 0 and last four to head 1; after view, each token "
        "holds one row per head (B, T, H, head_dim); after transpose, one 3-by-4 matrix "
        "per head (B, H, T, head_dim).",
        "Splitting heads with view and transpose, on the chapter's (1, 2, 3, 4) "
        "example: view cuts the last axis into heads, transpose(1, 2) puts the head "
        "axis in front of the tokens.",
    ),
    ConceptFigure(
        "combine-masks",
        masks.combine_masks,
        "masks",
        "A padding mask for tokens 5, 7, 9, PAD, PAD is broadcast into a 5-by-5 grid "
        "that hides the two PAD columns; combined with the lower-triangular future mask "
        "by AND, it gives the mask where each query sees earlier real tokens only.",
        "Padding mask and future mask combined: the padding mask hides key columns, the "
        "future mask hides the upper triangle, AND keeps what both allow.",
    ),
    ConceptFigure(
        "mask-conventions",
        masks.mask_conventions,
        "masks",
        "The same 4-by-4 causal mask three times: as booleans where True means the key "
        "may be attended, as booleans where True means the key is hidden, and as a float "
        "mask of zeros and minus infinity that is added to the scores.",
        "One causal mask, three conventions. Which one a function expects decides "
        "whether a mask must be inverted before it is passed on.",
    ),
    ConceptFigure(
        "decoder-block",
        decoder.decoder_block,
        "gpt_decoder",
        "A vertical flow: the input z goes through dropout and masked multi-head "
        "self-attention, is added to a residual copy of z and layer-normalised; then "
        "dropout, the feed-forward network, another residual addition and layer norm.",
        "One decoder block with its shapes: two sublayers, each wrapped in AddNorm "
        "(post-norm: LayerNorm after the residual addition).",
    ),
    ConceptFigure(
        "gpt-decoder",
        decoder.gpt_decoder,
        "gpt_decoder",
        "A left-to-right flow from the token ids of '<BOS>15+57=072' through the token "
        "embedding, the addition of learned positions, dropout, two decoder blocks, a "
        "final layer norm and a linear head, to logits of shape (B, L, V).",
        "The whole decoder, read from left to right: token ids become vectors, learned "
        "positions are added, two decoder blocks mix them with attention, and the head "
        "gives one score per vocabulary token at every position (logits, B, L, V).",
    ),
    ConceptFigure(
        "loss-mask",
        decoder.loss_mask,
        "addition_data",
        "The input tokens '<BOS> 1 5 + 5 7 = 0 7 2' above their targets '1 5 + 5 7 = 0 7 "
        "2 <EOS>'; the first six targets are replaced by <pad> and ignored, and the last "
        "four, the sum's digits and <EOS>, are outlined as the positions that carry loss.",
        "Input and target of 15+57=072: the target is the input shifted by one, and only "
        "the answer positions carry loss.",
    ),
    ConceptFigure(
        "teacher-forcing",
        decoder.teacher_forcing_vs_greedy,
        "training_adder",
        "Left: in training, the ten true input tokens go through the decoder at once and "
        "ten next tokens are predicted in parallel, with loss on the last four. Right: in "
        "inference, the prompt '<BOS>15+57=' is extended one predicted token at a time, "
        "0, 7, 2 and <EOS>, each appended before the next pass.",
        "Teacher forcing against greedy decoding: training sees the true prefix at every "
        "position in one pass; inference appends its own tokens, one pass per token.",
    ),
    ConceptFigure(
        "kv-cache",
        decoder.kv_cache,
        "inference_results",
        "Three decoding steps with a growing row of cached keys and values: the first "
        "step computes the keys and values of all seven prompt tokens, each later step "
        "adds those of the one new token, whose query reads every cached key.",
        "The key/value cache: past keys and values are kept, so each step computes the "
        "projections of the new token only.",
    ),
]

BY_NAME = {figure.name: figure for figure in FIGURES}
