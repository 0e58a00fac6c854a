"""Every door of the adder refuses bad input in one line, saves survive a crash, and each
training mechanism (validation without dropout, transforms on every split, grading only the
answer, weights-only loading) is pinned by a fast test."""

from __future__ import annotations

import os
import pickle
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from chapter3.adder import checkpoints, cli, data, decoding, training, vocab
from chapter3.adder.carries import carry_class
from chapter3.adder.exhaustive import answer_correct, split_equations
from chapter3.adder.training import FAST_RECIPE, NoamSchedule, Recipe
from chapter3.gpt import GPTConfig, GPTDecoder

ROOT = Path(__file__).resolve().parents[1]
SMALL = GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0)
PROMPT = vocab.encode_equation("15+57=")[:-1]  # (7,)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPTDecoder(SMALL).eval()


# --- the Python API: what is given and what is allowed, in one line --------------------------
BAD_CALLS = {
    "pad_number too long": (lambda: vocab.pad_number(123, 2), "has 3 digits"),
    "encode_equation('1+')": (lambda: vocab.encode_equation("1+"), "form 'a\\+b=c'"),
    "encode_equation('')": (lambda: vocab.encode_equation(""), "form 'a\\+b=c'"),
    "decode 99": (lambda: vocab.decode([99]), "0..17, got 99"),
    "decode -1": (lambda: vocab.decode([-1]), "0..17, got -1"),
    "decode float": (lambda: vocab.decode([1.0]), "must be an int"),
    "decode bool": (lambda: vocab.decode([True]), "bool"),
    "decode str": (lambda: vocab.decode("123"), "list or 1-D tensor"),
    "decode None": (lambda: vocab.decode(None), "list or 1-D tensor"),
    "decode bool tensor": (
        lambda: vocab.decode(torch.ones(2, dtype=torch.bool)),
        "bool",
    ),
    "split_sizes negative": (
        lambda: data.split_sizes(3, (0.5, 0.5, 0.0)),
        "round to 2 train and 2",
    ),
    "EquationDataset(str)": (lambda: data.EquationDataset("15+57=072"), "got str"),
    "EquationDataset(None)": (lambda: data.EquationDataset(None), "got NoneType"),
    "EquationDataset([1])": (lambda: data.EquationDataset([1]), "hold strings"),
    "EquationDataset([])": (lambda: data.EquationDataset([]), "is empty"),
    "PadCollate([])": (lambda: data.PadCollate()([]), "non-empty list"),
    "PadCollate(pad 99)": (lambda: data.PadCollate(99), "pad_id must be a token id"),
    "seed 2**80": (
        lambda: data.disjoint_split(2, (1, 1, 1), seed=2**80),
        "seed must be an int from 0 to 2\\*\\*63 - 1",
    ),
    "create_add_dataset huge": (
        lambda: data.create_add_dataset(2, 10**9),
        "size must be 1 to 1,000,000",
    ),
    "make_loaders(None)": (lambda: data.make_loaders(None, 4), "dataset must be"),
    "construct_batches ids": (
        lambda: data.construct_batches(torch.tensor([[15, 99, 13, 1, 14]])),
        "0..17",
    ),
    "construct_batches '=' last": (
        lambda: data.construct_batches(torch.tensor([[15, 1, 10, 2, 13]])),
        "no answer",
    ),
    "TensorLoader mixed lengths": (
        lambda: data.TensorLoader(["15+57=072", "1+1=02"], 2),
        "same length",
    ),
    "complete_one (2, T)": (
        lambda: decoding.complete_one(GPTDecoder(SMALL), torch.stack([PROMPT, PROMPT])),
        "one prompt, a \\(T,\\) or \\(1, T\\)",
    ),
    "evaluate(None)": (
        lambda: decoding.evaluate(GPTDecoder(SMALL), None),
        "equations must be",
    ),
    "NoamSchedule(0, 10)": (lambda: NoamSchedule(0, 10), "d_model must be a positive"),
    "NoamSchedule step -1": (lambda: NoamSchedule(8, 10)(-1), "step must be 0 or more"),
    "train epochs=0": (lambda: training.train(FAST_RECIPE, epochs=0), "epochs"),
    "train epochs=True": (lambda: training.train(FAST_RECIPE, epochs=True), "bool"),
    "train epochs huge": (lambda: training.train(FAST_RECIPE, epochs=10**7), "1 to"),
    "train progress str": (
        lambda: training.train(FAST_RECIPE, progress="no"),
        "progress must be True or False",
    ),
    "train device gpu9": (
        lambda: training.train(FAST_RECIPE, device="gpu9"),
        "device must name",
    ),
    "train log 5": (lambda: training.train(FAST_RECIPE, log=5), "log must be callable"),
    "get_recipe(list)": (lambda: training.get_recipe(["fast"]), "recipe must be"),
    "train_step grad_clip": (
        lambda: training.train_step(None, None, None, None, -1.0),
        "grad_clip must be a positive",
    ),
    "validate empty": (lambda: training.validate(GPTDecoder(SMALL), []), "empty"),
    "carry_class 100": (lambda: carry_class(100, 1), "0 to 99"),
    "save history str": (
        lambda: checkpoints.save_checkpoint(GPTDecoder(SMALL), "x.pt", history="x"),
        "history must be",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CALLS))
def test_bad_calls_are_refused_in_one_line(name):
    call, message = BAD_CALLS[name]
    with pytest.raises((ValueError, TypeError), match=message) as info:
        call()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("grad_clip", -1.0, "grad_clip must be a positive"),
        ("grad_clip", float("nan"), "grad_clip must be a finite"),
        ("epochs", 0, "epochs must be a positive"),
        ("epochs", 2.0, "epochs must be an int"),
        ("lr", 0.0, "lr must be a positive"),
        ("warmup_epochs", -1.0, "warmup_epochs must be 0 or more"),
        ("init_seed", 2**80, "init_seed must be an int from 0"),
        ("split_seed", -1, "split_seed must be an int from 0"),
        ("fractions", (0.5, 0.5, 0.5), "fractions must be three"),
        ("disjoint_sizes", (0, 10, 10), "training split must not be empty"),
        ("disjoint_sizes", None, "sizes must be three"),
        ("dataset_size", 10**9, "dataset_size must be 1 to"),
        ("final_lr_fraction", 2.0, "final_lr_fraction must be in"),
        ("extra_epochs", -1, "extra_epochs must be a non-negative"),
        ("threads", 0, "threads must be a positive"),
        ("reverse_answer", "yes", "reverse_answer must be True or False"),
        ("betas", (0.9, 1.5), "betas must be two numbers"),
        ("model", None, "model must be a GPTConfig"),
        ("schedule", "cosine", "unknown schedule 'cosine'"),
    ],
)
def test_a_recipe_is_checked_when_it_is_made(field, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        replace(FAST_RECIPE, **{field: value})


def test_numpy_integers_are_integers_and_stored_as_int():
    recipe = replace(FAST_RECIPE, epochs=np.int64(3), init_seed=np.int32(7))
    assert type(recipe.epochs) is int and type(recipe.init_seed) is int
    assert recipe == replace(FAST_RECIPE, epochs=3, init_seed=7)  # the same cache key
    assert carry_class(np.int64(5), 5) == "carry into tens"
    with pytest.raises(TypeError, match="bool"):
        replace(FAST_RECIPE, epochs=True)


@pytest.mark.parametrize("length", [0, 12])
def test_the_decoder_refuses_a_sequence_of_no_tokens_or_too_many(model, length):
    with pytest.raises(ValueError, match="outside 1..max_seq_len=11"):
        model(torch.zeros(2, length, dtype=torch.long))
    with pytest.raises(ValueError, match="non-empty|max_seq_len"):
        decoding.greedy_decode(model, torch.zeros(2, length, dtype=torch.long) + 15)


def test_four_digit_split_is_drawn_without_listing_every_sum():
    start = time.perf_counter()
    train, val, test = data.disjoint_split(4, (10, 10, 10), seed=3)
    assert time.perf_counter() - start < 2
    everything = train + val + test
    assert len(set(everything)) == 30
    assert all(vocab.parse_equation(e)[2] == 4 for e in everything)
    assert (train, val, test) == data.disjoint_split(4, (10, 10, 10), seed=3)


# --- training mechanisms ---------------------------------------------------------------------
class NoStep:
    """The optimizer interface ``_step`` needs, changing nothing."""

    param_groups = [{"lr": 0.0}]

    def zero_grad(self, set_to_none: bool = True) -> None:
        pass

    def step(self) -> None:
        pass


class Oracle(nn.Module):
    """A 'decoder' that knows the answer: the logit of the right next token is 10, except
    where ``wrong_at`` says (position -> a wrong token) or at operand positions (garbage)."""

    def __init__(self, wrong_at=None):
        super().__init__()
        self.config = SMALL
        self.decoder_blocks = nn.ModuleList()
        self.weight = nn.Parameter(torch.zeros(1))
        self.wrong_at = wrong_at or {}

    def forward(self, x, padding_mask=None, cache=None):
        if cache is not None:
            raise ValueError(
                "the oracle keeps no cache: evaluate it with use_cache=False"
            )
        b, t = x.shape
        logits = torch.zeros(b, t, vocab.VOCAB_SIZE) + self.weight
        logits[:, :, 3] = 5.0  # operand positions: a confident "3", never graded
        for row in range(b):
            a = int(x[row, 1]) * 10 + int(x[row, 2])
            c = a + int(x[row, 4]) * 10 + int(x[row, 5])
            nxt = [int(ch) for ch in f"{c:03d}"] + [vocab.EOS]
            for k, token in enumerate(nxt):
                pos = 6 + k
                if pos < t:
                    token = self.wrong_at.get(pos, token)
                    logits[row, pos, token] = 10.0
        return logits


def _batch(equations):
    return torch.stack([vocab.encode_equation(e) for e in equations])


EQS = ["15+57=072", "99+99=198", "00+00=000", "55+45=100"]


def test_training_accuracy_grades_the_answer_and_never_the_padding():
    x = _batch(EQS)
    sgd = NoStep()
    _, correct = training._step(Oracle(), x, sgd, None, 1.0)
    assert correct == len(EQS)  # garbage at the operand (PAD-target) positions
    for pos in (6, 7, 8, 9):  # one wrong answer token, or a wrong <EOS>
        oracle = Oracle(wrong_at={pos: 4 if pos < 9 else vocab.PAD})
        _, correct = training._step(oracle, x, sgd, None, 1.0)
        assert correct == 0, pos


def test_evaluate_scores_an_oracle_as_perfect_and_a_wrong_digit_as_wrong():
    equations = data.all_equations(2)[::97]
    result = decoding.evaluate(Oracle(), equations, use_cache=False)
    assert (result.accuracy, result.num_correct) == (1.0, len(equations))
    wrong = decoding.evaluate(Oracle(wrong_at={8: 4}), equations, use_cache=False)
    expected = sum(e[-1] != "4" for e in equations)
    assert wrong.total - wrong.num_correct == expected
    stops = decoding.evaluate(Oracle(wrong_at={9: 3}), equations, use_cache=False)
    assert stops.num_correct == 0  # no <EOS>: nothing is complete


def test_the_validation_check_grades_the_answer_and_never_the_padding():
    tokens = _batch(EQS)
    assert answer_correct(Oracle(), tokens).tolist() == [True] * len(EQS)
    wrong = answer_correct(Oracle(wrong_at={7: 9}), tokens).tolist()
    assert wrong == [e[7] == "9" for e in EQS]


def test_validation_loss_is_computed_with_dropout_off():
    torch.manual_seed(1)
    droppy = GPTDecoder(replace(SMALL, dropout=0.5)).train()
    loader = data.TensorLoader(EQS, batch_size=2, shuffle=False)
    losses = [training.validate(droppy, loader) for _ in range(3)]
    assert droppy.training  # the mode is restored
    assert losses[0] == losses[1] == losses[2]  # no dropout noise
    droppy.eval()
    with torch.no_grad():
        expected = []
        for x in loader:
            batch = data.construct_batches(x)
            logits = droppy(batch.input, batch.padding_mask)
            expected.append(training.adder_loss(logits, batch.target).item())
    assert losses[0] == pytest.approx(sum(expected) / len(expected), rel=1e-6)


def test_reversed_answers_are_applied_to_every_split():
    recipe = replace(FAST_RECIPE, reverse_answer=True, disjoint_sizes=(200, 50, 50))
    loaders = training.build_data(recipe)
    plain = split_equations(recipe)
    for part, split in (
        ("train", loaders.train_set),
        ("val", loaders.val_set),
        ("test", loaders.test_set),
    ):
        got = data.split_strings(split)
        assert got == [data.reverse_answer(e) for e in plain[part]], part
    tokens = loaders.val_loader.tokens
    assert [vocab.decode(r) for r in tokens] == data.split_strings(loaders.val_set)


def test_learning_rate_floor_and_warmup_at_given_steps():
    factor = training.schedule_factor(FAST_RECIPE, 184)
    assert factor(0) == pytest.approx(1 / 92) and factor(91) == 1.0
    assert factor(8 * 184) == FAST_RECIPE.final_lr_fraction  # the floor, not 0
    assert factor(12 * 184 - 1) == FAST_RECIPE.final_lr_fraction
    noam = NoamSchedule(128, 84)
    peak = 128**-0.5 * 84**-0.5
    assert noam(83) == pytest.approx(peak) and noam(0) == pytest.approx(peak / 84)
    assert noam(4 * 84 - 1) == pytest.approx(peak / 2)


def test_train_step_never_applies_a_gradient_longer_than_grad_clip(model):
    twin = GPTDecoder(SMALL).train()
    twin.load_state_dict(model.state_dict())
    before = [p.detach().clone() for p in twin.parameters()]
    sgd = torch.optim.SGD(twin.parameters(), lr=1.0)
    training.train_step(twin, _batch(EQS), sgd, None, grad_clip=0.01)
    moved = torch.linalg.vector_norm(
        torch.stack(
            [
                (p.detach() - b).norm()
                for p, b in zip(twin.parameters(), before, strict=True)
            ]
        )
    )
    assert 0.009 < float(moved) <= 0.01 + 1e-6


# --- checkpoints: everything checked before a model is built --------------------------------
@pytest.fixture()
def good(tmp_path, model):
    return checkpoints.save_checkpoint(model, tmp_path / "good.pt")


def _variant(tmp_path, good, name, **change):
    payload = torch.load(good, weights_only=True)
    payload.update(change)
    torch.save(payload, tmp_path / name)
    return tmp_path / name


def test_a_huge_config_fails_fast_before_any_model_is_built(tmp_path, good):
    payload = torch.load(good, weights_only=True)
    for field, value in (("d_model", 2**20), ("num_layers", 10**6), ("d_ff", 2**30)):
        path = _variant(
            tmp_path, good, f"{field}.pt", config={**payload["config"], field: value}
        )
        start = time.perf_counter()
        with pytest.raises(ValueError, match=f"{field}|weights") as info:
            checkpoints.load_checkpoint(path)
        assert time.perf_counter() - start < 1.0
        assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_dtype_and_transposed_weights_are_refused(tmp_path, good):
    state = torch.load(good, weights_only=True)["state_dict"]
    half = _variant(
        tmp_path, good, "half.pt", state_dict={k: v.half() for k, v in state.items()}
    )
    with pytest.raises(ValueError, match="dtype torch.float16"):
        checkpoints.load_checkpoint(half)
    key = next(k for k, v in state.items() if v.dim() == 2 and v.shape[0] != v.shape[1])
    flipped = _variant(
        tmp_path, good, "t.pt", state_dict={**state, key: state[key].t().contiguous()}
    )
    with pytest.raises(ValueError, match=f"do not fit .*{key}"):
        checkpoints.load_checkpoint(flipped)


def test_a_pickle_that_runs_code_is_refused_without_running_it(tmp_path):
    """Would fail if ``weights_only=True`` were dropped: the pickle touches a marker."""
    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    path.write_bytes(
        pickle.dumps({"format": checkpoints.CHECKPOINT_FORMAT, "x": Evil()})
    )
    with pytest.raises(ValueError, match="refused unread") as info:
        checkpoints.load_checkpoint(path)
    assert not marker.exists()
    assert "\x1b" not in str(info.value) and "\n" not in str(info.value)
    torch_saved = tmp_path / "evil2.pt"
    torch.save({"x": Evil()}, torch_saved)
    with pytest.raises(ValueError, match="refused unread"):
        checkpoints.load_checkpoint(torch_saved)
    assert not marker.exists()


def test_special_files_are_named_not_called_directories(tmp_path):
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="it is a FIFO"):
        checkpoints.load_checkpoint(fifo)
    with pytest.raises(ValueError, match="it is a FIFO"):
        checkpoints.check_checkpoint_path(fifo)
    with pytest.raises(ValueError, match="character device"):
        checkpoints.load_checkpoint("/dev/null")


# --- saves that survive a crash --------------------------------------------------------------
def test_save_keeps_the_mode_and_removes_stale_temporaries(tmp_path, model):
    path = checkpoints.save_checkpoint(model, tmp_path / "m.pt")
    os.chmod(path, 0o604)  # a mode no umask gives a new file
    dead = subprocess.run(["true"]).returncode  # noqa: F841 - a pid that has exited
    stale = [tmp_path / "m.pt.abcd1234.tmp", tmp_path / "m.pt.999999999.0badf00d.tmp"]
    alive = tmp_path / f"m.pt.{os.getppid()}.0123abcd.tmp"  # a live process's save
    for p in [*stale, alive]:
        p.write_bytes(b"half")
    checkpoints.save_checkpoint(model, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o604
    assert not any(p.exists() for p in stale) and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.pt", alive.name])


def test_a_failed_save_leaves_the_old_file_and_no_temporary(
    tmp_path, model, monkeypatch
):
    path = checkpoints.save_checkpoint(model, tmp_path / "m.pt")
    before = path.read_bytes()
    calls = []

    def full_disk(fd):
        calls.append(fd)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.os, "fsync", full_disk)
    with pytest.raises(OSError, match="cannot write the checkpoint .*No space left"):
        checkpoints.save_checkpoint(GPTDecoder(SMALL), path)
    assert calls and path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_save_fsyncs_the_file_and_the_folder(tmp_path, model, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(checkpoints.os, "fsync", spy)
    checkpoints.save_checkpoint(model, tmp_path / "m.pt")
    assert synced == [False, True]  # the file, then the folder after the rename


def test_out_paths_symlink_trailing_slash_and_missing_folder(tmp_path, model):
    target = tmp_path / "real.pt"
    link = tmp_path / "link.pt"
    link.symlink_to(target)  # dangling until the save
    checkpoints.save_checkpoint(model, link)
    assert link.is_symlink() and target.is_file()
    with pytest.raises(ValueError, match="ends with '/'"):
        checkpoints.save_checkpoint(model, str(tmp_path / "newdir") + "/")
    assert not (tmp_path / "newdir").exists()
    deep = checkpoints.save_checkpoint(model, tmp_path / "a" / "b" / "m.pt")
    assert deep.is_file()


def test_a_corrupt_cache_entry_is_retrained_with_a_note(tmp_path, capsys, monkeypatch):
    recipe = replace(FAST_RECIPE, name="tiny", model=SMALL, disjoint_sizes=(64, 16, 16))
    path = checkpoints.cache_path(recipe, tmp_path)
    path.write_bytes(b"PK\x03\x04 truncated")
    trained = []

    def fake_train(recipe, progress=False):
        trained.append(recipe)
        return GPTDecoder(SMALL).eval(), training.History(recipe=recipe.name)

    monkeypatch.setattr(checkpoints, "train", fake_train)
    model, _ = checkpoints.trained_adder(recipe, cache_dir=tmp_path)
    assert trained and isinstance(model, GPTDecoder)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "retraining the cached adder" in err[0]
    checkpoints.load_checkpoint(path)  # the entry is whole again


# --- the command line ------------------------------------------------------------------------
def _cli(capsys, *argv):
    try:
        status = cli.main(list(argv))
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--seed", str(2**80)], "--seed: must be at most"),
        (["train", "--epochs", str(10**9)], "--epochs: must be at most 10000"),
        (["train", "--out", "missing_dir/"], "ends with '/'"),
        (["train", "--out", ""], "--out is empty"),
        (["evaluate", "--checkpoint", "/dev/zero"], "character device"),
    ],
)
def test_cli_faults_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "train", lambda *a, **k: pytest.fail("trained"))
    status, err = _cli(capsys, *argv)
    assert status == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "missing_dir").exists()


def test_cli_full_disk_is_one_line_and_leaves_no_file(tmp_path):
    code = (
        "import resource, signal, sys;"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000));"
        "from chapter3.adder import cli, training;"
        "from chapter3.gpt import GPTDecoder;"
        "cli.train = lambda *a, **k: (GPTDecoder(training.FAST_RECIPE.model),"
        " training.History(recipe='fast'));"
        "sys.exit(cli.main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "train", "--quiet", "--out", "m.pt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1, result.stderr
    assert "File too large" in err[0] and "m.pt" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_train_exits_130_without_a_traceback(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "chapter3.adder", "train", "--epochs", "2"]
        + ["--out", "m.pt"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        seen = []
        while not seen or "train (fast)" not in seen[-1]:  # training has begun
            seen.append(proc.stderr.readline())
            assert seen[-1], f"no progress line: {seen}"
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=300)
        rest = "".join(seen[:-1]) + rest
    finally:
        proc.kill()
    lines = [line for line in rest.strip().splitlines() if "train (fast)" not in line]
    assert proc.returncode == 130, rest
    assert lines == ["interrupted (Ctrl-C): nothing was saved"], rest
    assert list(tmp_path.iterdir()) == []


def test_recipe_class_is_frozen_and_checked():
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        Recipe(name="")


# --- properties: any input is either answered right or refused in one line ------------------
@given(st.integers(-(2**70), 2**70), st.integers(-3, 12))
def test_pad_number_pads_exactly_or_refuses(num, length):
    try:
        text = vocab.pad_number(num, length)
    except ValueError as error:
        assert "\n" not in str(error)
        assert num < 0 or length < 1 or len(str(num)) > length
    else:
        assert len(text) == length and int(text) == num


@given(
    st.lists(st.one_of(st.integers(-50, 50), st.booleans(), st.floats()), max_size=8)
)
def test_decode_names_every_id_or_refuses(ids):
    try:
        text = vocab.decode(ids)
    except (ValueError, TypeError) as error:
        assert "\n" not in str(error)
        assert any(
            isinstance(i, (bool, float)) or not 0 <= i < vocab.VOCAB_SIZE for i in ids
        )
    else:
        assert all(type(i) is int and 0 <= i < vocab.VOCAB_SIZE for i in ids)
        kept = [i for i in ids if i not in (vocab.BOS, vocab.EOS, vocab.PAD)]
        assert text == "".join(vocab.INDEX_TO_TOKEN[i] for i in kept)


@given(st.text(alphabet="0123456789+=-*x ", max_size=12))
def test_encode_equation_encodes_only_the_shape_a_plus_b_equals_c(text):
    try:
        ids = vocab.encode_equation(text)
    except ValueError as error:
        assert "\n" not in str(error)
        assert re.fullmatch(r"[0-9]+\+[0-9]+=[0-9]*", text) is None
    else:
        assert re.fullmatch(r"[0-9]+\+[0-9]+=[0-9]*", text) is not None
        assert vocab.decode(ids) == text


@given(st.lists(st.text(alphabet="0123456789+=-x٣", max_size=9), max_size=4))
def test_encode_equations_is_encode_equation_of_each_or_its_error(texts):
    try:
        tokens = vocab.encode_equations(texts)
    except (ValueError, TypeError) as error:
        assert "\n" not in str(error)
        try:
            one_by_one = [vocab.encode_equation(t) for t in texts]
        except ValueError as first:
            assert str(error) == str(first)  # the same message, naming the same text
        else:
            assert not texts or len({len(t) for t in one_by_one}) > 1
    else:
        assert torch.equal(
            tokens, torch.stack([vocab.encode_equation(t) for t in texts])
        )


def test_encode_equations_of_every_sum_and_of_their_reversed_answers():
    sums = data.all_equations(2)
    for texts in (sums, [data.reverse_answer(e) for e in sums[::7]]):
        expected = torch.stack([vocab.encode_equation(e) for e in texts])
        assert torch.equal(vocab.encode_equations(texts), expected)
    for bad in ("15+57=072", (), None):
        with pytest.raises((TypeError, ValueError)):
            vocab.encode_equations(bad)


@given(
    st.integers(0, 2**12),
    st.tuples(
        st.floats(0, 1, allow_nan=False),
        st.floats(0, 1, allow_nan=False),
        st.floats(0, 1, allow_nan=False),
    ),
)
def test_split_sizes_are_never_negative(n, fractions):
    total = sum(fractions)
    if total == 0:
        return
    fractions = tuple(f / total for f in fractions)
    try:
        sizes = data.split_sizes(n, fractions)
    except ValueError as error:
        assert "\n" not in str(error)
    else:
        assert sum(sizes) == n and min(sizes) >= 0
