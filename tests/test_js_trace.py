"""The live page's trace of a weight and its switched-off heads, checked against PyTorch.

``node tests/js/check_trace.js`` runs ``gpt.js`` (with its optional ``record`` and ``ablate``
hooks) and ``ablate.js`` on the committed reference adder, exported as the build exports it:

- *trace*: for every layer, head and row of the full sequences of a few sums, the numbers the
  page shows (q, the visible keys and values, the dot products, the scaled scores, the
  weights, the head's context vector) must equal what PyTorch's ``MultiHeadAttention``
  computed (forward hooks on ``W_query``, ``W_key``, ``W_value``, the attention dropout and a
  pre-hook on ``out_proj``) within the float32 rounding bound of ``test_js_adder.Bound``, and
  the traced weight must *be* the heatmap's cell (the same float);
- *ablation*: with every single head zeroed, and a few pairs, the sums gpt.js gets wrong must be
  exactly those that PyTorch's :func:`chapter3.adder.heads.wrong_with_heads_zeroed` gets wrong
  (after checking that no top-2 logit gap of the ablated models is within rounding reach).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import ablation_ties
import pytest
import torch
from ablation_ties import head_sets, sum_name
from test_js_adder import (
    DRIVER,
    GPT_JS,
    ULPS,
    Bound,
    _abs_terms,
    node,
    softmax_sizes,
)

from chapter3.adder.heads import heads_zeroed
from chapter3.adder.reference import reference_adder
from chapter3.adder.vocab import encode_equation
from chapter3.gpt import attention_maps

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))

import adder_trace  # noqa: E402
import live_adder  # noqa: E402

pytestmark = pytest.mark.slow

TRACE_DRIVER = DRIVER.with_name("check_trace.js")
TRACED_SUMS = [(55, 45), (15, 57), (99, 99), (0, 0), (50, 50), (37, 48)]


@pytest.fixture(scope="module")
def model():
    model, _ = reference_adder("fast")
    return model.eval()


def sequence(a: int, b: int) -> list[int]:
    """``<BOS> a + b = c2 c1 c0``: every token the model reads for this sum."""
    return encode_equation(f"{a:02d}+{b:02d}={a + b:03d}")[:-1].tolist()


def start(model_file, request, out, name):
    path = out / f"{name}.json"
    path.write_text(json.dumps(request))
    return subprocess.Popen(
        [node(), str(TRACE_DRIVER), str(model_file), str(path), str(GPT_JS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process) -> dict:
    stdout, stderr = process.communicate(timeout=1200)
    assert process.returncode == 0, stderr
    return json.loads(stdout)


@pytest.fixture(scope="module")
def js(model, tmp_path_factory):
    """What Node computed: traces, and the wrong sums of each ablation (two processes)."""
    out = tmp_path_factory.mktemp("trace")
    model_file = live_adder.write_global(
        out / live_adder.WEIGHT_FILE, "ADDER_MODEL", live_adder.export_model(model)
    )
    keys = [[f"{i}.{h}" for i, h in heads] for heads in head_sets(model)]
    half = len(keys) // 2
    config = model.config
    trace = [
        {"tokens": sequence(a, b), "layer": layer, "head": h, "row": r}
        for a, b in TRACED_SUMS
        for layer in range(config.num_layers)
        for h in range(config.num_heads)
        for r in range(len(sequence(a, b)))
    ]
    what = [{"q": "55+45=", "ablate": k} for k in keys]
    scorer_path = [
        {"tokens": sequence(a, b), "ablate": k} for a, b in TRACED_SUMS for k in keys
    ]
    jobs = [
        start(model_file, {"ablate": keys[:half], "trace": trace}, out, "a"),
        start(
            model_file,
            {"ablate": keys[half:], "whatIs": what, "scorerPath": scorer_path},
            out,
            "b",
        ),
    ]
    try:
        first, second = (finish(j) for j in jobs)
    except BaseException:
        for j in jobs:
            j.kill()
        raise
    return {
        "trace": first["trace"],
        "ablate": first["ablate"] + second["ablate"],
        "cpu_seconds": first["cpu_seconds"] + second["cpu_seconds"],
        "whatIs": second["whatIs"],
        "scorerPath": second["scorerPath"],
        "trace_request": trace,
    }


@torch.no_grad()
def pytorch_attention(model, tokens: list[int]) -> list[dict]:
    """Per layer: q, k, v (H, L, d), scores (H, L, L), weights (H, L, L), context (L, H, d)
    as the decoder computed them, and the size each one's rounding scales with."""
    layers = []
    hooks = []
    for block in model.decoder_blocks:
        attention = block.masked_self_attention
        seen = {}
        layers.append(seen)

        def split(t, a=attention):  # (1, L, D) -> (H, L, d)
            return t[0].view(t.size(1), a.num_heads, a.head_dim).transpose(0, 1)

        def on_input(module, inputs, seen=seen, split=split, a=attention):
            x = inputs[0]  # (1, L, D)
            seen["q_size"] = split(_abs_terms(a.W_query, x))
            seen["k_size"] = split(_abs_terms(a.W_key, x))
            seen["v_size"] = split(_abs_terms(a.W_value, x))

        def on_linear(name, seen=seen, split=split):
            return lambda module, inputs, output: seen.__setitem__(name, split(output))

        hooks += [
            # the decoder calls the attention's unchecked _forward, so the module's own
            # hooks never run: its input is what W_query is given
            attention.W_query.register_forward_pre_hook(on_input),
            attention.W_query.register_forward_hook(on_linear("q")),
            attention.W_key.register_forward_hook(on_linear("k")),
            attention.W_value.register_forward_hook(on_linear("v")),
            attention.dropout.register_forward_hook(
                lambda m, i, o, seen=seen: seen.__setitem__("weights", i[0][0])
            ),
            attention.out_proj.register_forward_pre_hook(
                lambda m, i, seen=seen, split=split: seen.__setitem__(
                    "context", split(i[0])
                )
            ),
        ]
    try:
        attention_maps(model, torch.tensor([tokens]))
    finally:
        for hook in hooks:
            hook.remove()
    for seen in layers:
        d = seen["q"].size(-1)
        seen["scores"] = seen["q"] @ seen["k"].transpose(1, 2) / d**0.5  # (H, L, L)
        seen["score_size"] = seen["q_size"] @ seen["k_size"].transpose(1, 2) / d**0.5
    return layers


@pytest.fixture(scope="module", params=["float32", "float64"])
def precision(request, model):
    dtype = getattr(torch, request.param)
    return copy.deepcopy(model).to(dtype), dtype


def test_a_traced_weight_is_the_cell_of_its_map(js):
    """The trace shows the very float the heatmap shows, and its own arithmetic is consistent:
    each scaled score is the dot product over sqrt(d_k), the weights of a row sum to 1, and a
    row sees its own position and the ones before it, nothing later."""
    for request, record in zip(js["trace_request"], js["trace"], strict=True):
        row = request["row"]
        assert record["layer"] == request["layer"] and record["position"] == row
        assert len(record["keys"]) == len(record["weights"]) == row + 1
        assert record["weights"] == record["cells"][: row + 1]
        assert all(c == 0 for c in record["cells"][row + 1 :])
        d = len(record["q"])
        scaled = [s / d**0.5 for s in record["dots"]]
        assert scaled == record["scores"]  # the same IEEE division in JS and Python
        assert abs(sum(record["weights"]) - 1) < 1e-12


def test_traced_numbers_are_pytorchs(js, precision):
    torch_model, dtype = precision
    bound = Bound(dtype)
    by_tokens: dict[tuple, list] = {}
    for request, record in zip(js["trace_request"], js["trace"], strict=True):
        tokens = tuple(request["tokens"])
        if tokens not in by_tokens:
            by_tokens[tokens] = pytorch_attention(torch_model, list(tokens))
        theirs = by_tokens[tokens][request["layer"]]
        h, i = request["head"], request["row"]
        where = f"of {list(tokens)}, layer {request['layer']}, head {h}, row {i}"

        def ours(name, record=record):
            return torch.tensor(record[name], dtype=torch.float64)

        double = {k: v.double() for k, v in theirs.items()}
        bound.check("q", ours("q"), double["q"][h, i], double["q_size"][h, i], where)
        keys = slice(0, i + 1)
        bound.check(
            "k", ours("keys"), double["k"][h, keys], double["k_size"][h, keys], where
        )
        bound.check(
            "v", ours("values"), double["v"][h, keys], double["v_size"][h, keys], where
        )
        sizes = double["score_size"][h, i, keys]
        d = double["q"].size(-1)
        bound.check(
            "dots",
            ours("dots"),
            double["scores"][h, i, keys] * d**0.5,
            sizes * d**0.5,
            where,
        )
        bound.check(
            "scores", ours("scores"), double["scores"][h, i, keys], sizes, where
        )
        weights = double["weights"][h, i, keys]
        weight_sizes = softmax_sizes(weights, sizes)
        bound.check("weights", ours("weights"), weights, weight_sizes, where)
        # z = sum_j a_j v_j: each term's error is |da_j| |v_j| + a_j |dv_j|
        context_size = (
            (weight_sizes + weights)[:, None] * double["v_size"][h, keys]
        ).sum(0)
        bound.check(
            "context", ours("context"), double["context"][h, i], context_size, where
        )
    print("\n" + bound.report(f"{len(js['trace'])} traced rows (bound {ULPS} u)"))


@pytest.fixture(scope="module")
def pytorch_ablations(model) -> dict:
    """For each set of heads: the sums PyTorch gets wrong with them zeroed, and the near
    ties, where rounding may decide a token (see ``ablation_ties``)."""
    return ablation_ties.pytorch_ablations(model, head_sets(model))


def test_switched_off_heads_break_the_sums_pytorch_breaks(js, model, pytorch_ablations):
    report = []
    for heads, wrong in zip(head_sets(model), js["ablate"], strict=True):
        expected, near = (pytorch_ablations[heads][k] for k in ("wrong", "near"))
        ours = [sum_name(i) for i in wrong]
        differ = set(ours) ^ set(expected)
        assert differ <= near, (
            f"heads {heads} off: gpt.js gets {len(ours)} sums wrong, PyTorch "
            f"{len(expected)}; they differ beyond rounding on {sorted(differ - near)[:5]}"
        )
        report.append(
            f"{heads}: {len(ours)} ({len(near)} near ties, {len(differ)} differ)"
        )
    print("\nsums wrong with heads off, gpt.js = PyTorch:\n  " + "\n  ".join(report))
    worst = max(js["cpu_seconds"])
    print(f"Node re-scored 10,000 sums with heads off in at most {worst:.1f} s of CPU")
    assert worst < 20, f"re-scoring 10,000 sums took {worst:.1f} s of CPU"


def test_near_ties_are_few_and_not_where_the_page_makes_a_claim(
    pytorch_ablations, model
):
    """A count the page states (the guide's head, the heads the browser tests switch off)
    has no near tie, so it is the same on every CPU; elsewhere at most 3 sums per set."""
    for heads, found in pytorch_ablations.items():
        assert len(found["near"]) <= 3, (heads, sorted(found["near"]))
    guide = adder_trace.guide(model)
    for heads in [((1, guide["carry_head"]),), ((1, 1),), ((0, 4),)]:
        assert not pytorch_ablations[heads]["near"], heads


def test_the_scorers_steps_give_the_decoders_logits_bit_for_bit(js, model):
    """Re-scoring skips what no one reads (the last block of a question's tokens, the maps)
    and copies states: the logits it decides by are still forward()'s, the same floats."""
    assert len(js["scorerPath"]) == len(TRACED_SUMS) * len(head_sets(model))
    for differ in js["scorerPath"]:
        assert not differ, f"(position, token, scorer, forward): {differ[:3]}"


def test_the_question_is_answered_again_with_the_heads_off(js, model):
    for heads, ours in zip(head_sets(model), js["whatIs"], strict=True):
        with heads_zeroed(model, heads):
            expected = adder_trace.answer(model, "55+45=")
        assert ours == expected, heads
