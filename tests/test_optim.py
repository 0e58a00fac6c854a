"""LightAdam follows torch.optim.Adam + LambdaLR step for step, and the fast recipe's run
never imports torch's compiler stack."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from chapter3.adder.data import construct_batches, disjoint_split, encode_equation
from chapter3.adder.optim import LightAdam
from chapter3.adder.training import (
    FAST_RECIPE,
    adder_loss,
    init_positions,
    make_optimizer,
    schedule_factor,
)
from chapter3.gpt import GPTConfig, GPTDecoder

SMALL = replace(
    FAST_RECIPE,
    model=GPTConfig(d_model=16, num_heads=4, num_layers=1, d_ff=32, dropout=0.0),
    epochs=2,
)


def _twin_runs(steps: int = 25):
    """The same small decoder trained by both optimizers on the same batches."""
    train, _, _ = disjoint_split(2, (64, 0, 0), seed=0)
    x = torch.stack([encode_equation(e) for e in train])  # (64, L)
    models, optimizers = [], []
    for kind in ("torch", "light"):
        torch.manual_seed(0)
        model = GPTDecoder(SMALL.model)
        optimizer, scheduler = make_optimizer(model, replace(SMALL, optimizer=kind), 8)
        models.append(model)
        optimizers.append((optimizer, scheduler))
    for step in range(steps):
        batch = construct_batches(x[(step % 8) * 8 : (step % 8 + 1) * 8])
        for model, (optimizer, scheduler) in zip(models, optimizers, strict=True):
            loss = adder_loss(model(batch.input), batch.target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    return models, optimizers


def test_light_adam_follows_torch_adam_with_its_schedule():
    (ref, light), ((torch_opt, _), (light_opt, _)) = _twin_runs()
    assert isinstance(light_opt, LightAdam) and isinstance(torch_opt, torch.optim.Adam)
    for (name, a), b in zip(ref.named_parameters(), light.parameters(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=name)
    assert light_opt.param_groups[0]["lr"] == pytest.approx(
        torch_opt.param_groups[0]["lr"], rel=1e-12
    )


def test_light_adam_uses_the_schedule_of_each_step():
    factor = schedule_factor(SMALL, steps_per_epoch=4)
    w = torch.nn.Parameter(torch.zeros(3))
    opt = LightAdam([w], lr=0.5, schedule=factor)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        w.grad = torch.ones(3)
        opt.step()
    assert seen == pytest.approx([0.5 * factor(s) for s in range(6)])
    opt.zero_grad()
    assert w.grad is None


def test_light_adam_skips_parameters_without_gradients():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = LightAdam([a, b], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b.data, torch.ones(2)) and not torch.equal(a.data, torch.ones(2))
    opt.zero_grad()
    opt.step()  # no gradient at all: only the step count moves
    assert opt.t == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr": 0.0}, "lr must be a positive finite number"),
        ({"lr": float("nan")}, "lr must be a positive finite number"),
        ({"lr": "0.1"}, "lr must be a number"),
        ({"lr": 0.1, "betas": (0.9, 1.0)}, "betas must be two numbers in"),
        ({"lr": 0.1, "betas": (0.9,)}, "betas must be two numbers in"),
        ({"lr": 0.1, "eps": -1.0}, "eps must be 0 or more"),
    ],
)
def test_light_adam_rejects_bad_arguments(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LightAdam([torch.nn.Parameter(torch.zeros(1))], **kwargs)


def test_light_adam_needs_something_to_train():
    with pytest.raises(ValueError, match="at least one tensor"):
        LightAdam([torch.zeros(2)], lr=0.1)  # no requires_grad: nothing to train


def test_table_positions_have_the_token_embeddings_scale():
    torch.manual_seed(0)
    config = FAST_RECIPE.model
    notebook = GPTDecoder(config).pos_embed.abs().max().item()
    table = init_positions(GPTDecoder(config), "table").pos_embed.abs().max().item()
    length, width = config.max_seq_len, config.d_model
    small = (6 / (length * width + width)) ** 0.5  # Xavier on (1, L, D): fans L·D and D
    bound = (6 / (length + width)) ** 0.5  # Xavier on (L, D), like the token embedding
    assert notebook <= small < bound / 3 and 0.8 * bound < table <= bound
    with pytest.raises(ValueError, match="position_init must be 'notebook' or 'table'"):
        init_positions(GPTDecoder(config), "random")


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="recipe.optimizer must be 'torch' or 'light'"):
        make_optimizer(GPTDecoder(SMALL.model), replace(SMALL, optimizer="sgd"), 4)


def test_the_fast_recipe_never_imports_the_compiler_stack():
    """Building a torch.optim optimizer imports torch._dynamo (about a second); the fast
    recipe's whole run must not."""
    code = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from chapter3.adder.training import FAST_RECIPE, train\n"
        "train(replace(FAST_RECIPE, epochs=1, disjoint_sizes=(256, 64, 64)),"
        " progress=False)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
