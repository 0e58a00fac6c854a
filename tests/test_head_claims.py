"""General claims about what heads learn (they name no head index) and ``make bench``'s count
of the runs each one holds in."""

from __future__ import annotations

import json

import pytest
import torch

from bench.run import DATA_DIR, main, summarize_seed_runs
from chapter3.adder.data import all_equations
from chapter3.adder.heads import GENERAL_CLAIMS, correct_by_carry, general_head_claims
from chapter3.gpt import GPTConfig, GPTDecoder

SUMS = all_equations()[::20]  # 500 sums: enough for a tiny model, fast


def tiny(num_layers: int = 2) -> GPTDecoder:
    torch.manual_seed(0)
    config = GPTConfig(
        d_model=16, num_heads=2, num_layers=num_layers, d_ff=32, dropout=0.0
    )
    return GPTDecoder(config).eval()


def test_claims_are_sentences_in_order():
    claims = general_head_claims(tiny(), SUMS)
    assert list(claims) == list(GENERAL_CLAIMS)
    assert all(isinstance(v, bool) for v in claims.values())
    assert len(set(GENERAL_CLAIMS)) == len(GENERAL_CLAIMS)
    assert not any(c[0].isupper() or c.endswith(".") for c in GENERAL_CLAIMS)


def test_untrained_model_fails_the_claims_it_cannot_meet():
    model = tiny()
    assert sum(right for right, _ in correct_by_carry(model, SUMS).values()) == 0
    claims = general_head_claims(model, SUMS)
    # Nothing is right, so no head can matter, hardly matter or be essential.
    for claim in GENERAL_CLAIMS[-3:]:
        assert "zeroing" in claim and not claims[claim]
    # Untrained attention is spread out: no row reads one pair of digits with most weight.
    assert not claims["layer 0's ones row reads a0, b0 (mean over its heads > 0.7)"]
    assert not claims["a head of the hundreds row reads a1, b1 (> 0.9)"]
    assert not claims["in most layer-0 heads the position of b0 reads a0, b0 (> 0.6)"]


def test_claims_refuse_bad_input():
    with pytest.raises(TypeError, match="model must be a GPTDecoder"):
        general_head_claims("model")
    with pytest.raises(ValueError, match="at least 2 layers"):
        general_head_claims(tiny(num_layers=1), SUMS)
    with pytest.raises(TypeError, match="equations must be a list"):
        general_head_claims(tiny(), "15+57=072")
    with pytest.raises(ValueError, match="equations is empty"):
        general_head_claims(tiny(), [])


@pytest.mark.slow
def test_every_general_claim_holds_for_the_reference_model():
    # The book's paragraphs about one model's heads describe the committed reference model;
    # the general claims were read off it, so each holds there.
    from chapter3.adder.reference import reference_adder

    claims = general_head_claims(reference_adder("fast")[0])
    assert [c for c, holds in claims.items() if not holds] == []


def run(seed, capability, all_correct, *truths):
    return {
        "seed": seed,
        "capability": capability,
        "cpu_capability": capability.upper(),
        "all_correct": all_correct,
        "claims": dict(zip(("a", "b"), truths, strict=True)),
    }


def test_summary_counts_its_rows():
    rows = [
        run(0, "native", 10_000, True, False),
        run(1, "native", 9_999, True, True),
        run(0, "avx2", 10_000, False, False),
    ]
    summary = summarize_seed_runs(rows)
    assert summary["runs"] == 3 and summary["seeds"] == [0, 1]
    assert summary["capabilities"] == {"native": "NATIVE", "avx2": "AVX2"}
    assert summary["all_correct"] == {
        "k": 2,
        "n": 3,
        "by_capability": {"native": {"k": 1, "n": 2}, "avx2": {"k": 1, "n": 1}},
    }
    a, b = summary["claims"]
    assert a["claim"] == "a" and (a["k"], a["n"]) == (2, 3)
    assert a["by_capability"]["avx2"] == {"k": 0, "n": 1}
    assert b["claim"] == "b" and (b["k"], b["n"]) == (1, 3)


def check_record(section: dict) -> None:
    rows, summary = section["data"], section["summary"]
    assert summary == summarize_seed_runs(rows)
    assert summary["all_correct"]["k"] == sum(r["all_correct"] == 10_000 for r in rows)
    for entry in summary["claims"]:
        assert entry["n"] == len(rows)
        assert entry["k"] == sum(r["claims"][entry["claim"]] for r in rows)
        assert sum(v["k"] for v in entry["by_capability"].values()) == entry["k"]


def test_recorded_summary_matches_its_rows():
    path = DATA_DIR / "bench.json"
    section = json.loads(path.read_text())["sections"].get("seeds", {})
    if "summary" not in section:
        pytest.skip("no seeds record with claims yet: run make bench")
    check_record(section)
    assert [e["claim"] for e in section["summary"]["claims"]] == list(GENERAL_CLAIMS)


@pytest.mark.slow
def test_bench_quick_seeds_section(tmp_path):
    assert main(["--quick", "--out", str(tmp_path), "--sections", "seeds"]) == 0
    section = json.loads((tmp_path / "bench.json").read_text())["sections"]["seeds"]
    check_record(section)
    assert [r["capability"] for r in section["data"]] == ["native", "avx2"]
    assert all(r["cpu_capability"] for r in section["data"])  # AVX512, AVX2, ...
