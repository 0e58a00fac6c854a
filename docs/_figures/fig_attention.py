"""Concept figures of sections 3.3 and 3.4: one query, from inputs to a context vector.

Every number is computed from :mod:`chapter3` exactly as the pages compute it, so the pictures
show the values the doctests print.
"""

from __future__ import annotations

import torch
from fig_style import Theme, arrow, canvas, matrix, text

from chapter3.inputs import INPUT_WORDS, example_inputs
from chapter3.self_attention import SelfAttention_v1
from chapter3.simple_attention import all_context_vecs, attn_scores_by_matmul


def _highlight_row(ax, x, y, row, n_cols, cell, theme: Theme):
    from matplotlib.patches import Rectangle

    ax.add_patch(
        Rectangle(
            (x, y - (row + 1) * cell),
            n_cols * cell,
            cell,
            fill=False,
            edgecolor=theme.accent,
            linewidth=2.2,
        )
    )


def _step(ax, x0, x1, y, label, theme: Theme):
    arrow(ax, (x0, y), (x1, y), theme)
    text(ax, (x0 + x1) / 2, y + 0.2, label, theme, fontsize=8.5, va="bottom")


def simple_context(theme: Theme):
    """3.3: scores, weights and the context vector of the query "journey", no weights."""
    inputs = example_inputs()  # (6, 3)
    scores = attn_scores_by_matmul(inputs, inputs[1])  # (6,)
    weights = torch.softmax(scores, dim=0)  # (6,)
    context = weights @ inputs  # (3,)
    assert torch.allclose(context, all_context_vecs(inputs)[1])

    fig, ax = canvas(9.4, 3.9)
    cell, top = 0.42, 3.2
    x = 1.0
    right = matrix(
        ax,
        x,
        top,
        inputs,
        theme,
        cell=cell,
        row_labels=INPUT_WORDS,
        label="inputs x(1) … x(6)",
        shape="(6, 3)",
    )
    _highlight_row(ax, x, top, 1, 3, cell, theme)
    text(ax, x + 1.5 * cell, 0.2, 'query x(2) = "journey"', theme, color=theme.accent)
    mid = top - 3 * cell
    _step(ax, right + 0.15, right + 1.25, mid, "dot with x(2)", theme)
    x = right + 1.4
    right = matrix(
        ax,
        x,
        top,
        scores[:, None],
        theme,
        cell=cell,
        fill=theme.query,
        label="scores ω2j",
        shape="(6,)",
    )
    _step(ax, right + 0.15, right + 1.25, mid, "softmax", theme)
    x = right + 1.4
    right = matrix(
        ax,
        x,
        top,
        weights[:, None],
        theme,
        cell=cell,
        cmap=theme.cmap,
        vmin=0,
        vmax=0.4,
        label="weights α2j",
        shape="sum = 1",
    )
    _step(ax, right + 0.15, right + 1.55, mid, "Σj α2j · x(j)", theme)
    x = right + 1.7
    matrix(
        ax,
        x,
        mid + cell / 2,
        context[None, :],
        theme,
        cell=cell,
        fill=theme.value,
        label="context z(2)",
        shape="(3,)",
    )
    return fig


def _qkv_weights():
    """The chapter's W_query, W_key, W_value: seed 123, three (3, 2) uniform draws."""
    torch.manual_seed(123)
    return [torch.rand(3, 2) for _ in range(3)]


def qkv_projection(theme: Theme):
    """3.4: one token's x(2) times W_query, W_key, W_value gives q(2), k(2), v(2)."""
    x_2 = example_inputs()[1]  # (3,)
    names = [
        ("query", "q", theme.query, "the query: what x(2) looks for"),
        ("key", "k", theme.key, "the key: what x(2) offers"),
        ("value", "v", theme.value, "the value: what x(2) hands over"),
    ]
    fig, ax = canvas(10.7, 2.3)
    cell, top = 0.34, 1.8
    mid = top - 1.5 * cell
    x = 0.25
    for (name, short, fill, role), weight in zip(names, _qkv_weights(), strict=True):
        start = x
        right = matrix(
            ax,
            x,
            mid + cell / 2,
            x_2[None, :],
            theme,
            cell=cell,
            label='x(2) "journey"' if name == "query" else "x(2)",
        )
        text(ax, right + 0.17, mid, "@", theme, fontsize=12)
        right = matrix(
            ax,
            right + 0.34,
            top,
            weight,
            theme,
            cell=cell,
            fill=fill,
            label=f"W_{name}",
            shape="(3, 2)",
        )
        text(ax, right + 0.17, mid, "=", theme, fontsize=12)
        right = matrix(
            ax,
            right + 0.34,
            mid + cell / 2,
            (x_2 @ weight)[None, :],
            theme,
            cell=cell,
            fill=fill,
            label=f"{short}(2)",
        )
        text(ax, (start + right) / 2, 0.3, role, theme, muted=True, fontsize=9)
        x = right + 0.6
    return fig


def qkv_context(theme: Theme):
    """3.4: q(2) against every key, scaled softmax, and the weighted sum of the values."""
    inputs = example_inputs()
    w_query, w_key, w_value = _qkv_weights()
    query_2 = inputs[1] @ w_query  # (2,)
    keys, values = inputs @ w_key, inputs @ w_value  # (6, 2) each
    scores = query_2 @ keys.T  # (6,)
    weights = torch.softmax(scores / keys.shape[-1] ** 0.5, dim=-1)  # (6,)
    context = weights @ values  # (2,)
    torch.manual_seed(123)  # the compact module of 3.4.2 draws the same weights
    with torch.no_grad():
        module_context = SelfAttention_v1(3, 2)(inputs)[1]
    assert torch.allclose(context, module_context), (
        "figure and SelfAttention_v1 disagree"
    )

    fig, ax = canvas(10.4, 4.0)
    cell, top = 0.42, 3.1
    mid = top - 3 * cell
    x = 1.0
    right = matrix(
        ax,
        x,
        top,
        keys,
        theme,
        cell=cell,
        fill=theme.key,
        row_labels=INPUT_WORDS,
        label="keys",
        shape="(6, 2)\n= inputs @ W_key",
    )
    matrix(
        ax,
        right + 0.3,
        top + 0.2,
        query_2[None, :],
        theme,
        cell=cell,
        fill=theme.query,
        label="query q(2)",
    )
    arrow(ax, (right + 0.3 + cell, top - 0.3), (right + 0.3 + cell, mid + 0.04), theme)
    arrow(ax, (right + 0.15, mid), (right + 1.3, mid), theme)
    text(ax, right + 0.72, mid - 0.25, "q(2) · k(j)", theme, fontsize=8.5, va="top")
    x = right + 1.45
    right = matrix(
        ax,
        x,
        top,
        scores[:, None],
        theme,
        cell=cell,
        fill=theme.query,
        label="scores ω2j",
        shape="(6,)",
    )
    _step(ax, right + 0.15, right + 1.55, mid, "softmax(ω / √2)", theme)
    x = right + 1.7
    right = matrix(
        ax,
        x,
        top,
        weights[:, None],
        theme,
        cell=cell,
        cmap=theme.cmap,
        vmin=0,
        vmax=0.4,
        label="weights α2j",
        shape="sum = 1",
    )
    text(ax, right + 0.3, mid, "×", theme, fontsize=13)
    x = right + 0.6
    right = matrix(
        ax,
        x,
        top,
        values,
        theme,
        cell=cell,
        fill=theme.value,
        label="values",
        shape="(6, 2)\n= inputs @ W_value",
    )
    _step(ax, right + 0.15, right + 0.95, mid, "Σj", theme)
    matrix(
        ax,
        right + 1.1,
        mid + cell / 2,
        context[None, :],
        theme,
        cell=cell,
        fill=theme.value,
        label="context z(2)",
        shape="(2,)",
    )
    return fig


def attention_matrix(theme: Theme):
    """3.3.2: all six queries at once: scores, row-wise softmax, weights @ inputs."""
    inputs = example_inputs()  # (6, 3)
    scores = inputs @ inputs.T  # (6, 6)
    weights = torch.softmax(scores, dim=-1)  # (6, 6)
    context = weights @ inputs  # (6, 3)
    assert torch.allclose(context, all_context_vecs(inputs))

    fig, ax = canvas(10.9, 3.3)
    cell, top = 0.36, 2.6
    mid = top - 3 * cell
    common = dict(cell=cell, fontsize=6.3)
    x = 1.0
    right = matrix(
        ax,
        x,
        top,
        scores,
        theme,
        fill=theme.query,
        row_labels=INPUT_WORDS,
        label="scores = inputs @ inputs.T",
        shape="(6, 6), one row per query",
        **common,
    )
    _highlight_row(ax, x, top, 1, 6, cell, theme)
    _step(ax, right + 0.15, right + 1.35, mid, "softmax\nof each row", theme)
    x = right + 1.5
    right = matrix(
        ax,
        x,
        top,
        weights,
        theme,
        cmap=theme.cmap,
        vmin=0,
        vmax=0.4,
        label="attention weights",
        shape="(6, 6), every row sums to 1",
        **common,
    )
    _highlight_row(ax, x, top, 1, 6, cell, theme)
    text(ax, right + 0.3, mid, "@", theme, fontsize=13)
    x = right + 0.6
    right = matrix(ax, x, top, inputs, theme, label="inputs", shape="(6, 3)", **common)
    _step(ax, right + 0.15, right + 0.85, mid, "=", theme)
    x = right + 1.0
    matrix(
        ax,
        x,
        top,
        context,
        theme,
        fill=theme.value,
        label="context vectors",
        shape="(6, 3), row 2 is z(2)",
        **common,
    )
    _highlight_row(ax, x, top, 1, 3, cell, theme)
    return fig
