"""The train command's shortcuts give the numbers of the long way: batches built once per
run, clipping without torch's parameter walk, all equations without per-pair checks, and
the final score from one teacher-forced pass plus decoding of the sums it cannot vouch for.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from chapter3.adder import training
from chapter3.adder.data import all_equations
from chapter3.adder.exhaustive import evaluate_all, score_all
from chapter3.adder.optim import clip_grad_norm
from chapter3.adder.reference import reference_adder
from chapter3.adder.training import FAST_RECIPE
from chapter3.adder.vocab import equation_to_string
from chapter3.gpt import GPTConfig, GPTDecoder

TINY = replace(
    FAST_RECIPE,
    name="tiny",
    model=GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0),
    disjoint_sizes=(512, 128, 128),
    epochs=1,
    extra_epochs=0,
    repeat_cascades=2,
)


def _same_result(fast, full) -> None:
    assert fast.num_correct == full.num_correct
    assert fast.parts == full.parts
    assert fast.wrong == full.wrong


@pytest.mark.parametrize("name", ["early", "fast"])
def test_score_all_equals_full_decoding_on_the_references(name):
    model, _ = reference_adder(name)
    recipe = training.FAST_RECIPE
    fast, full = score_all(model, recipe), evaluate_all(model, recipe)
    _same_result(fast, full)
    if name == "early":  # the half-trained reference gets some sums wrong
        assert 0 < len(full.wrong) < 1000


def test_score_all_equals_full_decoding_on_an_untrained_model():
    torch.manual_seed(0)
    model = GPTDecoder(FAST_RECIPE.model).eval()
    fast, full = score_all(model, FAST_RECIPE), evaluate_all(model, FAST_RECIPE)
    _same_result(fast, full)
    assert full.num_correct < 100


def test_score_all_decodes_near_ties_for_real():
    """Logits scaled down until leads are tiny: the margin, not the arg-max, decides which
    sums are decoded, and the result is still full decoding's."""
    model, _ = reference_adder("early")
    with torch.no_grad():
        model.head.weight.mul_(1e-4)
        model.head.bias.mul_(1e-4)
    fast, full = score_all(model, FAST_RECIPE), evaluate_all(model, FAST_RECIPE)
    _same_result(fast, full)


def test_score_all_with_reversed_answers():
    recipe = replace(FAST_RECIPE, reverse_answer=True)
    model, _ = reference_adder("early")  # trained on the ordinary format: many wrong
    fast, full = score_all(model, recipe), evaluate_all(model, recipe)
    _same_result(fast, full)
    assert full.wrong and all("=" in expected for expected, _, _ in full.wrong)


@pytest.mark.parametrize("margin", [0, -1.0, True, "1e-3"])
def test_score_all_refuses_a_bad_margin(margin):
    model = GPTDecoder(FAST_RECIPE.model)
    with pytest.raises(ValueError, match="margin must be a positive number"):
        score_all(model, FAST_RECIPE, margin=margin)


def _one_epoch(prepared: bool) -> dict[str, torch.Tensor]:
    """One epoch of TINY, with the run's prepared batches or with the loader and
    ``train_step``, from the same seed."""
    torch.manual_seed(TINY.init_seed)
    loaders = training.build_data(TINY)
    model = training.init_positions(GPTDecoder(TINY.model), TINY.position_init)
    optimizer, _ = training.make_optimizer(model, TINY, len(loaders.train_loader))
    torch.manual_seed(7)  # the permutation of the epoch
    if prepared:
        params = list(model.parameters())
        batches = training._TeacherForcing(loaders.train_loader, "cpu")
        for batch in batches:
            training._prepared_step(model, params, batch, optimizer, TINY.grad_clip)
    else:
        for x in loaders.train_loader:
            training.train_step(model, x, optimizer, None, TINY.grad_clip)
    return model.state_dict()


def test_prepared_batches_train_the_same_weights_to_the_bit():
    long_way, prepared = _one_epoch(prepared=False), _one_epoch(prepared=True)
    assert all(torch.equal(long_way[k], prepared[k]) for k in long_way)


def test_prepared_batches_are_the_loaders_batches():
    loaders = training.build_data(TINY)
    prepared = training._TeacherForcing(loaders.train_loader, "cpu")
    assert len(prepared) == len(loaders.train_loader)
    torch.manual_seed(3)
    expected = [training.construct_batches(x) for x in loaders.train_loader]
    torch.manual_seed(3)
    got = list(prepared)
    assert len(got) == len(expected)
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a.input, b.input) and torch.equal(a.target, b.target)
        # equations of one length: no padding, so the prepared batch carries no mask
        assert a.padding_mask.all() and b.padding_mask is None


def test_prepared_batches_keep_a_padding_mask_that_hides_something():
    loaders = training.build_data(TINY)
    prepared = training._TeacherForcing(loaders.train_loader, "cpu")
    prepared.all.padding_mask[0, -1] = False  # one padded position among them
    prepared.padded = True
    torch.manual_seed(3)
    masks = [batch.padding_mask for batch in prepared]
    assert all(m is not None for m in masks)
    assert sum(int((~m).sum()) for m in masks) == 1


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_clip_grad_norm_is_torchs_to_the_bit(scale):
    torch.manual_seed(1)
    grads = [torch.randn(5, 3) * scale, torch.randn(7) * scale, torch.randn(2, 2, 2)]
    params = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    mine = [g.clone() for g in grads]
    expected_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    norm = clip_grad_norm(mine, 1.0)
    assert torch.equal(norm, expected_norm)
    assert all(torch.equal(p.grad, g) for p, g in zip(params, mine, strict=True))


@pytest.mark.parametrize("num_digits", [1, 2, 3])
def test_all_equations_is_equation_to_string_of_every_pair(num_digits):
    high = 10**num_digits
    expected = [
        equation_to_string(a, b, num_digits) for a in range(high) for b in range(high)
    ]
    assert all_equations(num_digits) == expected


def test_score_all_decodes_only_what_it_cannot_confirm(monkeypatch):
    """On the early reference, the sums decoded for real are its wrong ones and at most a
    few near ties, not all 10,000."""
    from chapter3.adder import exhaustive

    decoded = []
    real = exhaustive._evaluate_strings

    def counting(model, equations, *args):
        decoded.extend(equations)
        return real(model, equations, *args)

    monkeypatch.setattr(exhaustive, "_evaluate_strings", counting)
    model, _ = reference_adder("early")
    result = score_all(model, FAST_RECIPE)
    assert {expected for expected, _, _ in result.wrong} <= set(decoded)
    assert len(result.wrong) <= len(decoded) <= len(result.wrong) + 50


def test_train_command_freezes_the_import_time_objects_before_training(
    tmp_path, monkeypatch
):
    """The objects alive when training starts are frozen, so the collections training
    triggers do not walk them again; the check stops the command at ``train``."""
    import gc

    from chapter3.adder import cli

    seen = []

    def record(*args, **kwargs):
        seen.append(gc.get_freeze_count())
        raise ValueError("stopped here by the test")

    monkeypatch.setattr(cli, "train", record)
    gc.unfreeze()
    try:
        status = cli.main(["train", "--quiet", "--out", str(tmp_path / "m.pt")])
    finally:
        gc.unfreeze()
    assert status == 2 and len(seen) == 1
    assert seen[0] > 10_000


@pytest.mark.parametrize("keys", [1, 2, 5, 10, 15, 16, 24])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_masked_softmax_is_torch_softmax_of_the_masked_scores(keys, dtype):
    """Every key count on each side of the short-last-dimension path: the weights and
    their gradients are torch's to rounding, and a row with no visible key is zeros."""
    from chapter3.masks import masked_softmax

    torch.manual_seed(keys)
    scores = (torch.randn(3, 4, 7, keys, dtype=dtype) * 4).requires_grad_()
    attend = torch.rand(3, 1, 7, keys) < 0.7
    attend[0, 0, 2] = False  # a row with nothing visible
    upstream = torch.randn(3, 4, 7, keys, dtype=dtype)

    weights = masked_softmax(scores, attend)
    (grad,) = torch.autograd.grad((weights * upstream).sum(), scores)
    masked = scores.masked_fill(~attend, float("-inf"))
    expected = torch.softmax(masked, dim=-1).nan_to_num(0.0)
    (expected_grad,) = torch.autograd.grad((expected * upstream).sum(), scores)

    torch.testing.assert_close(weights, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=1e-5)
    assert torch.equal(weights[0, :, 2], torch.zeros(4, keys, dtype=dtype))
    assert weights.shape == scores.shape


def test_masked_softmax_short_rows_propagate_nan_to_their_row_only():
    from chapter3.masks import masked_softmax

    scores = torch.zeros(2, 3, 10)
    scores[1, 2, 4] = float("nan")
    weights = masked_softmax(scores, torch.ones(10, dtype=torch.bool))
    assert weights[1, 2].isnan().all()
    assert not weights[0].isnan().any() and not weights[1, :2].isnan().any()
    assert torch.allclose(weights[0], torch.full((3, 10), 0.1))
