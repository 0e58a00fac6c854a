"""gpt.js, the decoder that runs in the reader's browser, checked against PyTorch in Node.js.

The committed reference adder (``reference_adder("fast")``: the same weights on every machine)
is exported exactly as the book's build exports a model (``docs/_ext/live_adder.py``);
``node tests/js/check_adder.js`` then runs ``docs/_static/live/gpt.js`` on it (or the copy that
``CHAPTER3_GPT_JS`` names: that is how a planted bug is shown to fail these tests).

Two kinds of comparison:

- *exact*, for what float32 rounding cannot change: the exported weights, the greedy answer to
  every one of the 10,000 sums (after checking that no step's top two logits are within
  rounding reach of each other), the messages for refused questions, and the zeros of hidden
  keys;
- *within a bound derived from the arithmetic*, for the numbers themselves (attention
  weights, logits, next-token probabilities) on 250+ sums and 4 whole sequences: gpt.js
  computes in float64, PyTorch in float32 (the book's model) and again in float64, so their
  difference is rounding error, relative to the size of the terms each value was computed
  from and to the precision's unit roundoff, not a fixed 1e-5 (see ``ULPS``).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
import torch

from chapter3.adder import EOS, PAD, parse_question
from chapter3.adder.decoding import greedy_decode
from chapter3.adder.reference import reference_adder
from chapter3.adder.vocab import encode_equation
from chapter3.gpt import attention_maps
from chapter3.masks import padding_attend_mask

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import live_adder  # noqa: E402

DRIVER = ROOT / "tests" / "js" / "check_adder.js"
GPT_JS = Path(os.environ.get("CHAPTER3_GPT_JS", ROOT / "docs/_static/live/gpt.js"))

# How far PyTorch may be from gpt.js. gpt.js computes in float64, so against PyTorch in
# float32 the difference is float32's rounding error, and that is relative to the size of the
# terms a value is computed from (its "scale", see forward_with_sizes and Bound), not a fixed
# 1e-5. A dot product of K terms rounded to unit roundoff u (2^-24 in float32) is off by at
# most K·u times the sum of its terms' absolute values, and in practice by about sqrt(K)·u of
# it, since the roundings are independent and cancel like a random walk (Higham, Accuracy and
# Stability of Numerical Algorithms, §3.1; Higham and Mary, SIAM J. Sci. Comput. 2019). A
# logit of this decoder ends a chain of such sums: per layer Q and K (128 terms), the scores
# (8), the softmax's sum (<= 11), the context (<= 11), out_proj (128), the two LayerNorms'
# means and variances (4 x 128) and the FFN (128, then 256); then the final LayerNorm (2 x 128)
# and the head (128). LayerNorm brings the residual stream back to unit size after every
# sublayer, so the stages' relative errors add up instead of multiplying: sum(sqrt(K)) along
# the chain is about 250, and the bound is 256 u of the scale (1.5e-5 of it in float32). The
# worst measured, on the reference adder and on adders trained under each
# ATEN_CPU_CAPABILITY (avx512, avx2, default; also with MKL_CBWR=COMPATIBLE), is 24 u (a
# logit), ten times below it. The worst-case bound, sum(K) ~ 2,800 u, would be too loose:
# one weight of W_query off by 1e-3 moves a logit by 1,082 u of its scale.
#
# The same bound, with float64's u = 2^-53, holds against PyTorch in float64 (measured: 35 u at
# most): that comparison also catches changes below float32's resolution, such as a LayerNorm
# without its eps (about 95 float32 u).
ULPS = 256

# Whole sequences for gpt.js's forward(): full equations, a short prefix, and one with <pad>
# tokens, whose keys the padding mask hides.
FORWARD = [
    [15, 1, 5, 10, 5, 7, 13, 0, 7, 2, 14],
    [15, 9, 9, 10, 9, 9, 13, 1, 9, 8],
    [15, 4],
    [15, 1, 16, 10, 16, 7, 13],
]
QUESTIONS = [
    "15+57=",
    "6+90=",
    " 6+90= ",
    "0+0=",
    "99+99=",
    "",
    "   ",
    "1a+2=",
    "123+4=",
    "12+34",
    "+1=",
    "1+2=3",
    "1 + 2=",
    "it's",
    'say "hi"',
    "both ' and \"",
    "back\\slash",
    "tab\there",
    "new\nline",
    "\x00\x07\x1b\x7f",
    "\x85\xa0nbsp",
    "\u200b1+2=",
    "\ufeff1+2=",
    "\x1c1+2=\x1f",
    "\u30001+2=\u3000",
    "\U0001f600+1=",
    "\U000e0001",
    "\u0663+4=",  # ARABIC-INDIC DIGIT THREE: Python's \d matches it
    "\uff11\uff15+\uff15\uff17=",  # fullwidth digits
    "\U0001d7d7+1=",  # MATHEMATICAL BOLD DIGIT NINE
    "1\u06f0+\u09e7=",
    "é+1=",
    "-5+3=",  # a negative operand: the message says why
    "5+-3=",
]

# trains (or loads) the build's adder and runs Node on all 10,000 sums
pytestmark = pytest.mark.slow


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js is missing: `make test` installs Debian's nodejs")
    return found


def detail_sums(atlas: dict) -> list[tuple[int, int]]:
    """Every 40th sum, the 50 least confident ones, and a few named ones: 250+ sums."""
    confidence = base64.b64decode(atlas["confidence"])
    least = sorted(range(10_000), key=lambda i: (confidence[i], i))[:50]
    chosen = set(range(0, 10_000, 40)) | set(least)
    chosen |= {9999, 5050, 5545, 1557, 9901, 0}
    return [divmod(i, 100) for i in sorted(chosen)]


@pytest.fixture(scope="module")
def model():
    """The one place the checked model comes from: the committed reference adder."""
    model, _ = reference_adder("fast")
    return model.eval()


def run_node(model_file: Path, request: dict, out: Path) -> subprocess.Popen:
    """Start ``node check_adder.js`` on ``request``; its JSON comes back on stdout."""
    path = out / f"request-{len(list(out.glob('request-*')))}.json"
    path.write_text(json.dumps(request))
    return subprocess.Popen(
        [node(), str(DRIVER), str(model_file), str(path), str(GPT_JS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result_of(process: subprocess.Popen) -> dict:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return json.loads(stdout)


def read_global(path: Path) -> dict:
    return json.loads(path.read_text().split(" = ", 1)[1].rstrip(";\n"))


@pytest.fixture(scope="module")
def run(model, tmp_path_factory):
    """Export the model as the build does, run gpt.js in Node.js, return what both gave.

    Node answers the 10,000 sums while PyTorch computes the atlas and its own answers; the
    atlas then picks the sums whose details (maps, probabilities) Node reports.
    """
    out = tmp_path_factory.mktemp("live")
    model_file = live_adder.write_global(
        out / live_adder.WEIGHT_FILE, "ADDER_MODEL", live_adder.export_model(model)
    )
    answers = run_node(model_file, {"all": True}, out)
    try:
        atlas = live_adder.atlas(model)
        reference = greedy_decode(model, all_prompts(), max_new_tokens=4)[:, 7:]
        detail = detail_sums(atlas)
        request = {"detail": detail, "forward": FORWARD, "questions": QUESTIONS}
        details = result_of(run_node(model_file, request, out))
    except BaseException:
        answers.kill()
        raise
    js = result_of(answers)  # answers, seconds, cpu_seconds
    js.update({k: details[k] for k in ("detail", "forward", "questions")})
    return {
        "js": js,
        "detail": detail,
        "atlas": atlas,
        "reference": reference,
        "model_file": model_file,
        "exported": read_global(model_file),
    }


def all_prompts() -> torch.Tensor:
    equations = [f"{a:02d}+{b:02d}={a + b:03d}" for a in range(100) for b in range(100)]
    return torch.stack([encode_equation(e)[:7] for e in equations])  # (10000, 7)


def as_rows(generated: list[list[int]], width: int) -> torch.Tensor:
    """gpt.js stops at <EOS>; PyTorch's batch fills finished rows with <pad>."""
    return torch.tensor([g + [PAD] * (width - len(g)) for g in generated])


# --- what PyTorch computed, and the size of the terms it computed it from ----------------------
def _abs_terms(linear: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``sum_i |W_oi x_i| + |b_o|``: the size of the terms of ``linear(x)``, in float64."""
    size = x.double().abs() @ linear.weight.double().abs().T
    return size if linear.bias is None else size + linear.bias.double().abs()


@torch.no_grad()
def forward_with_sizes(model, tokens: torch.Tensor) -> dict:
    """PyTorch's logits and attention weights, each with the size its rounding scales with.

    ``score_sizes[layer]`` (B, H, L, L) bounds the terms of each attention score, expanded
    down to the layer's input x: ``sum_e Q_e K_e / sqrt(d_head)`` with ``Q = |W_q| |x|`` and
    ``K = |W_k| |x|`` (at least ``sum_e |q_e k_e| / sqrt(d_head)``). ``logit_sizes`` (B, L, V)
    is ``|W_head| |y| + |b|`` for the final LayerNorm's output y.
    """
    score_sizes, logit_sizes = [], []

    def on_attention(module, inputs, output):  # a hook on the attention's W_query
        module = attention_of[module]
        x = inputs[0]  # (B, L, D)
        shape = (*x.shape[:2], module.num_heads, module.head_dim)
        q = _abs_terms(module.W_query, x).view(shape).transpose(1, 2)  # (B, H, L, d)
        k = _abs_terms(module.W_key, x).view(shape).transpose(1, 2)  # (B, H, L, d)
        score_sizes.append(q @ k.transpose(2, 3) / module.head_dim**0.5)  # (B, H, L, L)

    def on_final_norm(module, inputs, output):
        logit_sizes.append(_abs_terms(model.head, output))  # (B, L, V)

    # the decoder calls each attention's unchecked _forward, which module hooks do not see:
    # hook its first projection, whose input is the attention's input
    attention_of = {
        block.masked_self_attention.W_query: block.masked_self_attention
        for block in model.decoder_blocks
    }
    hooks = [query.register_forward_hook(on_attention) for query in attention_of] + [
        model.layer_norm.register_forward_hook(on_final_norm)
    ]
    try:
        logits, maps = attention_maps(model, tokens, padding_attend_mask(tokens, PAD))
    finally:
        for hook in hooks:
            hook.remove()
    return {
        "logits": logits.double(),  # (B, L, V)
        "maps": [m.double() for m in maps],  # per layer (B, H, L, L)
        "score_sizes": score_sizes,
        "logit_sizes": logit_sizes[0],
    }


def softmax_sizes(p: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """What the error of ``p = softmax(s)`` scales with when ``|error of s_k| <= r * sizes_k``.

    To first order ``dp_j = p_j (ds_j - sum_k p_k ds_k)``, so ``|dp_j| <= r p_j (sizes_j +
    sum_k p_k sizes_k)``: a weight's error is relative to the weight itself (a hidden key's 0
    must be exactly 0). The ``1 +`` is the softmax's own rounding, a few ulps of p_j.
    """
    return p * (1 + sizes + (p * sizes).sum(dim=-1, keepdim=True))


class Bound:
    """``|gpt.js - PyTorch| <= ULPS * u * scale + tiny`` for PyTorch computing in ``dtype``.

    ``u`` is the dtype's unit roundoff (half its machine epsilon) and ``tiny`` its smallest
    normal number: below it exp() underflows (to 0 in some vector kernels), so a weight of
    e^-90 may be 0 in PyTorch and 8e-40 in gpt.js; nothing larger gets this slack. Where the
    scale is 0 (a hidden key's weight) the two must be equal. ``check`` also records the worst
    difference seen, absolute and in units of ``u * scale``.
    """

    def __init__(self, dtype: torch.dtype):
        info = torch.finfo(dtype)
        self.name = str(dtype).removeprefix("torch.")
        self.u = info.eps / 2  # unit roundoff: 2^-24 in float32, 2^-53 in float64
        self.tiny = info.tiny
        self.rtol = ULPS * self.u
        self.worst: dict[str, tuple[float, float]] = {}

    def check(self, what: str, ours, theirs, scale, where: str = "") -> None:
        diff = (ours - theirs).abs()
        allowed = self.rtol * scale + self.tiny
        units = ((diff - self.tiny).clamp(min=0) / (self.u * scale)).nan_to_num(0)
        absolute, relative = self.worst.get(what, (0.0, 0.0))
        self.worst[what] = (
            max(absolute, float(diff.max())),
            max(relative, float(units.max())),
        )
        if bool((diff > allowed).any()):
            worst = (diff / allowed).argmax()
            at = tuple(int(i) for i in torch.unravel_index(worst, diff.shape))
            raise AssertionError(
                f"{what} {where}: gpt.js and PyTorch ({self.name}) differ beyond rounding at "
                f"{at}: {float(ours[at]):.9g} vs {float(theirs[at]):.9g}, allowed "
                f"{float(allowed[at]):.3g} (the worst is {float((diff / allowed).max()):.3g} "
                "times its bound)"
            )

    def report(self, title: str) -> str:
        lines = [f"gpt.js vs PyTorch in {self.name}, {title}:"]
        for what, (absolute, relative) in self.worst.items():
            lines.append(
                f"  {what}: max |diff| {absolute:.3g}; max |diff| / (u * scale) "
                f"{relative:.3g} (bound {ULPS})"
            )
        return "\n".join(lines)


@pytest.fixture(scope="module", params=["float32", "float64"])
def precision(request, model):
    """The model in float32 (the book's) or in float64 (gpt.js's own arithmetic), and the dtype.

    Against float32 the bound is what float32 rounding can do. Against float64 it is 2^29 times
    tighter, and catches a change far below float32's resolution (a LayerNorm without eps).
    """
    dtype = getattr(torch, request.param)
    return copy.deepcopy(model).to(dtype), dtype


def test_export_is_compact_float32_and_exact(model, run):
    size = run["model_file"].stat().st_size
    assert size <= 400_000, f"the exported weights take {size:,} bytes (budget 400 KB)"
    exported = run["exported"]
    values = array("f")
    values.frombytes(base64.b64decode(exported["weights"]))
    if sys.byteorder == "big":
        values.byteswap()
    params = dict(model.named_parameters())
    assert set(exported["tensors"]) == set(params)
    for name, (offset, shape) in exported["tensors"].items():
        stored = torch.tensor(values[offset : offset + params[name].numel()])
        assert list(params[name].shape) == shape
        assert torch.equal(stored.view(shape), params[name].detach()), name
    assert exported["config"] == model.config.to_dict()


def test_every_answer_equals_pytorch(run):
    reference = run["reference"]  # (10000, k): PyTorch's greedy answers
    ours = as_rows(run["js"]["answers"], reference.size(1))
    same = (ours == reference).all(dim=1)
    differ = [divmod(i, 100) for i in (~same).nonzero().flatten().tolist()]
    assert int(same.sum()) == 10_000, f"gpt.js and PyTorch differ on {differ[:10]}"


def test_atlas_marks_exactly_the_wrong_answers(run):
    reference = run["reference"]
    expected = torch.stack(
        [
            encode_equation(f"{a:02d}+{b:02d}={a + b:03d}")[7:]
            for a in range(100)
            for b in range(100)
        ]
    )
    wrong = {
        str(i) for i in (reference != expected).any(dim=1).nonzero().flatten().tolist()
    }
    assert set(run["atlas"]["wrong"]) == wrong
    assert len(run["atlas"]["carry"]) == 10_000
    assert len(base64.b64decode(run["atlas"]["confidence"])) == 10_000


def test_answers_are_beyond_rounding_reach(model, run):
    """Comparing the answers exactly is fair: float32 rounding cannot swap any argmax.

    At every step of every sum (up to its <EOS>), the top logit must lead the second by more
    than both their rounding bounds together, computed by a full forward pass over the
    answered sequences (greedy decoding used the KV cache: it must still agree).
    """
    reference = run["reference"]  # (10000, k)
    seen = torch.cat([all_prompts(), reference[:, :-1]], dim=1)  # (10000, 7 + k - 1)
    torch_run = forward_with_sizes(model, seen)
    # the steps that chose the answer: (10000, k, V)
    logits, sizes = torch_run["logits"][:, 6:], torch_run["logit_sizes"][:, 6:]
    # a step counts up to and including the first <EOS>; later ones are <pad> filler
    eos = (reference == EOS).long()
    steps = (eos.cumsum(dim=1) - eos) == 0  # (10000, k)
    top2, index = logits.topk(2, dim=-1)  # (10000, k, 2)
    assert torch.equal(index[..., 0][steps], reference[steps])
    gap = top2[..., 0] - top2[..., 1]
    bound = Bound(torch.float32)
    reach = bound.rtol * sizes.gather(-1, index).sum(dim=-1) + 2 * bound.tiny
    closest = float((gap / reach)[steps].min())
    print(f"\nsmallest top-2 logit gap: {closest:.0f} times float32's reach")
    assert closest > 1, "a top-2 logit gap is within float32's rounding: no exact test"


def test_attention_weights_and_probabilities_agree(precision, run):
    torch_model, dtype = precision
    bound = Bound(dtype)
    detail, js = run["detail"], run["js"]["detail"]
    assert len(detail) >= 200
    steps = max(len(s) for s in js)
    for k in range(steps):
        rows = [i for i, s in enumerate(js) if len(s) > k]
        seen = torch.tensor([js[i][k]["tokens"] for i in rows])  # (B, L): what it saw
        torch_run = forward_with_sizes(torch_model, seen)
        # next-token probabilities: a softmax in float64 of PyTorch's logits (B, V)
        probs = torch.softmax(torch_run["logits"][:, -1], dim=-1)
        scale = softmax_sizes(probs, torch_run["logit_sizes"][:, -1])
        ours = torch.tensor([js[i][k]["probs"] for i in rows], dtype=torch.float64)
        bound.check("probabilities", ours, probs, scale, f"at step {k}")
        for layer, weights in enumerate(torch_run["maps"]):  # (B, H, L, L)
            L = seen.size(1)
            ours = torch.tensor(
                [
                    [
                        [row + [0.0] * (L - len(row)) for row in head]
                        for head in js[i][k]["maps"][layer]
                    ]
                    for i in rows
                ],
                dtype=torch.float64,
            )
            scale = softmax_sizes(weights, torch_run["score_sizes"][layer])
            bound.check(
                "attention", ours, weights, scale, f"at step {k}, layer {layer}"
            )
    print("\n" + bound.report(f"{len(detail)} sums"))


@pytest.mark.parametrize("index", range(len(QUESTIONS)))
def test_questions_get_the_python_message(run, index):
    question = QUESTIONS[index]
    ours = run["js"]["questions"][index]
    try:
        expected = {"padded": parse_question(question)}
    except ValueError as error:
        expected = {"error": str(error)}
    assert ours == expected


def test_node_answers_all_sums_in_budget(run):
    """The budget is on CPU time: the wall time depends on what else the machine runs."""
    cpu, wall = run["js"]["cpu_seconds"], run["js"]["seconds"]
    print(f"\ngpt.js answered 10,000 sums in {cpu:.1f} s of CPU ({wall:.1f} s wall)")
    assert cpu < 20, f"gpt.js took {cpu:.1f} s of CPU for 10,000 sums"


def test_forward_gives_the_logits_and_maps_of_the_decoder(precision, run):
    torch_model, dtype = precision
    bound = Bound(dtype)
    for tokens, ours in zip(FORWARD, run["js"]["forward"], strict=True):
        torch_run = forward_with_sizes(torch_model, torch.tensor([tokens]))
        logits, sizes = torch_run["logits"][0], torch_run["logit_sizes"][0]  # (L, V)
        ours_logits = torch.tensor(ours["logits"], dtype=torch.float64)
        bound.check("logits", ours_logits, logits, sizes, f"of {tokens}")
        for layer, weights in enumerate(torch_run["maps"]):
            ours_maps = torch.tensor(ours["maps"][layer], dtype=torch.float64)
            scale = softmax_sizes(weights[0], torch_run["score_sizes"][layer][0])
            bound.check(
                "attention", ours_maps, weights[0], scale, f"of {tokens}, layer {layer}"
            )
    print("\n" + bound.report(f"forward() on {len(FORWARD)} sequences"))
