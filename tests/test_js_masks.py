"""The mask playground of the masks page (``mask_playground.js``) checked against PyTorch.

``node tests/js/check_masks.js`` computes every preset in every convention. Each result is
compared with what PyTorch's own API does with the same mask: ``masked_softmax`` and
``scaled_dot_product_attention`` (True = may attend), ``masked_fill`` then softmax (True =
hide), ``nn.MultiheadAttention``'s weights (True = ignore) and an additive float mask, NaN
rows included. The presets are also held to the numbers that the masks page's doctests print.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from chapter3.masks import (
    causal_attend_mask,
    combine_attend_masks,
    masked_softmax,
    padding_attend_mask,
    to_hide_mask,
)

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "js" / "check_masks.js"
CONVENTIONS = ("attend", "hide", "ignore", "additive")

# The batch of the masks page (pad id 0): its first sample is "Your journey starts" and
# two pads; and the left-padded batch of its first exercise.
TOKENS = torch.tensor(
    [[1, 2, 3, 0, 0], [5, 6, 0, 0, 0], [1, 2, 3, 4, 0], [4, 5, 6, 0, 0]]
)
LEFT = torch.tensor([[0, 0, 1, 2, 3], [0, 0, 0, 5, 6]])


@pytest.fixture(scope="module")
def results():
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is missing: `make test` installs Debian's nodejs")
    done = subprocess.run(
        [node, str(DRIVER)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def tensor(values) -> torch.Tensor:
    table = {"nan": math.nan, "-inf": -math.inf}
    return torch.tensor(
        [[table.get(v, v) for v in row] for row in values], dtype=torch.float64
    )


def attend_mask(state) -> torch.Tensor:
    """The mask the playground describes, built with chapter3.masks."""
    length = state["length"]
    real = torch.tensor([not p for p in state["padded"]])  # True = a real token
    future = (
        causal_attend_mask(length) if state["causal"] else torch.ones(length, length)
    )
    attend = combine_attend_masks(real[None], future.bool())[0, 0]  # padded keys hidden
    if state["padQueries"]:
        attend = attend & real[:, None]  # padded queries too
    return attend


def scores_of(state) -> torch.Tensor:
    """Every score depends on the key only: 0, or key position + 1."""
    length = state["length"]
    keys = torch.arange(length, dtype=torch.float64) + 1
    column = keys if state["scores"] == "ramp" else torch.zeros(length).double()
    return column.expand(length, length).clone()


def torch_weights(convention: str, scores: torch.Tensor, attend: torch.Tensor):
    length = scores.size(0)
    if convention == "attend":
        ours = masked_softmax(scores, attend)
        # scaled_dot_product_attention with q = 1, k = the score of each key and v = I:
        # its output rows are its attention weights.
        q = torch.ones(1, 1, length, 1, dtype=torch.float64)
        k = scores[0].view(1, 1, length, 1)
        v = torch.eye(length, dtype=torch.float64).view(1, 1, length, length)
        sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=attend, scale=1.0)
        assert torch.allclose(sdpa[0, 0], ours, atol=1e-12)
        return ours
    if convention == "hide":
        return scores.masked_fill(to_hide_mask(attend), -math.inf).softmax(dim=-1)
    if convention == "ignore":
        # One head of width 2 whose scores are the playground's: x_j = [1, score_j],
        # query [sqrt 2, 0], key [score_j, 0]; the module divides by sqrt(2).
        mha = nn.MultiheadAttention(2, 1, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            mha.in_proj_weight.zero_()
            mha.in_proj_bias.zero_()
            mha.in_proj_weight[0, 0] = math.sqrt(2.0)  # W_query
            mha.in_proj_weight[2, 1] = 1.0  # W_key
        x = torch.stack([torch.ones(length).double(), scores[0]], dim=-1)[None]
        _, weights = mha(x, x, x, attn_mask=to_hide_mask(attend), need_weights=True)
        return weights[0].detach()
    mask = torch.zeros(length, length, dtype=torch.float64).masked_fill(
        ~attend, -math.inf
    )
    return (scores + mask).softmax(dim=-1)


def test_every_preset_in_every_convention_matches_pytorch(results):
    assert len(results) == 5 * len(CONVENTIONS)
    for r in results:
        state, convention = r["state"], r["state"]["convention"]
        attend = attend_mask(state)
        assert torch.equal(torch.tensor(r["attend"]), attend), r["preset"]
        expected_mask = {
            "attend": attend.double(),
            "hide": to_hide_mask(attend).double(),
            "ignore": to_hide_mask(attend).double(),
            "additive": torch.zeros(attend.shape)
            .double()
            .masked_fill(~attend, -math.inf),
        }[convention]
        assert torch.equal(tensor(r["mask"]), expected_mask), (r["preset"], convention)
        ours = tensor(r["weights"])
        theirs = torch_weights(convention, scores_of(state), attend).double()
        assert torch.equal(ours.isnan(), theirs.isnan()), (r["preset"], convention)
        assert torch.allclose(
            ours.nan_to_num(7.0), theirs.nan_to_num(7.0), atol=1e-6
        ), (r["preset"], convention)


def own(results, name):
    return next(r for r in results if r["preset"] == name and r["own"])


def test_presets_print_the_numbers_of_the_masks_page(results):
    padding = padding_attend_mask(TOKENS, 0)
    future = causal_attend_mask(5)
    # "Padding on queries and keys": the page's query_and_key[0] and its NaN rows naive[3:]
    r = own(results, "Padding on queries and keys: NaN rows")
    query_and_key = padding.view(4, 5, 1) & padding.view(4, 1, 5) & future
    assert torch.equal(torch.tensor(r["attend"]), query_and_key[0])
    naive = torch.softmax(
        torch.zeros(5, 5).masked_fill(~query_and_key[0], -torch.inf), dim=-1
    )
    assert torch.equal(tensor(r["weights"]).isnan(), naive.isnan())
    assert tensor(r["weights"])[3:].isnan().all()
    book = next(
        x
        for x in results
        if x["preset"] == r["preset"] and x["state"]["convention"] == "attend"
    )
    assert torch.allclose(
        tensor(book["weights"]).float(),
        masked_softmax(torch.zeros(5, 5), query_and_key[0]),
    )
    # "Key padding only": combine_attend_masks(...)[0, 0], the page's combined[0]
    r = own(results, "Key padding only (combine_attend_masks)")
    combined = combine_attend_masks(padding, future)[0, 0]
    assert torch.equal(torch.tensor(r["attend"]), combined)
    # "Why -inf": softmax([1, 2, -inf]) = [0.2689, 0.7311, 0.0000] in every row
    r = own(results, "Why −∞: softmax([1, 2, −∞])")
    expected = torch.softmax(torch.tensor([1.0, 2.0, -torch.inf]), dim=-1)
    for row in tensor(r["weights"]):
        assert torch.allclose(row.float(), expected)
    assert [round(v, 4) for v in tensor(r["weights"])[0].tolist()] == [
        0.2689,
        0.7311,
        0.0,
    ]
    # "to_hide_mask(causal_attend_mask(3))": the mask the page prints
    r = own(results, "to_hide_mask(causal_attend_mask(3))")
    assert torch.equal(tensor(r["mask"]).bool(), to_hide_mask(causal_attend_mask(3)))
    # "Left padding": exercise 1's first sample. A plain softmax and nn.MultiheadAttention
    # give NaN in the two empty rows, masked_softmax the zeros the solution prints.
    name = "Left padding (exercise 1): nn.MultiheadAttention's NaN"
    r = own(results, name)
    left = combine_attend_masks(padding_attend_mask(LEFT, 0), future)[0, 0]
    assert torch.equal(torch.tensor(r["attend"]), left)
    weights = tensor(r["weights"])
    assert weights[:2].isnan().all() and not weights[2:].isnan().any()
    by_convention = {
        x["state"]["convention"]: tensor(x["weights"])
        for x in results
        if x["preset"] == name
    }
    plain = torch.softmax(torch.zeros(5, 5).masked_fill(~left, -torch.inf), dim=-1)
    assert torch.equal(by_convention["hide"].isnan(), plain.isnan())
    assert torch.allclose(
        by_convention["attend"].float(), masked_softmax(torch.zeros(5, 5), left)
    )
    assert [round(v, 4) for v in by_convention["attend"][4].tolist()] == [
        0.0,
        0.0,
        0.3333,
        0.3333,
        0.3333,
    ]
