"""gpt.js, the decoder that runs in the reader's browser, checked against PyTorch in Node.js.

The adder of this build (``trained_adder("fast")``, cached) is exported exactly as the book's
build exports it (``docs/_ext/live_adder.py``); ``node tests/js/check_adder.js`` then runs
``docs/_static/live/gpt.js`` on it. Every one of the 10,000 sums must get PyTorch's greedy
answer, and on 250+ sums (the least confident ones among them) every attention weight of every
layer, head and step, and every next-token probability, must agree within 1e-5. Questions the
model refuses must get ``parse_question``'s message, character for character.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from array import array
from pathlib import Path

import pytest
import torch

from chapter3.adder import PAD, parse_question, trained_adder
from chapter3.adder.decoding import greedy_decode
from chapter3.adder.vocab import encode_equation
from chapter3.gpt import attention_maps
from chapter3.masks import padding_attend_mask

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import live_adder  # noqa: E402

DRIVER = ROOT / "tests" / "js" / "check_adder.js"
TOLERANCE = 1e-5
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
    model, _ = trained_adder("fast")
    return model.eval()


def run_node(model_file: Path, request: dict, out: Path) -> subprocess.Popen:
    """Start ``node check_adder.js`` on ``request``; its JSON comes back on stdout."""
    path = out / f"request-{len(list(out.glob('request-*')))}.json"
    path.write_text(json.dumps(request))
    return subprocess.Popen(
        [node(), str(DRIVER), str(model_file), str(path)],
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


def test_attention_weights_and_probabilities_agree(model, run):
    detail, js = run["detail"], run["js"]["detail"]
    assert len(detail) >= 200
    worst = {"attention": 0.0, "probabilities": 0.0}
    steps = max(len(s) for s in js)
    for k in range(steps):
        rows = [i for i, s in enumerate(js) if len(s) > k]
        seen = torch.tensor(
            [js[i][k]["tokens"] for i in rows]
        )  # (B, L): what the model saw
        logits, maps = attention_maps(model, seen, padding_attend_mask(seen, PAD))
        probs = torch.softmax(logits[:, -1].double(), dim=-1)  # (B, V)
        ours_probs = torch.tensor(
            [js[i][k]["probs"] for i in rows], dtype=torch.float64
        )
        worst["probabilities"] = max(
            worst["probabilities"], float((ours_probs - probs).abs().max())
        )
        for layer, weights in enumerate(maps):  # (B, H, L, L)
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
            worst["attention"] = max(
                worst["attention"], float((ours - weights.double()).abs().max())
            )
    print(f"\ngpt.js vs PyTorch on {len(detail)} sums: max abs diff {worst}")
    assert worst["attention"] <= TOLERANCE and worst["probabilities"] <= TOLERANCE, (
        worst
    )


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


def test_forward_gives_the_logits_and_maps_of_the_decoder(model, run):
    for tokens, ours in zip(FORWARD, run["js"]["forward"], strict=True):
        x = torch.tensor([tokens])
        logits, maps = attention_maps(model, x, padding_attend_mask(x, PAD))
        ours_logits = torch.tensor(ours["logits"], dtype=torch.float64)
        assert torch.allclose(ours_logits, logits[0].double(), atol=1e-4), tokens
        for layer, weights in enumerate(maps):
            ours_maps = torch.tensor(ours["maps"][layer], dtype=torch.float64)
            assert torch.allclose(ours_maps, weights[0].double(), atol=TOLERANCE)
