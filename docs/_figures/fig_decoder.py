"""Concept figures of the GPT decoder that adds: block, model, targets, training and decoding.

Sizes come from :class:`chapter3.gpt.GPTConfig` and the tokens from :mod:`chapter3.adder`,
so a change of the model's defaults or of the token layout changes the pictures.
"""

from __future__ import annotations

from fig_style import Theme, arrow, box, canvas, matrix, text

from chapter3.adder import INDEX_TO_TOKEN, PAD, construct_batches, encode_equation
from chapter3.gpt import GPTConfig

EQUATION = "15+57=072"


def _names(ids) -> list[str]:
    return [INDEX_TO_TOKEN[int(i)] for i in ids]


def decoder_block(theme: Theme):
    """One GPTDecoderBlock: masked multi-head self-attention and feed-forward, each in AddNorm."""
    c = GPTConfig()
    fig, ax = canvas(8.9, 7.6)
    cx, w = 3.2, 3.6
    steps = [
        (7.1, f"z  (B, L, D={c.d_model})", theme.box, None),
        (6.3, "dropout", theme.box, None),
        (
            5.5,
            f"masked multi-head self-attention\n{c.num_heads} heads, mask (B, 1, L, L)",
            theme.query,
            None,
        ),
        (4.65, "+", None, None),
        (4.0, "LayerNorm", theme.value, None),
        (3.2, "dropout", theme.box, None),
        (
            2.4,
            f"feed-forward  D → d_ff={c.d_ff} → D\nLinear, ReLU, dropout, Linear",
            theme.key,
            None,
        ),
        (1.55, "+", None, None),
        (0.9, "LayerNorm", theme.value, None),
    ]
    for y, label, fill, _ in steps:
        if label == "+":
            from matplotlib.patches import Circle

            ax.add_patch(
                Circle(
                    (cx, y), 0.2, facecolor="none", edgecolor=theme.fg, linewidth=1.1
                )
            )
            text(ax, cx, y, "+", theme, fontsize=13)
        else:
            box(
                ax,
                cx,
                y,
                w,
                0.55 if "\n" in label else 0.42,
                label,
                theme,
                fill=fill,
                fontsize=9,
            )
    ys = [y for y, *_ in steps]
    heights = [
        0.55 if "\n" in lab else (0.4 if lab == "+" else 0.42) for _, lab, *_ in steps
    ]
    for (y0, h0), (y1, h1) in zip(
        zip(ys, heights, strict=True),
        zip(ys[1:], heights[1:], strict=True),
        strict=False,
    ):
        arrow(ax, (cx, y0 - h0 / 2), (cx, y1 + h1 / 2), theme)
    arrow(ax, (cx, 0.9 - 0.21), (cx, 0.25), theme)
    text(ax, cx, 0.1, "(B, L, D)", theme, muted=True, fontsize=9)
    # residual connections: from the sublayer input around to the "+"
    for y_from, y_to in ((6.75, 4.65), (3.65, 1.55)):
        x_side = cx - w / 2 - 0.45
        ax.plot(
            [cx, x_side, x_side],
            [y_from, y_from, y_to],
            color=theme.accent,
            linewidth=1.3,
        )
        arrow(ax, (x_side, y_to), (cx - 0.2, y_to), theme, color=theme.accent, lw=1.3)
    text(
        ax,
        cx - w / 2 - 0.55,
        5.7,
        "residual",
        theme,
        color=theme.accent,
        rotation=90,
        fontsize=9,
    )
    text(
        ax,
        cx - w / 2 - 0.55,
        2.6,
        "residual",
        theme,
        color=theme.accent,
        rotation=90,
        fontsize=9,
    )
    # the two AddNorm wrappers
    for y_top, y_bottom, name in ((6.6, 3.75, "AddNorm 1"), (3.5, 0.6, "AddNorm 2")):
        x_side = cx + w / 2 + 0.25
        ax.plot(
            [x_side, x_side + 0.15, x_side + 0.15, x_side],
            [y_top, y_top, y_bottom, y_bottom],
            color=theme.muted,
            linewidth=1,
        )
        text(
            ax,
            x_side + 0.3,
            (y_top + y_bottom) / 2,
            f"{name}\nLayerNorm(z + sublayer(dropout(z)))",
            theme,
            muted=True,
            fontsize=8,
            ha="left",
        )
    return fig


def gpt_decoder(theme: Theme):
    """The whole decoder, left to right: embeddings and positions, blocks, LayerNorm, head."""
    from matplotlib.patches import Circle

    c = GPTConfig()
    fig, ax = canvas(12.4, 2.85)
    y, gap = 1.75, 0.38
    tokens = "".join(_names(encode_equation(EQUATION))[:-1])  # the input: all but <EOS>
    steps = [
        (1.45, tokens, None, "token ids (B, L)"),
        (
            1.5,
            f"token embedding\nV={c.vocab_size} → D={c.d_model}",
            theme.query,
            "(B, L, D)",
        ),
        (0.4, "+", None, ""),
        (0.9, "dropout", theme.box, "(B, L, D)"),
        (
            1.85,
            f"decoder block × {c.num_layers}\nmasked attention,\nfeed-forward",
            theme.key,
            "(B, L, D)",
        ),
        (1.05, "LayerNorm", theme.value, "(B, L, D)"),
        (1.25, f"linear head\nD → V={c.vocab_size}", theme.query, "(B, L, V)"),
        (0.9, "logits", None, f"{c.vocab_size} scores\nper position"),
    ]
    x = 0.15
    for k, (w, label, fill, shape) in enumerate(steps):
        cx = x + w / 2
        if label == "+":
            ax.add_patch(
                Circle(
                    (cx, y), 0.2, facecolor="none", edgecolor=theme.fg, linewidth=1.1
                )
            )
            text(ax, cx, y, "+", theme, fontsize=13)
            box(
                ax,
                cx,
                0.45,
                2.9,
                0.5,
                f"learned positions (1, {c.max_seq_len}, D)[:, :L]",
                theme,
                fill=theme.value,
                fontsize=7.5,
            )
            arrow(ax, (cx, 0.7), (cx, y - 0.2), theme)
        elif fill is None:
            family = "monospace" if k == 0 else None
            text(ax, cx, y, label, theme, fontsize=9, family=family)
        else:
            box(
                ax,
                cx,
                y,
                w,
                0.42 + 0.17 * label.count("\n"),
                label,
                theme,
                fill=fill,
                fontsize=7.5,
            )
        if shape:
            text(ax, cx, y + 0.5, shape, theme, muted=True, fontsize=8, va="bottom")
        if k < len(steps) - 1:
            arrow(ax, (x + w + 0.04, y), (x + w + gap - 0.04, y), theme)
        x += w + gap
    text(
        ax,
        12.25,
        0.45,
        "position t predicts token t + 1",
        theme,
        muted=True,
        fontsize=9,
        ha="right",
    )
    return fig


def loss_mask(theme: Theme):
    """Input, target and the four positions that carry loss, for ``15+57=072``."""
    batch = construct_batches(encode_equation(EQUATION)[None, :])
    inputs = _names(batch.input[0])
    target_ids = batch.target[0].tolist()
    targets = _names(target_ids)
    ignored = [[t == PAD for t in target_ids]]
    n = len(inputs)
    cell = 0.62
    fig, ax = canvas(1.6 + n * cell + 1.9, 3.5)
    x0 = 1.6
    matrix(
        ax,
        x0,
        2.75,
        [[0] * n],
        theme,
        cell=cell,
        fill=theme.box,
        texts=[inputs],
        fontsize=8,
        row_labels=["input"],
    )
    for j in range(n):
        arrow(
            ax,
            (x0 + (j + 0.5) * cell, 2.75 - cell - 0.05),
            (x0 + (j + 0.5) * cell, 1.62),
            theme,
            lw=0.9,
        )
    matrix(
        ax,
        x0,
        1.55,
        [[0] * n],
        theme,
        cell=cell,
        fill=theme.key,
        hidden=ignored,
        texts=[targets],
        fontsize=8,
        row_labels=["target"],
    )
    # bracket the positions that carry loss
    loss_cols = [j for j in range(n) if not ignored[0][j]]
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle(
            (x0 + loss_cols[0] * cell, 1.55 - cell),
            len(loss_cols) * cell,
            cell,
            fill=False,
            edgecolor=theme.accent,
            linewidth=2.4,
        )
    )
    for j in range(n):
        text(ax, x0 + (j + 0.5) * cell, 3.2, str(j), theme, muted=True, fontsize=8)
    text(ax, x0 - 0.1, 3.2, "position", theme, muted=True, fontsize=8, ha="right")
    text(
        ax,
        x0 + 3 * cell,
        0.6,
        "<pad>: ignored by the loss\n(operands cannot be predicted)",
        theme,
        muted=True,
        fontsize=8.5,
    )
    text(
        ax,
        x0 + (loss_cols[0] + 2) * cell,
        0.6,
        f"loss on these {len(loss_cols)} positions:\nthe sum's digits and <EOS>",
        theme,
        color=theme.accent,
        fontsize=8.5,
    )
    text(
        ax,
        x0 + n * cell + 0.15,
        2.75 - cell / 2,
        "what the\nmodel reads",
        theme,
        muted=True,
        fontsize=8,
        ha="left",
    )
    text(
        ax,
        x0 + n * cell + 0.15,
        1.55 - cell / 2,
        "what it must\npredict next",
        theme,
        muted=True,
        fontsize=8,
        ha="left",
    )
    return fig


def teacher_forcing_vs_greedy(theme: Theme):
    """Training: one pass over the true sequence. Inference: one token per pass, appended."""
    batch = construct_batches(encode_equation(EQUATION)[None, :])
    inputs = _names(batch.input[0])
    targets = _names(batch.target[0])
    n = len(inputs)
    cell = 0.5
    fig, ax = canvas(12.4, 5.0)

    # left: teacher forcing
    x0 = 0.7
    text(
        ax,
        x0 + n * cell / 2,
        4.7,
        "Training: teacher forcing",
        theme,
        fontsize=11.5,
        fontweight="bold",
    )
    text(
        ax,
        x0 + n * cell / 2,
        4.38,
        "the true prefix at every position, one forward pass",
        theme,
        muted=True,
        fontsize=9,
    )
    matrix(
        ax,
        x0,
        1.5,
        [[0] * n],
        theme,
        cell=cell,
        fill=theme.box,
        texts=[inputs],
        fontsize=6,
    )
    box(
        ax,
        x0 + n * cell / 2,
        2.35,
        n * cell,
        0.5,
        "decoder, causal mask",
        theme,
        fill=theme.query,
        fontsize=9,
    )
    for j in range(n):
        xj = x0 + (j + 0.5) * cell
        arrow(ax, (xj, 1.55), (xj, 2.08), theme, lw=0.8)
        arrow(ax, (xj, 2.62), (xj, 3.12), theme, lw=0.8)
    ignored = [[t == "<pad>" for t in targets]]
    matrix(
        ax,
        x0,
        3.7,
        [[0] * n],
        theme,
        cell=cell,
        fill=theme.key,
        hidden=ignored,
        texts=[["·" if t == "<pad>" else t for t in targets]],
        fontsize=6,
    )
    text(
        ax,
        x0 + n * cell / 2,
        0.65,
        f"{n} predictions at once; loss only on the answer (colored)",
        theme,
        muted=True,
        fontsize=8.5,
    )

    ax.plot([6.15, 6.15], [0.3, 4.9], color=theme.muted, linewidth=0.8, linestyle=":")

    # right: greedy decoding, one row per step
    x0 = 6.6
    text(
        ax,
        9.5,
        4.7,
        "Inference: greedy decoding",
        theme,
        fontsize=11.5,
        fontweight="bold",
    )
    text(
        ax,
        9.5,
        4.38,
        "the model's own tokens are appended, one pass per token",
        theme,
        muted=True,
        fontsize=9,
    )
    prompt = inputs[:7]  # <BOS> 1 5 + 5 7 =
    answer = targets[6:]  # 0 7 2 <EOS>
    for step in range(4):
        y = 3.95 - step * 0.85
        seen = prompt + answer[:step]
        texts = [seen]
        fills = theme.box
        matrix(
            ax,
            x0,
            y,
            [[0] * len(seen)],
            theme,
            cell=0.42,
            fill=fills,
            texts=texts,
            fontsize=5.6,
        )
        if step:
            from matplotlib.patches import Rectangle

            ax.add_patch(
                Rectangle(
                    (x0 + 7 * 0.42, y - 0.42),
                    step * 0.42,
                    0.42,
                    fill=False,
                    edgecolor=theme.accent,
                    linewidth=1.8,
                )
            )
        xe = x0 + len(seen) * 0.42
        arrow(ax, (xe + 0.1, y - 0.21), (xe + 0.75, y - 0.21), theme, lw=0.9)
        text(
            ax,
            xe + 0.42,
            y - 0.05,
            "arg-max",
            theme,
            muted=True,
            fontsize=7,
            va="bottom",
        )
        box(
            ax,
            xe + 1.15,
            y - 0.21,
            0.7,
            0.36,
            answer[step],
            theme,
            fill=theme.key,
            fontsize=8,
        )
    text(
        ax,
        9.5,
        0.35,
        "a wrong digit stays in the context of every later step",
        theme,
        muted=True,
        fontsize=8.5,
    )
    return fig


def kv_cache(theme: Theme):
    """Decoding with a key/value cache: each step computes q, k, v of the new token only."""
    batch = construct_batches(encode_equation(EQUATION)[None, :])
    inputs = _names(batch.input[0])
    targets = _names(batch.target[0])
    prompt, answer = inputs[:7], targets[6:9]
    cell = 0.5
    fig, ax = canvas(10.8, 5.0)
    text(
        ax,
        0.2,
        4.75,
        "The key/value cache: the past is computed once, then one token per step",
        theme,
        ha="left",
        fontsize=10.5,
        fontweight="bold",
    )
    for step in range(3):
        y = 4.15 - step * 1.25
        length = len(prompt) + step
        names = prompt + answer[:step]
        x0 = 2.0
        for row, (role, fill) in enumerate((("K", theme.key), ("V", theme.value))):
            yy = y - row * (cell + 0.05)
            matrix(
                ax,
                x0,
                yy,
                [[0] * length],
                theme,
                cell=cell,
                fill=fill,
                texts=[names],
                fontsize=5.6,
                row_labels=[f"cached {role}" if step == 0 else role],
            )
        from matplotlib.patches import Rectangle

        first = 0 if step == 0 else length - 1  # prefill computes the whole prompt
        ax.add_patch(
            Rectangle(
                (x0 + first * cell, y - 2 * cell - 0.05),
                (length - first) * cell,
                2 * cell + 0.05,
                fill=False,
                edgecolor=theme.accent,
                linewidth=2,
            )
        )
        xe = x0 + length * cell
        if step == 0:
            note = (
                f"prefill: k, v of all {length} prompt tokens at once;\n"
                f"the query of {names[-1]!r} reads them → next token {answer[step]!r}"
            )
        else:
            note = (
                f"new token {names[-1]!r}: its q, k, v only; k, v appended,\n"
                f"q reads all {length} cached keys → next token {answer[step]!r}"
            )
        text(ax, xe + 0.2, y - 0.2, note, theme, ha="left", fontsize=8.5)
    text(
        ax,
        5.0,
        0.2,
        "without the cache, every step would recompute K and V of the whole sequence",
        theme,
        muted=True,
        fontsize=8.5,
    )
    return fig
