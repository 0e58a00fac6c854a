"""PyTorch's answer to "which sums break with these heads switched off?", and where rounding
could answer otherwise: shared by the Node test of gpt.js's ablations (``test_js_trace``) and
the browser test of the live page's head switches (``browser/test_trace``).

gpt.js computes in float64, PyTorch in float32. Where, at some decoding step, the top two
logits are within float32's rounding reach of each other (the bound of ``test_js_adder``),
rounding may decide the token: such a sum is a *near tie*, and there gpt.js and PyTorch may
differ. Everywhere else they must agree exactly.
"""

from __future__ import annotations

import torch
from test_js_adder import Bound, all_prompts, forward_with_sizes

from chapter3.adder.decoding import greedy_decode
from chapter3.adder.heads import heads_zeroed, wrong_with_heads_zeroed
from chapter3.adder.vocab import encode_equation

Heads = tuple[tuple[int, int], ...]

# a few pairs, switched off together, besides every single head
PAIRS: list[Heads] = [((0, 1), (1, 1)), ((0, 0), (1, 2)), ((1, 2), (1, 3))]


def head_sets(model) -> list[Heads]:
    """Every single head (layer, head), 0-based, then the pairs of ``PAIRS``."""
    layers = len(model.decoder_blocks)
    num_heads = model.decoder_blocks[0].masked_self_attention.num_heads
    singles = [((i, h),) for i in range(layers) for h in range(num_heads)]
    return singles + list(PAIRS)


def sum_name(i: int) -> str:
    """The sum of index ``100 a + b`` as ``evaluate`` names it: ``aa+bb=ccc``."""
    a, b = divmod(i, 100)
    return f"{a:02d}+{b:02d}={a + b:03d}"


@torch.no_grad()
def pytorch_ablations(model, sets: list[Heads]) -> dict[Heads, dict]:
    """For each set of heads: ``wrong``, the sums PyTorch gets wrong with them zeroed
    (:func:`chapter3.adder.heads.wrong_with_heads_zeroed`), and ``near``, its *near ties*:
    sums where, at some step up to the first wrong token (where gpt.js's scoring stops), the
    top two logits are within float32's rounding reach of each other (256 u of their scale).
    """
    prompts = all_prompts()
    # (N, 4): the right digits and <EOS>
    expected = torch.stack(
        [encode_equation(sum_name(i))[7:] for i in range(len(prompts))]
    )
    bound = Bound(torch.float32)
    result = {}
    for heads in sets:
        wrong = wrong_with_heads_zeroed(model, heads)
        with heads_zeroed(model, heads):
            out = greedy_decode(model, prompts, max_new_tokens=4)[:, 7:]  # (N, 4)
            seen = torch.cat([prompts, out[:, :-1]], dim=1)
            run = forward_with_sizes(model, seen)
        logits, sizes = run["logits"][:, 6:], run["logit_sizes"][:, 6:]  # (N, 4, V)
        matched = (out == expected).long().cumprod(dim=1)  # (N, 4)
        steps = torch.cat([torch.ones_like(matched[:, :1]), matched[:, :-1]], dim=1) > 0
        top2, index = logits.topk(2, dim=-1)
        reach = bound.rtol * sizes.gather(-1, index).sum(dim=-1) + 2 * bound.tiny
        ratio = ((top2[..., 0] - top2[..., 1]) / reach).masked_fill(
            ~steps, float("inf")
        )
        near = (ratio < 1).any(dim=1).nonzero().flatten().tolist()
        result[heads] = {"wrong": wrong, "near": {sum_name(i) for i in near}}
    return result


def count_allowed(found: dict) -> range:
    """The counts of wrong sums that agree with PyTorch's up to its near ties: every sum
    it gets wrong away from a tie, plus any number of the near ties."""
    firm = len(set(found["wrong"]) - found["near"])
    return range(firm, firm + len(found["near"]) + 1)
