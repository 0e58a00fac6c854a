"""The committed reference models: checked on load, the recipes they were trained with, and
``make reference`` (retraining into a scratch folder)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest
import torch

from chapter3.adder import reference
from chapter3.adder.reference import (
    REFERENCE_RECIPES,
    ReferenceModelError,
    recipe_fingerprint,
    reference_adder,
    verify_reference,
)
from chapter3.gpt import GPTConfig


@pytest.fixture
def scratch_reference(tmp_path, monkeypatch):
    """A copy of the reference folder that a test may damage."""
    folder = tmp_path / "reference"
    shutil.copytree(reference.REFERENCE_DIR, folder)
    monkeypatch.setattr(reference, "REFERENCE_DIR", folder)
    monkeypatch.setattr(reference, "MANIFEST", folder / "manifest.json")
    return folder


@pytest.mark.parametrize("name", sorted(REFERENCE_RECIPES))
def test_every_reference_loads_and_matches_its_manifest(name):
    model, history = reference_adder(name)
    entry = reference.read_manifest()[name]
    assert model.config == REFERENCE_RECIPES[name].model
    assert not model.training
    assert (history.steps, history.all_correct) == (
        entry["steps"],
        entry["all_correct"],
    )
    # a few hundred kB at most: they ship in the wheel
    assert reference.reference_path(name).stat().st_size < 400_000


@pytest.mark.parametrize("name", sorted(REFERENCE_RECIPES))
def test_the_references_were_trained_with_the_recipes_of_this_code(name):
    # Change a recipe and this fails until `make reference` retrains its model.
    entry = reference.read_manifest()[name]
    assert entry["recipe_fingerprint"] == recipe_fingerprint(REFERENCE_RECIPES[name]), (
        f"the recipe of reference {name!r} changed: run `make reference`"
    )


def test_the_references_are_the_models_the_book_describes():
    assert reference_adder("fast")[1].all_correct == 10_000
    assert len(reference_adder("early")[1].wrong) == 201
    from chapter3.adder.ablations import ablation_recipes

    assert ablation_recipes()["width 16, 2 heads"] == REFERENCE_RECIPES["small"]


@pytest.mark.parametrize("offset", [0, 1_000, -1])
def test_one_changed_byte_is_a_one_line_error(scratch_reference, offset):
    path = scratch_reference / "fast.pt"
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ReferenceModelError, match="has been altered") as caught:
        reference_adder("fast")
    assert "\n" not in str(caught.value)
    assert "git checkout" in str(caught.value)


def test_a_missing_reference_or_manifest_is_a_one_line_error(scratch_reference):
    (scratch_reference / "early.pt").unlink()
    with pytest.raises(ReferenceModelError, match="'early' is missing") as caught:
        reference_adder("early")
    assert "\n" not in str(caught.value)
    reference_adder("fast")  # the others still load
    (scratch_reference / "manifest.json").unlink()
    with pytest.raises(ReferenceModelError, match="manifest.json is missing"):
        verify_reference("fast")


def test_a_manifest_without_the_entry_or_unreadable(scratch_reference):
    manifest = scratch_reference / "manifest.json"
    entries = json.loads(manifest.read_text())
    del entries["small"]
    manifest.write_text(json.dumps(entries))
    with pytest.raises(ReferenceModelError, match="no entry for 'small'"):
        reference_adder("small")
    manifest.write_text("{not json")
    with pytest.raises(ReferenceModelError, match="unreadable"):
        reference_adder("fast")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown reference model 'slow'"):
        reference_adder("slow")
    with pytest.raises(TypeError, match="name must be a str"):
        reference_adder(1)


def test_retrain_writes_the_manifest_and_says_what_changed(tmp_path, monkeypatch):
    tiny = dataclasses.replace(
        REFERENCE_RECIPES["fast"],
        name="tiny",
        model=GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0),
        epochs=1,
        extra_epochs=0,
        disjoint_sizes=(500, 250, 250),
    )
    monkeypatch.setitem(reference.REFERENCE_RECIPES, "fast", tiny)
    lines = []
    manifest = reference.retrain(["fast"], out_dir=tmp_path, log=lines.append)
    assert lines[0].startswith("fast: new, ")
    entry = manifest["fast"]
    assert entry["sha256"] == reference.sha256_of(tmp_path / "fast.pt")
    assert entry["recipe_fingerprint"] == recipe_fingerprint(tiny)
    assert (
        entry["trained_on"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    )
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    # the same run again, on the same kernels: the same weights
    reference.retrain(["fast"], out_dir=tmp_path, log=lines.append)
    assert lines[1].endswith("(identical weights)"), lines[1]
    with pytest.raises(ValueError, match="unknown reference model"):
        reference.retrain(["nope"], out_dir=tmp_path)


def test_check_command_answers_in_one_line(scratch_reference):
    # in-process, so that the scratch folder is the one checked
    assert reference.main(["check"]) == 0
    (scratch_reference / "small.pt").write_bytes(b"x")
    assert reference.main(["check", "small"]) == 1


def test_check_command_from_the_shell():
    done = subprocess.run(
        [sys.executable, "-m", "chapter3.adder.reference", "check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("fast: ok (10000/10000 right")
    bad = subprocess.run(
        [sys.executable, "-m", "chapter3.adder.reference", "check", "nope"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
