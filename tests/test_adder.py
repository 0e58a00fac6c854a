import dataclasses
import pickle
from dataclasses import replace

import pytest
import torch

from chapter3.adder import (
    BOS,
    EOS,
    PAD,
    TOKEN_TO_INDEX,
    PadCollate,
    cli,
    construct_batches,
    create_add_dataset,
    decode,
    decoding,
    disjoint_split,
    encode_equation,
    load_checkpoint,
    make_loaders,
    save_checkpoint,
    split_strings,
    trained_adder,
    training,
)
from chapter3.adder.decoding import (
    evaluate,
    evaluate_one_by_one,
    greedy_decode,
    prefill_shared_prefixes,
    what_is,
)
from chapter3.adder.training import (
    FAST_RECIPE,
    ORIGINAL_RECIPE,
    NoamSchedule,
    adder_loss,
    build_data,
    make_schedule,
    train,
    validate,
)
from chapter3.gpt import GPTConfig, GPTDecoder
from chapter3.seeding import seed_all

# The fast recipe, shrunk: a smaller model on smaller disjoint splits, for two epochs.
TINY = dataclasses.replace(
    FAST_RECIPE,
    name="tiny",
    model=GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0),
    disjoint_sizes=(512, 128, 128),
    epochs=2,
    extra_epochs=0,
    lr=3e-3,
    evaluate_each_epoch=True,  # the notebook's per-epoch validation loss and test accuracy
)


def test_vocabulary_ids_are_the_seeds():
    assert len(TOKEN_TO_INDEX) == 18
    assert [TOKEN_TO_INDEX[t] for t in "+*-="] == [10, 11, 12, 13]
    assert [TOKEN_TO_INDEX[t] for t in ("<EOS>", "<BOS>", "<pad>", "??")] == [
        14,
        15,
        16,
        17,
    ]
    assert (EOS, BOS, PAD) == (14, 15, 16)


def test_first_equations_are_the_seeds():
    tensors, strings = create_add_dataset(2, 4)
    assert strings == ["15+57=072", "92+00=092", "95+53=148", "15+10=025"]
    assert tensors[0].tolist() == [15, 1, 5, 10, 5, 7, 13, 0, 7, 2, 14]
    assert decode(tensors[0]) == "15+57=072"


def test_loader_printout_of_seed_003():
    dataset, _ = create_add_dataset(2, 8)
    loaders = make_loaders(dataset, batch_size=2, fractions=(1, 0, 0), split_seed=1337)
    seed_all(133338)
    batches = [[decode(row) for row in batch] for batch in loaders.train_loader]
    assert batches == [
        ["95+53=148", "15+10=025"],
        ["34+90=124", "92+00=092"],
        ["12+20=032", "97+86=183"],
        ["90+38=128", "15+57=072"],
    ]


def test_collate_pickles_and_pads():
    collate = pickle.loads(pickle.dumps(PadCollate(PAD)))
    out = collate([torch.tensor([1, 2]), torch.tensor([3])])
    assert out.tolist() == [[1, 2], [3, PAD]]


def test_construct_batches_shapes_and_pad_masked_target():
    x = torch.stack([encode_equation(s) for s in ["90+38=128", "15+57=072"]])
    batch = construct_batches(x)
    assert batch.input.shape == (2, 10) and batch.target.shape == (2, 10)
    assert batch.padding_mask.shape == (2, 10)
    assert batch.input[0].tolist() == [15, 9, 0, 10, 3, 8, 13, 1, 2, 8]
    assert batch.target[1].tolist() == [16] * 6 + [0, 7, 2, 14]
    assert bool(batch.padding_mask.all())


def test_construct_batches_refuses_a_row_without_equal_sign():
    with pytest.raises(ValueError, match='exactly one "="'):
        construct_batches(torch.tensor([[15, 1, 2, 14]]))


def test_seed_split_overlaps_and_disjoint_split_does_not():
    loaders = build_data(ORIGINAL_RECIPE)
    train_set = set(split_strings(loaders.train_set))
    test = split_strings(loaders.test_set)
    assert (len(loaders.train_set), len(loaders.val_set), len(test)) == (
        7000,
        2000,
        1000,
    )
    assert len(train_set) == 5008  # distinct equations among the 7,000 drawn
    # test equations also seen in training
    assert sum(t in train_set for t in test) == 518
    train, val, test = disjoint_split(
        2, FAST_RECIPE.disjoint_sizes, FAST_RECIPE.split_seed
    )
    assert not (set(train) & set(test)) and not (set(train) & set(val))
    assert len(set(train)) == FAST_RECIPE.disjoint_sizes[0] <= 5000  # at most half


def test_noam_peaks_at_the_end_of_warm_up():
    f = NoamSchedule(d_model=128, warmup_steps=84)
    values = [f(s) for s in range(300)]
    assert max(range(300), key=values.__getitem__) == 83
    assert abs(0.2 * values[83] - 0.2 * 128**-0.5 * 84**-0.5) < 1e-12


def test_make_schedule_builds_each_recipes_factor():
    def optimizer(lr):
        return torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=lr)

    noam = make_schedule(optimizer(0.2), "original", steps_per_epoch=28).lr_lambdas[0]
    assert isinstance(noam, NoamSchedule)
    assert (noam.d_model, noam.warmup_steps) == (128, 84)
    opt = optimizer(FAST_RECIPE.lr)
    sched = make_schedule(opt, FAST_RECIPE, steps_per_epoch=125)
    linear = sched.lr_lambdas[0]
    assert (linear.warmup_steps, linear.total_steps) == (63, FAST_RECIPE.epochs * 125)
    for _ in range(62):
        opt.step()
        sched.step()
    # the last warm-up step is the peak
    assert opt.param_groups[0]["lr"] == FAST_RECIPE.lr
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        make_schedule(optimizer(1.0), replace(FAST_RECIPE, schedule="cosine"), 10)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        make_schedule(optimizer(1.0), FAST_RECIPE, 0)


def test_loss_example_of_seed_003_by_loop_and_in_one_call():
    B, L, V = 2, 3, 4
    logits = torch.randn(B, L, V, generator=torch.Generator().manual_seed(42))
    targets = torch.randint(0, V, (B, L), generator=torch.Generator().manual_seed(42))
    ce = torch.nn.CrossEntropyLoss()
    loop = sum(
        ce(logits[i, j][None], targets[i, j][None]) for i in range(B) for j in range(L)
    )
    assert f"{float(loop / (B * L)):.4f}" == "1.7008"
    assert torch.allclose(ce(logits.permute(0, 2, 1), targets), loop / (B * L))
    assert torch.allclose(adder_loss(logits, targets), loop / (B * L))


def test_ignore_index_drops_pad_positions_from_the_mean():
    logits = torch.randn(1, 3, 18, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([[PAD, 4, PAD]])
    expected = torch.nn.functional.cross_entropy(logits[0, 1:2], target[0, 1:2])
    assert torch.allclose(adder_loss(logits, target), expected)


def test_short_training_lowers_the_loss():
    seed_all(TINY.init_seed)
    untrained = validate(GPTDecoder(TINY.model), build_data(TINY).val_loader)
    model, history = train(TINY, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_loss[-1] < history.val_loss[0] < untrained
    assert len(history.test_accuracy) == 2 and history.train_coverage == 512
    assert history.test_in_train == 0


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return GPTDecoder(TINY.model).eval()


def test_batched_decoding_equals_the_loop(tiny_model):
    equations = disjoint_split(2, (0, 0, 60), 3)[2]
    batched = evaluate(tiny_model, equations)
    uncached = evaluate(tiny_model, equations, use_cache=False)
    loop = evaluate_one_by_one(tiny_model, equations)
    assert batched.wrong == loop.wrong == uncached.wrong
    assert batched.accuracy == loop.accuracy and batched.total == 60
    # an untrained model: the comparison covers wrong answers too
    assert len(loop.wrong) > 0


def test_greedy_decode_with_and_without_cache_gives_the_same_tokens(tiny_model):
    prompts = torch.stack(
        [encode_equation(e)[:7] for e in disjoint_split(2, (0, 0, 40), 5)[2]]
    )
    assert torch.equal(
        greedy_decode(tiny_model, prompts),
        greedy_decode(tiny_model, prompts, use_cache=False),
    )


def test_shared_prefixes_are_computed_once_and_decode_like_the_loop(tiny_model):
    # 200 questions of the fast recipe's test split share few "<BOS>ab+" prefixes
    equations = disjoint_split(2, FAST_RECIPE.disjoint_sizes, FAST_RECIPE.split_seed)[
        2
    ][:200]
    prompts = torch.stack([encode_equation(e)[:7] for e in equations])  # (200, 7)
    with torch.inference_mode():
        cache, shared = prefill_shared_prefixes(tiny_model, prompts, max_len=11)
        assert shared == 4 and cache.length == 4
        # the shared keys and values, then the rest of each prompt: the full pass's last logits
        rest = tiny_model(prompts[:, 4:], prompts != PAD, cache)
        assert torch.allclose(rest[:, -1], tiny_model(prompts)[:, -1], atol=1e-5)
    batched, loop = (
        evaluate(tiny_model, equations),
        evaluate_one_by_one(tiny_model, equations),
    )
    assert batched.wrong == loop.wrong and len(loop.wrong) > 0


def test_shared_prefixes_edge_cases(tiny_model):
    one = encode_equation("15+57=072")[None, :7]
    # nothing to share
    assert prefill_shared_prefixes(tiny_model, one, max_len=11)[1] == 0
    all_differ = torch.tensor([[1, 2], [3, 4]])
    assert prefill_shared_prefixes(tiny_model, all_differ, max_len=11)[1] == 0
    bad = torch.tensor([[15, 1, 5], [15, 1, 18]])
    with pytest.raises(
        ValueError, match=r"token ids must lie in 0..17, got values in 1..18"
    ):
        prefill_shared_prefixes(tiny_model, bad, max_len=11)
    assert greedy_decode(tiny_model, one).shape[0] == 1


def test_checkpoint_round_trip(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "m.pt")
    loaded, history = load_checkpoint(path, expected_config=TINY.model)
    assert history is None
    x = torch.randint(0, 14, (3, 8))
    assert torch.equal(loaded(x), tiny_model(x))


def test_checkpoint_of_another_config_is_a_clear_error(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "m.pt")
    with pytest.raises(
        ValueError, match=r"another configuration: d_model=16 \(expected 128\)"
    ):
        load_checkpoint(path, expected_config=GPTConfig())


def test_checkpoint_whose_weights_do_not_fit_its_config(tmp_path, tiny_model):
    path = save_checkpoint(tiny_model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"]["d_model"] = 32
    torch.save(payload, path)
    with pytest.raises(ValueError, match="do not fit the configuration"):
        load_checkpoint(path)


def test_missing_checkpoint_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m chapter3.adder train --out"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("question", ["1a+2=", "123+4=", "12+34", "", "+="])
def test_bad_questions(question, tiny_model):
    with pytest.raises(ValueError, match=r"expected a question of the form 'a\+b='"):
        what_is(question, tiny_model)


def test_what_is_pads_and_answers(tiny_model, monkeypatch):
    seen = []

    def says(tokens):
        def fake(model, prompts, max_new_tokens=4):
            seen.append(prompts.tolist())
            return torch.cat([prompts, torch.tensor([tokens])], dim=1)

        return fake

    monkeypatch.setattr(decoding, "greedy_decode", says([0, 9, 6, EOS]))
    assert what_is("6+90=", tiny_model) == "6+90=096"
    assert seen == [encode_equation("06+90=")[None, :-1].tolist()]  # zero-padded prompt
    for bad in ([0, 9, EOS, PAD], [0, 9, 6, 7], [0, 9, 10, EOS], [BOS, 9, 6, EOS]):
        monkeypatch.setattr(decoding, "greedy_decode", says(bad))
        with pytest.raises(
            ValueError, match="did not answer '6\\+90=' with three digits"
        ):
            what_is("6+90=", tiny_model)


def test_trained_adder_trains_once_then_loads(tmp_path):
    recipe = replace(TINY, epochs=1)
    model, history = trained_adder(recipe, cache_dir=tmp_path)
    files = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert len(files) == 1 and files[0].startswith("adder-tiny-")
    again, history2 = trained_adder(recipe, cache_dir=tmp_path)
    assert history2.train_loss == history.train_loss
    assert history2.wall_seconds == history.wall_seconds
    x = torch.randint(0, 14, (2, 7))
    assert torch.equal(again(x), model(x))


def test_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "DEFAULT_CHECKPOINT", tmp_path / "default.pt")
    out = tmp_path / "cli.pt"
    monkeypatch.setitem(training.RECIPES, "fast", replace(TINY, name="fast"))
    assert cli.main(["train", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    assert out.is_file()
    # A one-epoch model may not answer in three digits: what_is then refuses its answer
    status = cli.main(["ask", "15+57=", "--checkpoint", str(out)])
    captured = capsys.readouterr()
    if status == 0:
        assert captured.out.strip().splitlines()[-1].startswith("15+57=")
    else:
        assert status == 2 and "did not answer '15+57='" in captured.err
    assert cli.main(["evaluate", "--checkpoint", str(out), "--show-wrong", "1"]) == 0
    assert "exact match on the 128 test equations" in capsys.readouterr().out
    assert cli.main(["ask", "12+34", "--checkpoint", str(out)]) == 2
    assert "expected a question" in capsys.readouterr().err
    assert cli.main(["ask", "1+2=", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "python -m chapter3.adder train --out" in capsys.readouterr().err


def test_validate_is_deterministic_and_restores_mode(tiny_model):
    loaders = build_data(TINY)
    tiny_model.train()
    a = validate(tiny_model, loaders.val_loader)
    b = validate(tiny_model, loaders.val_loader)
    assert a == b and tiny_model.training
    tiny_model.eval()


def test_greedy_decode_returns_an_ordinary_tensor(tiny_model):
    out = greedy_decode(tiny_model, encode_equation("15+57=072")[None, :7])
    assert not out.is_inference()
    out[0, -1] = PAD  # an inference tensor would refuse this outside inference mode
