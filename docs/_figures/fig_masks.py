"""Concept figures of the masks page: broadcasting a padding mask, and the mask conventions.

The masks are computed by :mod:`chapter3.masks` on the padded sample of the gallery's batch.
"""

from __future__ import annotations

import torch
from fig_style import Theme, arrow, canvas, matrix, text

from chapter3.masks import (
    causal_attend_mask,
    combine_attend_masks,
    padding_attend_mask,
    to_hide_mask,
)

PAD = 16
TOKENS = torch.tensor([[5, 7, 9, PAD, PAD]])  # (B=1, L=5): three real tokens, two pads


def _names(ids) -> list[str]:
    return ["PAD" if int(t) == PAD else str(int(t)) for t in ids]


def _bool_grid(
    ax,
    x,
    y,
    mask,
    theme,
    *,
    cell,
    labels=None,
    label=None,
    shape=None,
    true_means="attend",
):
    """A boolean grid: green True / gray False when True means attend, reversed for hide."""
    grid = mask.tolist()
    rows = [r if isinstance(r, list) else [r] for r in grid]
    attend = [[v if true_means == "attend" else not v for v in r] for r in rows]
    texts = [["T" if v else "F" for v in r] for r in rows]
    return matrix(
        ax,
        x,
        y,
        rows,
        theme,
        cell=cell,
        fill=theme.value,
        hidden=[[not a for a in r] for r in attend],
        texts=texts,
        fontsize=8,
        row_labels=labels,
        label=label,
        shape=shape,
    )


def combine_masks(theme: Theme):
    """(B, L) padding mask broadcast over queries, AND the (L, L) future mask: (B, 1, L, L)."""
    pad = padding_attend_mask(TOKENS, pad_id=PAD)  # (1, 5)
    future = causal_attend_mask(5)  # (5, 5)
    combined = combine_attend_masks(pad, future)  # (1, 1, 5, 5)
    assert torch.equal(combined[0, 0], pad[0][None, :] & future)
    names = _names(TOKENS[0])
    cell = 0.4
    fig, ax = canvas(13.0, 3.9)
    top = 3.0
    right = _bool_grid(
        ax,
        0.9,
        top,
        pad[0][None, :],
        theme,
        cell=cell,
        label="padding mask (B, L)",
        shape="tokens " + " ".join(names),
    )
    arrow(ax, (right + 0.1, top - 0.2), (right + 1.3, top - 0.2), theme)
    text(
        ax,
        right + 0.7,
        top - 0.05,
        "[:, None, None, :]",
        theme,
        fontsize=7.5,
        va="bottom",
        family="monospace",
    )
    x = right + 1.85
    right = _bool_grid(
        ax,
        x,
        top,
        pad[0][None, :].expand(5, 5),
        theme,
        cell=cell,
        labels=names,
        label="broadcast: same row\nfor every query",
        shape="hides key columns",
    )
    text(
        ax, right + 0.35, top - 2.5 * cell, "AND", theme, fontsize=11, fontweight="bold"
    )
    x = right + 0.95
    right = _bool_grid(
        ax,
        x,
        top,
        future,
        theme,
        cell=cell,
        labels=names,
        label="future mask (L, L)",
        shape="query i sees keys ≤ i",
    )
    text(ax, right + 0.35, top - 2.5 * cell, "=", theme, fontsize=14)
    x = right + 0.95
    _bool_grid(
        ax,
        x,
        top,
        combined[0, 0],
        theme,
        cell=cell,
        labels=names,
        label="combined (B, 1, L, L)",
        shape="T = may attend",
    )
    text(
        ax,
        6.5,
        0.25,
        "the extra axis of size 1 broadcasts over the heads; "
        "no row is ever empty (every query keeps key 0)",
        theme,
        muted=True,
        fontsize=8.5,
    )
    return fig


def mask_conventions(theme: Theme):
    """One causal mask in three conventions: True = attend, True = hide, additive floats."""
    attend = causal_attend_mask(4)  # (4, 4), True = may attend
    hide = to_hide_mask(attend)  # True = hide
    additive = torch.zeros(4, 4).masked_fill(hide, -torch.inf)
    cell = 0.42
    fig, ax = canvas(10.4, 3.6)
    top = 2.75
    right = _bool_grid(
        ax,
        1.3,
        top,
        attend,
        theme,
        cell=cell,
        label="True = may attend",
        shape="chapter3.masks, SDPA (bool)",
    )
    x = right + 1.6
    right = _bool_grid(
        ax,
        x,
        top,
        hide,
        theme,
        cell=cell,
        true_means="hide",
        label="True = hide",
        shape="masked_fill, nn.MultiheadAttention",
    )
    x = right + 1.6
    texts = [["0" if v == 0 else "−inf" for v in r] for r in additive.tolist()]
    matrix(
        ax,
        x,
        top,
        attend.tolist(),
        theme,
        cell=cell,
        fill=theme.value,
        hidden=hide.tolist(),
        texts=texts,
        fontsize=7.5,
        label="additive float mask",
        shape="added to the scores",
    )
    text(
        ax,
        5.2,
        0.35,
        "the same causal mask three ways: green = the key is visible; "
        "converting between them is a ~ (logical not) or a masked_fill",
        theme,
        muted=True,
        fontsize=8.5,
    )
    return fig
