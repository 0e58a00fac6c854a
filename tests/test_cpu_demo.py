"""The demonstration of the reproducibility page: comparing runs, training in a child process,
and the record of what the full recipes did under each capability."""

from __future__ import annotations

import pytest
import torch

from chapter3.adder.reference import provenance
from chapter3.cpu_demo import (
    CHILD_RECIPES,
    DEMO_RECIPE,
    ONE_MACHINE,
    Run,
    compare_runs,
    train_in_subprocess,
    weights_sha256,
)


def make_run(state, wrong=None, capability="AVX512") -> Run:
    return Run(
        requested=None,
        capability=capability,
        torch_version=torch.__version__,
        steps=184,
        train_loss=1.0,
        all_correct=10_000 - len(wrong or {}),
        wrong=dict(wrong or {}),
        state_dict=state,
        seconds=0.0,
    )


def test_weights_sha256_sees_names_order_and_bits():
    a = {"w": torch.ones(2), "b": torch.zeros(1)}
    assert weights_sha256(a) == weights_sha256({k: v.clone() for k, v in a.items()})
    assert weights_sha256(a) != weights_sha256(
        {"b": torch.zeros(1), "w": torch.ones(2)}
    )
    assert weights_sha256(a) != weights_sha256(
        {"v": torch.ones(2), "b": torch.zeros(1)}
    )
    nudged = torch.nextafter(torch.ones(2), torch.full((2,), 2.0))
    assert weights_sha256(a) != weights_sha256({"w": nudged, "b": torch.zeros(1)})


def test_compare_identical_runs():
    state = {"w": torch.arange(4.0)}
    same = compare_runs(make_run(state), make_run({"w": torch.arange(4.0)}))
    assert same.identical and same.largest_weight_difference == 0.0
    assert same.answered_differently == 0


def test_compare_counts_weights_and_answers():
    a = make_run(
        {"w": torch.zeros(3)}, {"15+57=072": "15+57=073", "99+99=198": "99+99=197"}
    )
    b = make_run(
        {"w": torch.tensor([0.0, -0.25, 0.125])},
        {"15+57=072": "15+57=073", "00+01=001": "00+01=002"},
    )
    diff = compare_runs(a, b)
    assert not diff.identical
    assert diff.largest_weight_difference == 0.25
    # 15+57: the same wrong answer; 99+99 and 00+01: right in one model only
    assert diff.answered_differently == 2
    assert (
        compare_runs(
            a, make_run({"w": torch.zeros(3)}, {"15+57=072": "15+57=074"})
        ).answered_differently
        == 2
    )


def test_compare_refuses_other_architectures():
    with pytest.raises(ValueError, match="different parameters"):
        compare_runs(make_run({"w": torch.zeros(1)}), make_run({"v": torch.zeros(1)}))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recipe": "slow"}, "unknown recipe 'slow'"),
        ({"capability": ""}, "capability must be"),
        ({"capability": 2}, "capability must be"),
    ],
)
def test_train_in_subprocess_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_in_subprocess(**kwargs)


def test_demo_recipe_is_one_epoch_of_the_fast_recipe():
    assert DEMO_RECIPE.epochs == 1 and DEMO_RECIPE.extra_epochs == 0
    assert CHILD_RECIPES["fast-1-epoch"] is DEMO_RECIPE
    assert set(CHILD_RECIPES) >= {"fast", "early", "small"}


def test_record_agrees_with_the_reference_manifest():
    """ONE_MACHINE's own-kernel runs are the runs that trained the committed references."""
    for name in ("fast", "early"):
        entry = provenance(name)
        assert ONE_MACHINE[name][None] == (entry["steps"], entry["all_correct"])
        assert entry["trained_on"]["cpu_capability"] == "AVX512"
        assert entry["trained_on"]["torch"] in ONE_MACHINE["machine"]


@pytest.mark.slow
def test_same_kernels_same_model_in_two_processes():
    """Two fresh processes with the scalar kernels train the same weights, bit for bit."""
    first = train_in_subprocess("default")
    second = train_in_subprocess("default")
    assert first.capability == second.capability == "DEFAULT"
    assert first.steps == second.steps == 184
    assert first.weights_sha256 == second.weights_sha256
    assert compare_runs(first, second).identical
