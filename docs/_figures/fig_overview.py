"""The landing page's figure: what the book builds, section by section, and what it learns."""

from __future__ import annotations

from fig_style import Theme, arrow, box, canvas, text


def book_map(theme: Theme):
    """Top: the four steps of chapter 3 and the decoder. Bottom: the decoder adds."""
    fig, ax = canvas(10.6, 3.75)
    steps = [
        ("3.3 self-attention", "scores, softmax,\nweighted sum", theme.box),
        ("3.4 trainable", "queries, keys,\nvalues", theme.query),
        ("3.5 causal", "no look at\nlater tokens", theme.key),
        ("3.6 multi-head", "heads side\nby side", theme.value),
        ("GPT decoder", "blocks built\nfrom 3.3 to 3.6", theme.box),
    ]
    y, w, h = 2.6, 1.65, 0.95
    xs = [1.0 + 2.0 * i for i in range(len(steps))]
    for i, (x, (title, body, fill)) in enumerate(zip(xs, steps, strict=True)):
        box(ax, x, y, w, h, f"{title}\n{body}", theme, fill=fill, fontsize=8.5)
        if i:
            arrow(ax, (xs[i - 1] + w / 2 + 0.05, y), (x - w / 2 - 0.05, y), theme)
    text(
        ax,
        0.2,
        3.45,
        "What you build, section by section",
        theme,
        ha="left",
        fontsize=10,
        fontweight="bold",
    )

    prompt = ["<BOS>", "1", "5", "+", "5", "7", "="]
    answer = ["0", "7", "2", "<EOS>"]
    yb = 0.55
    text(
        ax,
        0.2,
        1.42,
        "What it learns: two-digit addition, one token at a time",
        theme,
        ha="left",
        fontsize=10,
        fontweight="bold",
    )
    x = 0.55
    for token in prompt:
        tw = 0.6 if token.startswith("<") else 0.36
        box(ax, x + tw / 2, yb, tw, 0.42, token, theme, fill=theme.query, fontsize=8.5)
        x += tw + 0.08
    arrow(ax, (x + 0.05, yb), (x + 0.55, yb), theme)
    box(ax, x + 1.45, yb, 1.6, 0.62, "trained decoder", theme, fontsize=9)
    arrow(ax, (xs[-1], y - h / 2 - 0.05), (x + 1.45, yb + 0.36), theme, rad=0.0)
    arrow(ax, (x + 2.3, yb), (x + 2.8, yb), theme)
    x += 2.9
    for token in answer:
        tw = 0.6 if token.startswith("<") else 0.36
        box(ax, x + tw / 2, yb, tw, 0.42, token, theme, fill=theme.value, fontsize=8.5)
        x += tw + 0.08
    text(
        ax,
        x + 0.1,
        yb,
        "15 + 57 = 072",
        theme,
        ha="left",
        color=theme.accent,
        fontsize=10,
    )
    return fig
