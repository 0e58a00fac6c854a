"""The command line never shows a traceback, any unusable checkpoint is named in one line, and
the decoding contracts that the adder relies on (left padding, shared prefixes, the cache)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from chapter3.adder import cli, training
from chapter3.adder.checkpoints import (
    check_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from chapter3.adder.decoding import (
    complete_one,
    evaluate,
    greedy_decode,
    prefill_shared_prefixes,
)
from chapter3.adder.training import FAST_RECIPE
from chapter3.adder.vocab import EOS, PAD, encode_equation
from chapter3.gpt import GPTConfig, GPTDecoder
from chapter3.kv_cache import KVCache

ROOT = Path(__file__).resolve().parents[1]
SMALL = GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPTDecoder(SMALL).eval()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, model):
    """A good checkpoint and every kind of unusable one, by name."""
    folder = tmp_path_factory.mktemp("checkpoints")
    good = save_checkpoint(model, folder / "good.pt", recipe="fast")
    payload = torch.load(good, weights_only=True)

    def variant(name, **change):
        edited = dict(payload)
        for key, value in change.items():
            if value is None:
                edited.pop(key)
            else:
                edited[key] = value
        torch.save(edited, folder / name)

    (folder / "empty.pt").write_bytes(b"")
    (folder / "truncated.pt").write_bytes(good.read_bytes()[:500])
    (folder / "random.pt").write_bytes(
        torch.randint(0, 256, (2000,), dtype=torch.uint8).numpy().tobytes()
    )
    (folder / "text.pt").write_text("hello, I am not a checkpoint\n")
    torch.save({"a": torch.zeros(2)}, folder / "other.pt")
    torch.save(torch.zeros(3), folder / "tensor.pt")
    variant("missing.pt", state_dict=None)
    variant("extra.pt", surprise=1)
    variant("vocab_size.pt", config={**payload["config"], "vocab_size": 5})
    variant("short.pt", config={**payload["config"], "max_seq_len": 4})
    variant("unknown_config.pt", config={**payload["config"], "colour": "red"})
    variant("bad_config.pt", config={**payload["config"], "num_heads": 3})
    variant("shapes.pt", config={**payload["config"], "d_ff": 64})
    state = payload["state_dict"]
    nan = {
        k: torch.full_like(v, float("nan")) if "head" in k else v
        for k, v in state.items()
    }
    variant("nan.pt", state_dict=nan)
    variant("history.pt", history={"nonsense": 1})
    return folder


UNUSABLE = {
    "empty": "is not a readable checkpoint",
    "truncated": "is not a readable checkpoint",
    "random": "is not a readable checkpoint",
    "text": "is not a readable checkpoint",
    "other": "is not an adder checkpoint",
    "tensor": "is not an adder checkpoint",
    "missing": "missing field\\(s\\) state_dict",
    "extra": "unknown field\\(s\\) surprise",
    "vocab_size": "cannot run the adder: it needs vocab_size=18",
    "short": "max_seq_len >= 10",
    "unknown_config": "unknown \\['colour'\\]",
    "bad_config": "unusable config: d_model \\(16\\) must be divisible by num_heads \\(3\\)",
    "shapes": "the weights do not fit",
    "nan": "non-finite weights .* head",
    "history": "unreadable training history",
}


@pytest.mark.parametrize("name", list(UNUSABLE))
def test_unusable_checkpoints_are_named(checkpoints, name):
    path = checkpoints / f"{name}.pt"
    with pytest.raises(ValueError, match=UNUSABLE[name]) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("command", ["evaluate", "ask"])
@pytest.mark.parametrize("name", list(UNUSABLE))
def test_cli_answers_an_unusable_checkpoint_in_one_line(
    checkpoints, capsys, name, command
):
    path = checkpoints / f"{name}.pt"
    argv = [command, "--checkpoint", str(path)] + (
        ["15+57="] if command == "ask" else []
    )
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err, err


def test_loaded_model_is_in_eval_mode_and_equal(checkpoints, model):
    loaded, history = load_checkpoint(checkpoints / "good.pt")
    assert not loaded.training and not any(m.training for m in loaded.modules())
    assert history is None
    x = torch.randint(0, 14, (2, 7))
    assert torch.equal(loaded(x), model(x))
    with pytest.raises(ValueError, match="is not a checkpoint file"):
        load_checkpoint(checkpoints)
    with pytest.raises(
        ValueError, match="another configuration: d_ff=32 \\(expected 64\\)"
    ):
        load_checkpoint(
            checkpoints / "good.pt", expected_config=replace(SMALL, d_ff=64)
        )


def run_cli(capsys, *argv):
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:  # argparse
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip().splitlines()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["evaluate", "--show-wrong", "-5"],
            "--show-wrong: must be at least 0, got -5",
        ),
        (["evaluate", "--show-wrong", "x"], "--show-wrong: expected an integer"),
        (["train", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["train", "--epochs", "2.5"], "--epochs: expected an integer"),
        (["train", "--recipe", "slow"], "--recipe: invalid choice"),
        ([], "the following arguments are required: COMMAND"),
        (["evaluate", "--colour"], "unrecognized arguments: --colour"),
        (["ask"], "ask needs a question"),
        (["ask", "-5+3="], "'-5' is not a 1- to 2-digit operand"),
        (["ask", "--", "-5+3="], "'-5' is not a 1- to 2-digit operand"),
        (["ask", "١+٢="], "only the ASCII digits 0-9"),
        (["ask", "123+4="], "expected a question of the form 'a\\+b='"),
    ],
)
def test_cli_bad_arguments_get_one_line_and_status_2(capsys, tmp_path, argv, message):
    if argv[:1] in (["evaluate"], ["ask"]) and "--colour" not in argv:
        argv = [argv[0], "--checkpoint", str(tmp_path / "none.pt"), *argv[1:]]
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and len(err) == 1, err
    assert re.search(message, err[0]), err[0]


def test_cli_checks_out_before_training(capsys, tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before --out was checked")

    monkeypatch.setattr(cli, "train", no_training)
    (tmp_path / "file").write_text("x")
    for out, message in (
        (tmp_path, "it is a directory"),
        (tmp_path / "file" / "m.pt", "is a file, not a directory"),
    ):
        status, _, err = run_cli(capsys, "train", "--quiet", "--out", str(out))
        assert status == 2 and len(err) == 1 and "--out" in err[0] and message in err[0]
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        status, _, err = run_cli(capsys, "train", "--out", str(locked / "m.pt"))
        assert status == 2 and "cannot write a checkpoint there" in err[0]
    assert check_checkpoint_path(tmp_path / "new" / "m.pt") == tmp_path / "new" / "m.pt"


def test_cli_shows_no_more_wrong_answers_than_asked(capsys, checkpoints, monkeypatch):
    tiny = replace(FAST_RECIPE, name="fast", model=SMALL, disjoint_sizes=(64, 16, 16))
    monkeypatch.setitem(training.RECIPES, "fast", tiny)
    good = str(checkpoints / "good.pt")
    for count in (0, 3):
        status, out, err = run_cli(
            capsys, "evaluate", "--checkpoint", good, "--show-wrong", str(count)
        )
        assert status == 0 and out.count("  expected ") == count, out


def test_module_entry_point_prints_no_traceback(checkpoints):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chapter3.adder",
            "ask",
            "15+57=",
            "--checkpoint",
            str(checkpoints / "random.pt"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert (
        "Traceback" not in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
    )


# --- decoding contracts -----------------------------------------------------------------------
QUESTIONS = ["15+57=", "99+99=", "06+90=", "50+50="]


def prompts_of(questions):
    return torch.stack([encode_equation(q)[:-1] for q in questions])  # (B, 7)


def left_pad(rows: list[torch.Tensor], extra: int = 0) -> torch.Tensor:
    """Right-align prompts of different lengths in a (B, max length + extra) batch of <pad>."""
    width = max(r.numel() for r in rows) + extra
    batch = torch.full((len(rows), width), PAD)
    for i, row in enumerate(rows):
        batch[i, width - row.numel() :] = row
    return batch


@pytest.mark.parametrize("use_cache", [True, False])
def test_left_padded_prompts_decode_like_unpadded_ones(model, use_cache):
    g = torch.Generator().manual_seed(5)
    rows = [torch.randint(0, 14, (n,), generator=g) for n in (7, 3, 5, 7, 4, 3)]
    alone = [
        greedy_decode(model, r[None], use_cache=use_cache)[0, r.numel() :] for r in rows
    ]
    for extra in (0, 2):
        padded = left_pad(rows, extra)
        out = greedy_decode(model, padded, use_cache=use_cache)
        # the prompt, padding included
        assert torch.equal(out[:, : padded.size(1)], padded)
        for i, answer in enumerate(alone):
            new = out[i, padded.size(1) :]
            assert torch.equal(new[: answer.numel()], answer), (i, extra)
            assert (new[answer.numel() :] == PAD).all()  # finished rows wait with <pad>
    prompt = prompts_of(QUESTIONS[:1])[0]
    one = left_pad([prompt], extra=3)[0]
    assert torch.equal(complete_one(model, one), complete_one(model, prompt))
    assert torch.equal(
        greedy_decode(model, one[None])[0, one.numel() :],
        greedy_decode(model, prompt[None])[0, prompt.numel() :],
    )


def test_a_left_padded_prompt_gets_the_same_logits_as_the_unpadded_one(model):
    prompt = prompts_of(QUESTIONS[:1])
    cache = KVCache(1)
    logits = model(prompt, cache=cache)
    assert torch.allclose(logits, model(prompt), atol=1e-5)
    padded = greedy_decode(model, left_pad([prompt[0]], extra=4), max_new_tokens=1)
    assert padded[0, -1] == logits[0, -1].argmax()


def test_prefix_sharing_with_any_token_ids(model):
    g = torch.Generator().manual_seed(3)
    # any ids, <pad> and <EOS> included
    stems = torch.randint(0, 18, (3, 4), generator=g)
    prompts = torch.cat(
        [stems.repeat(4, 1), torch.randint(0, 18, (12, 3), generator=g)], dim=1
    )
    prompts[prompts[:, 0] == PAD, 0] = (
        0  # no left padding: prefixes are compared as they are
    )
    cache, shared = prefill_shared_prefixes(model, prompts, max_len=10)
    assert shared >= 4 and cache.length == shared
    rest = model(prompts[:, shared:], prompts != PAD, cache)
    full = model(prompts, prompts != PAD)
    assert torch.allclose(rest, full[:, shared:], atol=1e-5)
    assert torch.equal(
        greedy_decode(model, prompts, 3),
        greedy_decode(model, prompts, 3, use_cache=False),
    )


def test_preallocated_cache_allocates_once_and_a_growing_one_each_step(model):
    tokens = torch.randint(0, 14, (2, 8))
    for max_len, allocations in ((8, 1), (None, 8)):
        cache = KVCache(1, max_len=max_len)
        buffers = []  # held, so that no freed buffer's memory can be handed out again
        for t in range(8):
            model(tokens[:, t : t + 1], cache=cache)
            if not any(cache._keys[0] is b for b in buffers):
                buffers.append(cache._keys[0])
        assert len(buffers) == allocations, max_len
        assert cache.keys[0].shape == (2, 2, 8, 8)


def test_evaluate_scores_exact_matches(model, monkeypatch):
    from chapter3.adder import decoding

    def perfect(model, prompts, max_new_tokens=4, use_cache=True):
        answers = torch.tensor([[0, 7, 2, EOS], [0, 9, 6, EOS], [1, 9, 9, EOS]])
        return torch.cat([prompts, answers], dim=1)

    monkeypatch.setattr(decoding, "greedy_decode", perfect)
    result = evaluate(model, ["15+57=072", "06+90=096", "99+99=198"])
    assert (result.num_correct, result.total, result.wrong) == (
        2,
        3,
        [("99+99=198", "99+99=199")],
    )

    def stopped_early(model, prompts, max_new_tokens=4, use_cache=True):
        return torch.cat([prompts, torch.tensor([[0, 7, 2]])], dim=1)  # no <EOS> yet

    monkeypatch.setattr(decoding, "greedy_decode", stopped_early)
    result = evaluate(model, ["15+57=072"])
    assert result.num_correct == 0 and result.wrong == [("15+57=072", "15+57=072")]


@pytest.mark.parametrize(
    ("question", "padded"),
    [
        ("6+9=", "06+09="),
        ("15+57=", "15+57="),
        (" 0+0= ", "00+00="),
        ("99+1=", "99+01="),
    ],
)
def test_parse_question_zero_pads_both_operands(question, padded):
    from chapter3.adder.vocab import parse_question

    assert parse_question(question) == padded
    a, b = padded[:2], padded[3:5]
    assert parse_question(question, num_digits=3) == f"0{a}+0{b}="


@pytest.mark.slow
def test_trained_adder_answers_left_padded_questions_like_unpadded_ones():
    from chapter3.adder.reference import reference_adder

    adder, _ = reference_adder("fast")
    prompts = prompts_of(QUESTIONS)
    plain = greedy_decode(adder, prompts)[:, prompts.size(1) :]
    padded = left_pad([p for p in prompts], extra=3)
    assert torch.equal(greedy_decode(adder, padded)[:, padded.size(1) :], plain)
    for extra in range(1, 4):  # one question padded, the others not
        one = greedy_decode(adder, left_pad([prompts[0]], extra=extra))
        assert torch.equal(one[0, 7 + extra :], plain[0])
    assert [
        q + "".join(map(str, a[:3].tolist()))
        for q, a in zip(QUESTIONS, plain, strict=True)
    ] == [
        "15+57=072",
        "99+99=198",
        "06+90=096",
        "50+50=100",
    ]


class Countdown(GPTDecoder):
    """A decoder whose next token follows a rule of the last one: digit d -> d - 1, 0 -> <EOS>,
    anything else (<EOS>, <pad>) -> 7. Decoding must stop each row at its <EOS> and pad after."""

    def forward(self, input_tokens, padding_mask=None, cache=None):
        last = input_tokens
        nxt = torch.where(last == 0, EOS, torch.where(last <= 9, last - 1, 7))
        return torch.nn.functional.one_hot(nxt, 18).float() * 10  # (B, L, V)


@pytest.mark.parametrize("use_cache", [True, False])
def test_rows_stop_at_their_eos_and_wait_with_pad(use_cache):
    model = Countdown(SMALL).eval()
    prompts = torch.tensor([[15, 1, 2], [15, 4, 0], [15, 9, 3]])
    out = greedy_decode(model, prompts, max_new_tokens=4, use_cache=use_cache)
    expected = torch.tensor(
        [
            [15, 1, 2, 1, 0, EOS, PAD],
            [15, 4, 0, EOS, PAD, PAD, PAD],
            [15, 9, 3, 2, 1, 0, EOS],
        ]
    )
    assert torch.equal(out, expected)
    early = greedy_decode(model, prompts[:2], max_new_tokens=4, use_cache=use_cache)
    assert torch.equal(early, expected[:2, :6])  # stops once every row has finished
    assert torch.equal(greedy_decode(model, prompts, 2, use_cache), expected[:, :5])


def test_decoding_switches_dropout_off_and_restores_the_mode():
    torch.manual_seed(1)
    noisy = GPTDecoder(replace(SMALL, dropout=0.5, attn_dropout=0.5))
    prompts = prompts_of(QUESTIONS)
    noisy.eval()
    expected = greedy_decode(noisy, prompts)
    noisy.train()
    for use_cache in (True, False):
        assert torch.equal(greedy_decode(noisy, prompts, use_cache=use_cache), expected)
        assert noisy.training and all(m.training for m in noisy.modules())
    assert torch.equal(
        complete_one(noisy, prompts[0]),
        expected[0][: complete_one(noisy, prompts[0]).numel()],
    )
    assert noisy.training
