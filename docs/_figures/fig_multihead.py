"""Concept figures of section 3.6: two ways to build multi-head attention, and the shapes.

The shape figure uses the chapter's own (1, 2, 3, 4) tensor of "One batched matmul, many
heads", so its numbers are those the page prints.
"""

from __future__ import annotations

import torch
from fig_style import Theme, arrow, box, canvas, matrix, text

# The chapter's example: one sample, two heads of three tokens and four features each.
# (B=1, H=2, T=3, head_dim=4)
CHAPTER_A = torch.tensor(
    [
        [
            [
                [0.2745, 0.6584, 0.2775, 0.8573],
                [0.8993, 0.0390, 0.9268, 0.7388],
                [0.7179, 0.7058, 0.9156, 0.4340],
            ],
            [
                [0.0772, 0.3565, 0.1479, 0.5331],
                [0.4066, 0.2318, 0.4545, 0.9737],
                [0.4606, 0.5159, 0.4220, 0.5786],
            ],
        ]
    ]
)


def wrapper_vs_split(theme: Theme):
    """Left: independent heads side by side, concatenated. Right: one projection, split."""
    fig, ax = canvas(11.2, 6.4)
    head_fill = [theme.query, theme.key]

    # left: MultiHeadAttentionWrapper
    text(
        ax,
        2.6,
        6.1,
        "MultiHeadAttentionWrapper",
        theme,
        fontsize=11.5,
        fontweight="bold",
    )
    text(
        ax,
        2.6,
        5.78,
        "H independent CausalAttention heads",
        theme,
        muted=True,
        fontsize=9,
    )
    box(ax, 2.6, 5.2, 3.2, 0.45, "x  (B, T, d_in)", theme)
    for h, cx in enumerate((1.45, 3.75)):
        arrow(ax, (2.6 + (cx - 2.6) * 0.4, 4.97), (cx, 4.55), theme)
        box(
            ax,
            cx,
            4.3,
            2.0,
            0.45,
            f"head {h + 1}: W_q, W_k, W_v",
            theme,
            fill=head_fill[h],
            fontsize=7.5,
        )
        text(ax, cx, 3.88, "d_in → d_out each", theme, muted=True, fontsize=8)
        arrow(ax, (cx, 3.72), (cx, 3.4), theme)
        box(
            ax,
            cx,
            3.15,
            2.0,
            0.45,
            "causal attention",
            theme,
            fill=head_fill[h],
            fontsize=8.5,
        )
        arrow(ax, (cx, 2.92), (cx, 2.55), theme)
        box(
            ax,
            cx,
            2.3,
            2.0,
            0.45,
            "(B, T, d_out)",
            theme,
            fill=head_fill[h],
            fontsize=8.5,
        )
        arrow(ax, (cx, 2.07), (2.6 + (cx - 2.6) * 0.4, 1.62), theme)
    box(ax, 2.6, 1.35, 3.2, 0.5, "torch.cat(…, dim=-1)", theme, fontsize=9.5)
    arrow(ax, (2.6, 1.1), (2.6, 0.8), theme)
    # the output: the heads' columns side by side
    for h in range(2):
        box(
            ax,
            1.9 + 1.4 * h,
            0.5,
            1.4,
            0.45,
            f"head {h + 1}",
            theme,
            fill=head_fill[h],
            fontsize=8.5,
        )
    text(
        ax,
        2.6,
        0.1,
        "(B, T, H · d_out): no output projection",
        theme,
        muted=True,
        fontsize=8.5,
    )

    ax.plot([5.4, 5.4], [0.1, 6.2], color=theme.muted, linewidth=0.8, linestyle=":")

    # right: MultiHeadAttention
    cx = 8.1
    text(ax, cx, 6.1, "MultiHeadAttention", theme, fontsize=11.5, fontweight="bold")
    text(
        ax,
        cx,
        5.78,
        "one projection per role, split into heads",
        theme,
        muted=True,
        fontsize=9,
    )
    box(ax, cx, 5.2, 3.2, 0.45, "x  (B, T, d_in)", theme)
    arrow(ax, (cx, 4.97), (cx, 4.6), theme)
    box(
        ax,
        cx,
        4.3,
        3.6,
        0.5,
        "W_query, W_key, W_value: d_in → d_out",
        theme,
        fontsize=9,
    )
    arrow(ax, (cx, 4.05), (cx, 3.72), theme)
    # the d_out columns cut into two slices of head_dim
    for h in range(2):
        box(
            ax,
            cx - 0.8 + 1.6 * h,
            3.45,
            1.6,
            0.45,
            f"head_dim slice {h + 1}",
            theme,
            fill=head_fill[h],
            fontsize=8.5,
        )
    text(
        ax,
        cx + 1.72,
        3.45,
        ".view\n.transpose",
        theme,
        muted=True,
        fontsize=8,
        ha="left",
        family="monospace",
    )
    arrow(ax, (cx, 3.2), (cx, 2.87), theme)
    box(
        ax,
        cx,
        2.6,
        3.6,
        0.5,
        "all heads in one batched matmul\n(B, H, T, T) weights",
        theme,
        fontsize=8.5,
    )
    arrow(ax, (cx, 2.35), (cx, 2.0), theme)
    for h in range(2):
        box(
            ax,
            cx - 0.8 + 1.6 * h,
            1.75,
            1.6,
            0.45,
            f"head {h + 1}",
            theme,
            fill=head_fill[h],
            fontsize=8.5,
        )
    text(
        ax,
        cx + 1.72,
        1.75,
        ".transpose\n.view",
        theme,
        muted=True,
        fontsize=8,
        ha="left",
        family="monospace",
    )
    arrow(ax, (cx, 1.5), (cx, 1.15), theme)
    box(
        ax,
        cx,
        0.9,
        3.6,
        0.45,
        "out_proj: d_out → d_out (mixes heads)",
        theme,
        fontsize=9,
    )
    text(
        ax,
        cx,
        0.4,
        "(B, T, d_out), head_dim = d_out / H",
        theme,
        muted=True,
        fontsize=8.5,
    )
    return fig


def split_heads_shapes(theme: Theme):
    """view and transpose on the chapter's tensor: (B, T, d_out) → (B, T, H, hd) → (B, H, T, hd)."""
    a = CHAPTER_A  # (1, 2, 3, 4)
    merged = a.transpose(1, 2).contiguous().view(1, 3, 8)  # (B, T, d_out)
    split = merged.view(1, 3, 2, 4)  # (B, T, H, head_dim)
    heads = split.transpose(1, 2)  # (B, H, T, head_dim)
    assert torch.equal(heads, a)
    fills = [theme.query, theme.key]
    cell = 0.4
    tokens = ["t0", "t1", "t2"]
    fig, ax = canvas(9.0, 7.0)

    # A: (B, T, d_out) = (1, 3, 8), columns colored by the head they belong to
    x, top = 0.9, 6.25
    for h in range(2):
        matrix(
            ax,
            x + 4 * h * cell,
            top,
            merged[0, :, 4 * h : 4 * h + 4],
            theme,
            cell=cell,
            fill=fills[h],
            row_labels=tokens if h == 0 else None,
        )
    text(ax, x + 4 * cell, top + 0.3, "(B, T, d_out) = (1, 3, 8)", theme, fontsize=10)
    text(
        ax,
        x + 4 * cell,
        top - 3 * cell - 0.12,
        "columns 0–3: head 0, columns 4–7: head 1",
        theme,
        muted=True,
        fontsize=8,
        va="top",
    )
    arrow(ax, (x + 8 * cell + 0.2, top - 0.6), (5.45, top - 0.6), theme)
    text(
        ax,
        (x + 8 * cell + 5.65) / 2,
        top - 0.75,
        ".view(b, T, H, hd)",
        theme,
        fontsize=8,
        va="top",
        family="monospace",
    )

    # B: (B, T, H, head_dim) = (1, 3, 2, 4): each token holds two rows, one per head
    x, y = 6.0, top
    for t in range(3):
        for h in range(2):
            matrix(
                ax,
                x,
                y - h * cell,
                split[0, t, h][None, :],
                theme,
                cell=cell,
                fill=fills[h],
            )
            text(
                ax,
                x + 4 * cell + 0.08,
                y - (h + 0.5) * cell,
                f"head {h}",
                theme,
                muted=True,
                fontsize=8,
                ha="left",
            )
        text(ax, x - 0.1, y - cell, tokens[t], theme, fontsize=9, ha="right")
        y -= 2 * cell + 0.15
    text(
        ax, x + 2 * cell, top + 0.3, "(B, T, H, hd) = (1, 3, 2, 4)", theme, fontsize=10
    )
    bottom_b = y + 0.15
    arrow(ax, (x + 2 * cell, bottom_b - 0.1), (5.0, 2.45), theme, rad=-0.3)
    text(
        ax,
        5.45,
        2.05,
        ".transpose(1, 2)",
        theme,
        fontsize=8,
        ha="left",
        family="monospace",
    )

    # C: (B, H, T, head_dim) = (1, 2, 3, 4): one (T, hd) matrix per head, side by side
    top_c = 3.2
    for h in range(2):
        x = 0.9 + h * (4 * cell + 0.75)
        matrix(
            ax,
            x,
            top_c,
            heads[0, h],
            theme,
            cell=cell,
            fill=fills[h],
            row_labels=tokens,
            label=f"head {h}: (T, hd)",
        )
    text(
        ax,
        0.9 + 4 * cell + 0.37,
        top_c + 0.75,
        "(B, H, T, hd) = (1, 2, 3, 4)",
        theme,
        fontsize=10,
    )

    # the way back, after attention
    text(
        ax,
        4.5,
        1.2,
        "each head: (T, hd) @ (hd, T) → (T, T) weights,\n"
        "one batched matmul for all heads",
        theme,
        fontsize=9,
    )
    text(
        ax,
        4.5,
        0.45,
        "and back: .transpose(1, 2) → (B, T, H, hd),\n"
        ".contiguous().view(b, T, d_out) → (B, T, d_out)",
        theme,
        muted=True,
        fontsize=8.5,
    )
    return fig


def heads_concat(theme: Theme):
    """3.6 at a glance: two causal heads read the same input; their outputs sit side by side."""
    from chapter3.inputs import INPUT_WORDS, example_inputs
    from chapter3.multihead import MultiHeadAttentionWrapper

    inputs = example_inputs()  # (6, 3)
    torch.manual_seed(123)
    wrapper = MultiHeadAttentionWrapper(
        d_in=3, d_out=2, context_length=6, dropout=0.0, num_heads=2
    )
    with torch.no_grad():
        heads = [head(inputs[None])[0] for head in wrapper.heads]  # 2 x (6, 2)
        joined = wrapper(inputs[None])[0]  # (6, 4)
    assert torch.equal(torch.cat(heads, dim=-1), joined)

    fig, ax = canvas(9.4, 4.75)
    fills = [theme.query, theme.key]
    cell, small = 0.36, 0.3
    right = matrix(
        ax,
        1.0,
        3.4,
        inputs,
        theme,
        cell=cell,
        fontsize=6.5,
        row_labels=INPUT_WORDS,
        label="inputs",
        shape="(6, 3)",
    )
    mid_in = 3.4 - 3 * cell
    concat_x, concat_mid = 7.2, 3.4 - 3 * cell
    for h, (out_top, fill) in enumerate(zip([4.35, 2.05], fills, strict=True)):
        mid = out_top - 3 * small
        arrow(ax, (right + 0.12, mid_in), (2.8, mid), theme)
        box(
            ax,
            3.55,
            mid,
            1.5,
            0.6,
            f"head {h + 1}\nown W_q, W_k, W_v",
            theme,
            fill=fill,
            fontsize=8,
        )
        arrow(ax, (4.3, mid), (4.8, mid), theme)
        out_right = matrix(
            ax,
            4.9,
            out_top,
            heads[h],
            theme,
            cell=small,
            fontsize=6.0,
            fill=fill,
            label=f"head {h + 1}: (6, 2)",
        )
        arrow(
            ax,
            (out_right + 0.12, mid),
            (concat_x - 0.15, concat_mid + (0.5 - h)),
            theme,
        )
    text(ax, 6.35, concat_mid, "side by side\n(torch.cat)", theme, fontsize=8.5)
    for h, fill in enumerate(fills):
        matrix(
            ax,
            concat_x + h * 2 * cell,
            3.4,
            joined[:, 2 * h : 2 * h + 2],
            theme,
            cell=cell,
            fontsize=6.3,
            fill=fill,
        )
    text(
        ax,
        concat_x + 2 * cell,
        3.58,
        "context vectors",
        theme,
        fontsize=9.5,
        va="bottom",
    )
    text(
        ax,
        concat_x + 2 * cell,
        3.4 - 6 * cell - 0.07,
        "(6, 4) = head 1 | head 2",
        theme,
        muted=True,
        fontsize=8,
        va="top",
    )
    return fig
