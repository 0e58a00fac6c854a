"""One forward path and checks at the door.

- Decoding with and without the key/value cache is the same function: the committed reference
  adder gives the same tokens both ways (every 10th sum here, all 10,000 in the slow test).
- One decoder forward runs each input check at most once: the decoder checks at its door and
  its blocks run their sublayers unchecked (the check functions are counted with spies).
- The doors themselves: NaN/inf inputs, wrong widths, a wrong cache layer, rank or row index,
  and a device this machine does not have, each refused with a message that names it.
"""

from __future__ import annotations

import functools

import pytest
import torch

import chapter3.causal
import chapter3.gpt
import chapter3.kv_cache
import chapter3.masks
import chapter3.multihead
from chapter3._checks import check_device
from chapter3.adder.data import all_equations
from chapter3.adder.decoding import _prompts_and_answers, greedy_decode
from chapter3.adder.reference import reference_adder
from chapter3.gpt import AddNorm, GPTConfig, GPTDecoder, LayerNormWithStd
from chapter3.kv_cache import KVCache
from chapter3.masks import causal_attend_mask
from chapter3.multihead import MultiHeadAttention

SMALL = GPTConfig(d_model=16, num_heads=2, num_layers=2, d_ff=32)


@functools.cache
def _reference_prompts():
    model, _ = reference_adder("fast")
    prompts, full = _prompts_and_answers(all_equations(2))
    return model, prompts, full


def _cached_and_uncached(every: int):
    model, prompts, full = _reference_prompts()
    prompts, full = prompts[::every], full[::every]
    steps = full.size(1) - prompts.size(1)
    cached = greedy_decode(model, prompts, steps, use_cache=True)
    uncached = greedy_decode(model, prompts, steps, use_cache=False)
    return cached, uncached, full


def test_cached_and_uncached_decoding_agree_on_every_tenth_sum():
    cached, uncached, full = _cached_and_uncached(every=10)
    assert cached.shape == uncached.shape == (1_000, full.size(1))
    assert torch.equal(cached, uncached)
    # and the answers are the reference model's: right on these sums
    assert torch.equal(cached, full)


@pytest.mark.slow
def test_cached_and_uncached_decoding_agree_on_all_10000_sums():
    cached, uncached, full = _cached_and_uncached(every=1)
    assert cached.shape == (10_000, full.size(1))
    assert torch.equal(cached, uncached)
    assert int((cached == full).all(dim=1).sum()) == 10_000


def test_eval_mode_decoding_applies_no_dropout_with_or_without_the_cache():
    torch.manual_seed(0)
    model = GPTDecoder(GPTConfig(**{**SMALL.to_dict(), "dropout": 0.5})).eval()
    x = torch.randint(0, 16, (3, 9))
    full = model(x)
    cache = KVCache(num_layers=2)
    parts = [model(x[:, :4], cache=cache)]
    parts += [model(x[:, t : t + 1], cache=cache) for t in range(4, 9)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    # a model left in training mode is decoded in eval mode, and left in training mode
    model.train()
    prompts = x[:, :5]
    assert torch.equal(
        greedy_decode(model, prompts, 3, use_cache=True),
        greedy_decode(model.eval(), prompts, 3, use_cache=False),
    )
    model.train()
    greedy_decode(model, prompts, 3)
    assert model.training


# --- each check once per call -------------------------------------------------------------
DOOR_MODULES = (
    chapter3.gpt,
    chapter3.multihead,
    chapter3.causal,
    chapter3.kv_cache,
    chapter3.masks,
)


@pytest.fixture
def check_calls(monkeypatch):
    """Spy on every ``check_*`` function the decoder's modules call; count the calls."""
    calls: dict[str, int] = {}
    for module in DOOR_MODULES:
        for name in dir(module):
            function = getattr(module, name)
            if not (name.startswith("check_") and callable(function)):
                continue

            def spy(*args, _function=function, _name=name, **kwargs):
                calls[_name] = calls.get(_name, 0) + 1
                return _function(*args, **kwargs)

            monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize("with_cache", [False, True])
def test_one_decoder_forward_runs_each_check_at_most_once(check_calls, with_cache):
    torch.manual_seed(0)
    model = GPTDecoder(SMALL).eval()
    tokens = torch.randint(0, 16, (2, 7))
    padding = torch.ones(2, 7, dtype=torch.bool)
    cache = KVCache(num_layers=2) if with_cache else None
    check_calls.clear()
    model(tokens, padding, cache)
    assert check_calls.get("check_decoder_input") == 1  # the spies do see the door
    if with_cache:
        assert check_calls.get("check_cache") == 1
    twice = {name: n for name, n in check_calls.items() if n > 1}
    assert not twice, f"checks run more than once in one forward: {twice}"
    # the attention's own door check is not run inside the decoder at all
    assert "check_attention_input" not in check_calls


def test_the_attention_checks_its_input_once_when_used_on_its_own(check_calls):
    mha = MultiHeadAttention(4, 4, context_length=6, dropout=0.0, num_heads=2)
    check_calls.clear()
    mha(torch.rand(2, 6, 4))
    assert check_calls["check_attention_input"] == 1
    assert max(check_calls.values()) == 1, check_calls


# --- the doors ------------------------------------------------------------------------------
def test_a_nan_in_a_hidden_value_is_refused_not_spread():
    mha = MultiHeadAttention(4, 4, context_length=6, dropout=0.0, num_heads=2)
    x = torch.rand(1, 6, 4)
    x[0, 5, 2] = float("nan")  # the last position: no earlier query may see it
    with pytest.raises(ValueError, match="x holds 1 NaN or infinite value"):
        mha(x)
    x[0, 5, 2] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        mha(x)


def test_add_norm_and_layer_norm_with_std_name_a_wrong_width():
    add_norm = AddNorm(8, dropout=0.0)
    with pytest.raises(ValueError, match="built with d_model=8"):
        add_norm(torch.rand(2, 3, 5), torch.nn.Identity())
    with pytest.raises(ValueError, match="built with feature_dim=4"):
        LayerNormWithStd(4)(torch.rand(2, 3))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        add_norm([[1.0] * 8], torch.nn.Identity())


def test_cache_extend_and_select_rows_name_what_is_wrong():
    cache = KVCache(2)
    K = torch.rand(1, 2, 3, 4)
    with pytest.raises(ValueError, match=r"layer must be in 0..1 \(this cache has 2"):
        cache.extend(2, K, K)
    with pytest.raises(ValueError, match=r"layer must be in 0..1"):
        cache.extend(-1, K, K)
    with pytest.raises(TypeError, match="layer must be an int"):
        cache.extend(0.5, K, K)
    with pytest.raises(ValueError, match=r"K must be a 4-D \(B, H, T, d_k\) tensor"):
        cache.extend(0, K[0], K[0])
    with pytest.raises(ValueError, match="K and V must have the same shape"):
        cache.extend(0, K, K[..., :2])
    cache.extend(0, K, K)
    with pytest.raises(ValueError, match="this cache holds a batch of 1 rows"):
        cache.extend(0, torch.rand(2, 2, 1, 4), torch.rand(2, 2, 1, 4))
    with pytest.raises(ValueError, match=r"rows must lie in 0..0 \(this cache holds 1"):
        cache.select_rows(torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="rows must be a 1-D tensor"):
        cache.select_rows(torch.tensor([[0]]))
    with pytest.raises(TypeError, match="rows must hold integer row indices"):
        cache.select_rows(torch.tensor([0.0]))
    assert cache.select_rows(torch.tensor([0, 0])).keys[0].shape == (2, 2, 3, 4)


def test_the_cache_is_checked_at_the_attention_door_too():
    mha = MultiHeadAttention(4, 4, context_length=6, dropout=0.0, num_heads=2)
    cache = KVCache(1)
    mha(torch.rand(1, 4, 4), cache=cache)
    with pytest.raises(ValueError, match="exceed context_length=6"):
        mha(torch.rand(1, 3, 4), cache=cache)
    with pytest.raises(ValueError, match="layer must be in 0..0"):
        mha(torch.rand(1, 1, 4), cache=cache, layer=1)
    with pytest.raises(ValueError, match=r"cannot broadcast.*\(1, 2, 1, 5\)"):
        mha(torch.rand(1, 1, 4), torch.ones(1, 1, 1, 1, 4, dtype=torch.bool), cache)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_on_a_machine_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no usable CUDA device"):
        check_device("cuda")
    with pytest.raises(ValueError, match="no usable CUDA device"):
        causal_attend_mask(3, device="cuda")
    with pytest.raises(ValueError, match="must name a torch device"):
        check_device("gpu")
    assert check_device(None) == torch.device("cpu")
