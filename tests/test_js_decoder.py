"""gpt.js in ``make unit``: tiny decoders in float64, bad weights and bad strings, in seconds.

``tests/test_js_adder.py`` (slow) holds gpt.js to PyTorch on the book's reference adder and
all 10,000 sums, within float32's rounding. These tests are the fast net under it. Each
builds a tiny :class:`~chapter3.gpt.GPTDecoder` whose weights are float32 values (what the
build exports, ``docs/_ext/live_adder.py``), runs gpt.js on it in Node.js
(``tests/js/check_adder.js``), and compares with the same model in float64: both sides then
compute in float64 from the same numbers, so they agree to about 1e-15, and a tolerance of
1e-7 catches any change to the arithmetic (a layer norm with its ``eps`` outside the square
root moves a logit by about 5e-6 of its size). Three models are built to break one mistake
each:

- *large*: attention scores and logits in the thousands, where ``exp`` overflows unless the
  softmax first subtracts the row's maximum;
- *eps*: layer norms with ``eps = 0.25``, where the place of ``eps`` changes every logit;
- *tied*: two tokens whose logits are exactly equal and the largest, where greedy decoding
  must pick the first, as ``torch.argmax`` does.

``tests/js/check_bad_inputs.js`` then feeds gpt.js broken exports (a config that does not match
the tensors, NaN weights, missing or transposed tensors, bad base64) and bad arguments (token
ids 1.5, ``true``, ``'3'``; counts of -1 or 2.5; a question of 100,000 characters): each must
be refused with an error that names the field, never answered. ``CHAPTER3_GPT_JS`` names
another copy of gpt.js to check (how a planted bug is shown to fail these tests).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from chapter3.adder.decoding import greedy_decode
from chapter3.adder.vocab import BOS, EQUAL, PAD, PLUS, TOKEN_TO_INDEX, parse_question
from chapter3.gpt import GPTConfig, GPTDecoder, attention_maps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import live_adder  # noqa: E402

DRIVER = ROOT / "tests" / "js" / "check_adder.js"
BAD_INPUTS = ROOT / "tests" / "js" / "check_bad_inputs.js"
GPT_JS = Path(os.environ.get("CHAPTER3_GPT_JS", ROOT / "docs/_static/live/gpt.js"))

# float64 against float64 from the same weights: the differences are ~1e-15
RTOL, ATOL = 1e-7, 1e-12
CONFIG = GPTConfig(d_model=12, num_heads=3, num_layers=2, d_ff=20, dropout=0.0)
# sequences for forward(): an equation, a prefix, and one whose <pad> keys are hidden
FORWARD = [
    [BOS, 1, 5, PLUS, 5, 7, EQUAL, 0, 7, 2],
    [BOS, 4],
    [BOS, 1, PAD, PLUS, PAD, 7, EQUAL],
]
SUMS = [(15, 57), (99, 99), (0, 0), (6, 90)]
# prompts for greedyDecode: left padding is stripped first, as greedy_decode strips it
GREEDY = [
    [BOS, 4, 2, PLUS, 0, 9, EQUAL],
    [PAD, PAD, BOS, 4, 2, PLUS, 0, 9, EQUAL],
    [PAD, BOS, 7],
]
# long questions: the message shows the first 40 characters and the length, as Python's
LONG = [
    "9" * 100_000,
    "x" * 41,
    "y" * 40,
    "1+2=" + "\t?" * 50,
    "\U0001f600" * 41,
    "-" + "9" * 5000 + "+1=",
    "\u0663" * 60,
]
TIED = (3, 7)  # the two tokens whose logits the *tied* model makes equal and largest


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js is missing: `make unit` installs Debian's nodejs")
    return found


def tiny_model(kind: str) -> GPTDecoder:
    """A seeded tiny decoder in float32, changed as ``kind`` says (see the module's doc)."""
    torch.manual_seed(0)
    model = GPTDecoder(CONFIG).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layer_norm" in name:  # not 1 and 0, so that their use is checked too
                param.add_(0.3 * torch.randn_like(param))
        if kind == "large":
            for block in model.decoder_blocks:
                block.masked_self_attention.W_query.weight.mul_(400.0)
            model.head.weight.mul_(800.0)
        elif kind == "eps":
            for module in model.modules():
                if isinstance(module, torch.nn.LayerNorm):
                    module.eps = 0.25
        elif kind == "tied":
            # logit = 0 . y + 50, exactly, in any order of summation
            for token in TIED:
                model.head.weight[token] = 0.0
                model.head.bias[token] = 50.0
    return model


def run_gpt_js(tmp_path: Path, model: GPTDecoder, request: dict) -> dict:
    model_file = live_adder.write_global(
        tmp_path / "model.js", "ADDER_MODEL", live_adder.export_model(model)
    )
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request))
    done = subprocess.run(
        [node(), str(DRIVER), str(model_file), str(request_file), str(GPT_JS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module", params=["plain", "large", "eps", "tied"])
def case(request, tmp_path_factory):
    """A tiny model, what gpt.js computed on it, and the same model in float64."""
    model = tiny_model(request.param)
    request_ = {"detail": SUMS, "forward": FORWARD, "questions": LONG, "greedy": GREEDY}
    js = run_gpt_js(tmp_path_factory.mktemp(request.param), model, request_)
    return request.param, js, copy.deepcopy(model).double()


@torch.no_grad()
def test_forward_logits_and_maps_equal_float64_pytorch(case):
    kind, js, model = case
    for tokens, ours in zip(FORWARD, js["forward"], strict=True):
        x = torch.tensor([tokens])
        # (1, L, V), and per layer (1, H, L, L); <pad> keys hidden, as in greedy decoding
        logits, maps = attention_maps(model, x, x != PAD)
        got = torch.tensor(ours["logits"], dtype=torch.float64)  # (L, V)
        assert got.isfinite().all(), (
            f"{kind}: gpt.js gave non-finite logits for {tokens}"
        )
        torch.testing.assert_close(got, logits[0], rtol=RTOL, atol=ATOL)
        for layer, weights in enumerate(maps):
            got = torch.tensor(ours["maps"][layer], dtype=torch.float64)  # (H, L, L)
            torch.testing.assert_close(got, weights[0], rtol=RTOL, atol=ATOL)
    if kind == "large":  # the point of this model: exp() of these would overflow
        assert float(logits.abs().max()) > 1000
        assert float(maps[0].max()) == 1.0  # one key takes the whole weight


@torch.no_grad()
def test_greedy_steps_equal_float64_pytorch(case):
    """Each generated token is ``torch.argmax``'s, and each step's probabilities agree."""
    kind, js, model = case
    for (a, b), steps in zip(SUMS, js["detail"], strict=True):
        padded = parse_question(f"{a}+{b}=")  # "06+90="
        prompt = torch.tensor([[BOS] + [TOKEN_TO_INDEX[c] for c in padded]])  # (1, 7)
        expected = greedy_decode(model, prompt, max_new_tokens=4)[0, prompt.size(1) :]
        generated = [s["token"] for s in steps]
        assert generated == expected.tolist()[: len(generated)], f"{kind}: {a}+{b}="
        for step in steps:
            seen = torch.tensor([step["tokens"]])
            probs = torch.softmax(model(seen)[0, -1], dim=-1)
            got = torch.tensor(step["probs"], dtype=torch.float64)
            torch.testing.assert_close(got, probs, rtol=RTOL, atol=ATOL)
    if kind == "tied":
        first = js["detail"][0][0]
        top = max(first["probs"])
        tied = [i for i, p in enumerate(first["probs"]) if p == top]
        assert tied == list(TIED), "the tie this test is about did not happen"
        assert generated == [TIED[0]] * len(generated)


@torch.no_grad()
def test_greedy_decode_strips_left_padding_as_python_does(case):
    kind, js, model = case
    for prompt, ours in zip(GREEDY, js["greedy"], strict=True):
        out = greedy_decode(model, torch.tensor([prompt]), max_new_tokens=4)[0]
        expected = out[len(prompt) :].tolist()
        assert ours == expected[: len(ours)], f"{kind}: {prompt}"
        assert expected[len(ours) :] == [PAD] * (len(expected) - len(ours))
    assert js["greedy"][0] == js["greedy"][1]


def test_long_questions_are_cut_as_python_cuts_them(case):
    for question, ours in zip(LONG, case[1]["questions"], strict=True):
        with pytest.raises(ValueError) as error:
            parse_question(question)
        assert ours == {"error": str(error.value)}
        assert len(ours["error"]) < 400


# --- bad weights, bad strings ------------------------------------------------------------------
@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    model_file = live_adder.write_global(
        tmp_path_factory.mktemp("bad") / "model.js",
        "ADDER_MODEL",
        live_adder.export_model(tiny_model("plain")),
    )
    done = subprocess.run(
        [node(), str(BAD_INPUTS), str(model_file), str(GPT_JS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_bad_input_is_refused_by_name(refusals):
    """No answer from a bad input, and no engine error (TypeError from deep inside):
    the message names the field, is short, and the error is thrown by gpt.js's checks."""
    assert len(refusals) >= 100
    wrong = []
    for case in refusals:
        if not case["threw"]:
            wrong.append(f"{case['name']}: answered {case['returned'][:60]}")
        elif case["field"] not in case["message"] or len(case["message"]) > 300:
            wrong.append(f"{case['name']}: {case['error']}: {case['message'][:200]}")
    assert not wrong, f"{len(wrong)} of {len(refusals)} bad inputs:\n" + "\n".join(
        wrong
    )


def test_a_long_question_is_cut_in_the_message(refusals):
    (case,) = [c for c in refusals if c["name"] == "a question of 100,000 characters"]
    question = ("15+57=" * 16667)[:100_000]
    with pytest.raises(ValueError) as error:
        parse_question(question)
    assert case["message"] == str(error.value)  # word for word, as Python says it
    assert case["message"].endswith("… (100,000 characters)")
    assert len(case["message"]) < 200
