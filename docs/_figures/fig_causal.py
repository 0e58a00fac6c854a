"""Concept figures of section 3.5: the causal mask, its two routes, and dropout.

The numbers are those of the page: ``SelfAttention_v2`` built after ``torch.manual_seed(789)``
on the example sentence, and ``Dropout(0.5)`` after ``torch.manual_seed(123)``.
"""

from __future__ import annotations

import torch
from fig_style import Theme, arrow, canvas, matrix, text

from chapter3.inputs import INPUT_WORDS, example_inputs
from chapter3.self_attention import SelfAttention_v2


def chapter_scores() -> torch.Tensor:
    """The (6, 6) unscaled scores of 3.5: ``SelfAttention_v2`` after seed 789."""
    inputs = example_inputs()
    torch.manual_seed(789)
    sa_v2 = SelfAttention_v2(d_in=3, d_out=2)
    with torch.no_grad():
        return sa_v2.W_query(inputs) @ sa_v2.W_key(inputs).T  # (6, 6)


def _future():
    return torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)  # True = future


def causal_mask(theme: Theme):
    """The mask of 3.5 twice: tril (1 = keep) for route 1, triu (True = hide) for route 2."""
    future = _future()
    fig, ax = canvas(9.4, 4.2)
    cell, top = 0.4, 3.35
    keep = [["1" if not f else "0" for f in row] for row in future.tolist()]
    right = matrix(
        ax,
        1.0,
        top,
        future.tolist(),
        theme,
        cell=cell,
        fill=theme.value,
        hidden=future.tolist(),
        texts=keep,
        row_labels=INPUT_WORDS,
        col_labels=INPUT_WORDS,
        fontsize=8,
    )
    text(
        ax,
        1.0 + 3 * cell,
        top - 6 * cell - 0.22,
        "torch.tril(ones(6, 6))",
        theme,
        va="top",
        family="monospace",
        fontsize=8.5,
    )
    text(
        ax,
        1.0 + 3 * cell,
        top - 6 * cell - 0.5,
        "1 = keep (route 1 multiplies by it)",
        theme,
        muted=True,
        va="top",
        fontsize=8.5,
    )
    hide = [["True" if f else "False" for f in row] for row in future.tolist()]
    x = right + 2.9
    matrix(
        ax,
        x,
        top,
        future.tolist(),
        theme,
        cell=cell,
        fill=theme.value,
        hidden=future.tolist(),
        texts=hide,
        row_labels=INPUT_WORDS,
        col_labels=INPUT_WORDS,
        fontsize=6,
    )
    text(
        ax,
        x + 3 * cell,
        top - 6 * cell - 0.22,
        "torch.triu(ones(6, 6), diagonal=1)",
        theme,
        va="top",
        family="monospace",
        fontsize=8.5,
    )
    text(
        ax,
        x + 3 * cell,
        top - 6 * cell - 0.5,
        "True = hide (masked_fill, route 2)",
        theme,
        muted=True,
        va="top",
        fontsize=8.5,
    )
    text(ax, 0.15, top - 3 * cell, "query", theme, rotation=90, muted=True)
    # the query "starts" (row 2) sees "Your", "journey" and itself; the rest is its future
    text(
        ax,
        (right + x) / 2,
        top - 2.5 * cell,
        'row "starts":\nsees Your, journey,\nstarts; not the\nfuture (gray)',
        theme,
        fontsize=8.5,
    )
    return fig


def two_routes(theme: Theme):
    """Route 1 (softmax, zero the future, renormalise) and route 2 (-inf, softmax) agree."""
    scores = chapter_scores()
    scale = 2**0.5
    weights = torch.softmax(scores / scale, dim=-1)
    future = _future()
    tril = (~future).float()
    masked = weights * tril
    route1 = masked / masked.sum(dim=-1, keepdim=True)
    filled = scores.masked_fill(future, -torch.inf)
    route2 = torch.softmax(filled / scale, dim=-1)
    assert torch.allclose(route1, route2), "the two routes of 3.5 must agree"

    fig, ax = canvas(11.0, 6.6)
    cell = 0.38
    hidden = future.tolist()

    def row(top, first, first_label, middle, middle_label, step1, step2, kind, gone):
        x = 1.0
        common = dict(cell=cell, fontsize=5.8)
        right = matrix(
            ax,
            x,
            top,
            first,
            theme,
            label=first_label,
            row_labels=INPUT_WORDS,
            **common,
            **kind,
        )
        mid = top - 3 * cell
        arrow(ax, (right + 0.15, mid), (right + 1.35, mid), theme)
        text(ax, right + 0.75, mid + 0.15, step1, theme, fontsize=8.5, va="bottom")
        x = right + 1.5
        texts = [
            [gone if h else f"{float(v):.2f}" for v, h in zip(r, hr, strict=True)]
            for r, hr in zip(middle.tolist(), hidden, strict=True)
        ]
        right = matrix(
            ax,
            x,
            top,
            middle.nan_to_num(neginf=0.0),
            theme,
            label=middle_label,
            hidden=hidden,
            texts=texts,
            **common,
            **kind,
        )
        arrow(ax, (right + 0.15, mid), (right + 1.35, mid), theme)
        text(ax, right + 0.75, mid + 0.15, step2, theme, fontsize=8.5, va="bottom")
        x = right + 1.5
        matrix(
            ax,
            x,
            top,
            route1,
            theme,
            label="causal weights",
            hidden=hidden,
            texts=[
                [
                    f"{float(v):.2f}" if not h else "0"
                    for v, h in zip(r, hr, strict=True)
                ]
                for r, hr in zip(route1.tolist(), hidden, strict=True)
            ],
            cmap=theme.cmap,
            vmin=0,
            vmax=1,
            **common,
        )

    weights_style = dict(cmap=theme.cmap, vmin=0, vmax=1)
    text(
        ax,
        0.2,
        6.35,
        "Route 1: softmax, zero the future, renormalise",
        theme,
        ha="left",
        fontsize=11,
        fontweight="bold",
    )
    row(
        5.75,
        weights,
        "softmax(scores / √2)",
        masked,
        "× tril  (rows sum < 1)",
        "× tril",
        "÷ row sums",
        weights_style,
        "0",
    )
    text(
        ax,
        0.2,
        3.05,
        "Route 2: −∞ on the future, then one softmax",
        theme,
        ha="left",
        fontsize=11,
        fontweight="bold",
    )
    row(
        2.45,
        scores,
        "scores  q · k",
        filled,
        "masked_fill(triu, −inf)",
        "fill −inf",
        "softmax(· / √2)",
        dict(fill=theme.query),
        "−inf",
    )
    return fig


def dropout_weights(theme: Theme):
    """Dropout(0.5) on the causal weights: a random half is zeroed, the rest doubled."""
    scores = chapter_scores()
    future = _future()
    causal = torch.softmax(scores.masked_fill(future, -torch.inf) / 2**0.5, dim=-1)
    dropout = torch.nn.Dropout(0.5)
    torch.manual_seed(123)
    keep = dropout(torch.ones(6, 6))  # 2 = kept and scaled, 0 = dropped
    torch.manual_seed(123)
    dropped = dropout(causal)
    assert torch.equal(dropped, causal * keep), "dropout must be one mask times 1/(1-p)"

    fig, ax = canvas(10.6, 3.7)
    cell, top = 0.36, 3.2
    hidden = future.tolist()
    mid = top - 3 * cell
    common = dict(cell=cell, fontsize=6.5)
    right = matrix(
        ax,
        1.0,
        top,
        causal,
        theme,
        cmap=theme.cmap,
        vmin=0,
        vmax=2,
        hidden=hidden,
        hidden_text="0",
        row_labels=INPUT_WORDS,
        label="causal weights (rows sum to 1)",
        **common,
    )
    text(ax, right + 0.35, mid, "×", theme, fontsize=14)
    x = right + 0.7
    mask_texts = [["×2" if k else "0" for k in r] for r in keep.bool().tolist()]
    right = matrix(
        ax,
        x,
        top,
        keep,
        theme,
        fill=theme.value,
        hidden=(keep == 0).tolist(),
        texts=mask_texts,
        label="dropout mask, p = 0.5",
        **common,
    )
    text(
        ax,
        x + 3 * cell,
        top - 6 * cell - 0.2,
        "kept: × 1/(1 − p) = 2    dropped: 0",
        theme,
        muted=True,
        va="top",
        fontsize=8.5,
    )
    text(ax, right + 0.35, mid, "=", theme, fontsize=14)
    x = right + 0.7
    right = matrix(
        ax,
        x,
        top,
        dropped,
        theme,
        cmap=theme.cmap,
        vmin=0,
        vmax=2,
        hidden=(dropped == 0).tolist(),
        hidden_text="0",
        label="after dropout (training only)",
        **common,
    )
    sums = dropped.sum(dim=-1)
    for i, s in enumerate(sums.tolist()):
        text(
            ax,
            right + 0.1,
            top - (i + 0.5) * cell,
            f"Σ = {s:.2f}",
            theme,
            muted=True,
            ha="left",
            fontsize=7.5,
        )
    text(
        ax,
        x + 3 * cell,
        top - 6 * cell - 0.5,
        "rows no longer sum to 1; the expected value is unchanged",
        theme,
        muted=True,
        va="top",
        fontsize=8.5,
    )
    return fig


def causal_renormalise(theme: Theme):
    """3.5 at a glance: the weights, the future set to zero, each row divided by its sum."""
    scores = chapter_scores()
    weights = torch.softmax(scores / 2**0.5, dim=-1)  # (6, 6)
    future = _future()
    masked = weights * (~future).float()
    causal = masked / masked.sum(dim=-1, keepdim=True)
    one_softmax = torch.softmax(scores.masked_fill(future, -torch.inf) / 2**0.5, dim=-1)
    assert torch.allclose(causal, one_softmax), "renormalised weights must be causal"
    hidden = future.tolist()

    fig, ax = canvas(11.9, 3.3)
    cell, top = 0.36, 2.6
    mid = top - 3 * cell
    common = dict(cell=cell, fontsize=6.0, cmap=theme.cmap, vmin=0, vmax=0.6)

    def sums(x, values, label):
        # the row sums, one per query, right of a matrix
        matrix(
            ax,
            x,
            top,
            values.sum(dim=-1, keepdim=True),
            theme,
            cell=cell,
            fontsize=6.0,
            fill=theme.box,
            shape=label,
        )

    x = 1.0
    right = matrix(
        ax,
        x,
        top,
        weights,
        theme,
        row_labels=INPUT_WORDS,
        label="attention weights (3.4)",
        shape="every query sees every key",
        **common,
    )
    sums(right + 0.08, weights, "Σ row")

    def step(right, action, values, label, shape):
        # an arrow saying what is done, then the result with its row sums
        right += 0.08 + cell
        arrow(ax, (right + 0.15, mid), (right + 1.25, mid), theme)
        text(ax, right + 0.7, mid + 0.15, action, theme, fontsize=8.5, va="bottom")
        shown = [
            ["0" if h else f"{float(v):.2f}" for v, h in zip(r, hr, strict=True)]
            for r, hr in zip(values.tolist(), hidden, strict=True)
        ]
        right = matrix(
            ax,
            right + 1.4,
            top,
            values,
            theme,
            hidden=hidden,
            texts=shown,
            label=label,
            shape=shape,
            **common,
        )
        sums(right + 0.08, values, "Σ row")
        return right

    right = step(
        right,
        "zero the\nfuture",
        masked,
        "× mask: upper triangle = 0",
        "rows no longer sum to 1",
    )
    step(
        right,
        "divide by\nrow sum",
        causal,
        "causal attention weights",
        "each row sums to 1 again",
    )
    return fig
