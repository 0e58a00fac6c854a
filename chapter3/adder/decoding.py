"""Inference for the adder: greedy decoding, exact-match accuracy, ``what_is``, a benchmark.

Two decoders give the same answers. :func:`greedy_decode` completes a whole batch of
questions at once (four forward passes for the whole test split, after computing the prompt
prefixes that questions share once each: :func:`prefill_shared_prefixes`);
:func:`complete_one` is the adder notebook's ``compute_sum``, one question at a time, kept as
the slow reference.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import Dataset

from chapter3._checks import check_bool, check_decoder_model, check_positive_int
from chapter3.adder.data import split_strings
from chapter3.adder.vocab import (
    EOS,
    EQUAL,
    PAD,
    decode,
    encode_equation,
    parse_equation,
    parse_question,
)
from chapter3.kv_cache import KVCache
from chapter3.masks import padding_attend_mask


@contextmanager
def _eval_mode(model: nn.Module):
    """Switch dropout off for the duration, then restore the previous mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _check_prompts(model: nn.Module, prompts, max_new_tokens) -> torch.Tensor:
    """Check the arguments of :func:`greedy_decode`; return the number of leading <pad> per row."""
    check_decoder_model(model)
    if not isinstance(prompts, torch.Tensor):
        raise TypeError(
            f"prompts must be a (B, T) tensor of token ids, got {type(prompts).__name__}"
        )
    if (
        prompts.is_floating_point()
        or prompts.is_complex()
        or prompts.dtype == torch.bool
    ):
        raise TypeError(
            f"prompts must hold integer token ids (torch.long), got dtype {prompts.dtype}"
        )
    if prompts.dim() != 2 or prompts.numel() == 0:
        raise ValueError(
            f"prompts must be a non-empty (B, T) batch of ids, got shape {tuple(prompts.shape)}"
        )
    max_new_tokens = check_positive_int(max_new_tokens, "max_new_tokens")
    vocab_size, max_seq_len = model.config.vocab_size, model.config.max_seq_len
    if int(prompts.min()) < 0 or int(prompts.max()) >= vocab_size:
        raise ValueError(
            f"prompt token ids must lie in 0..{vocab_size - 1}, got values in "
            f"{int(prompts.min())}..{int(prompts.max())}"
        )
    # leading[b]: how many <pad> open row b (left padding, stripped before decoding)
    leading = (prompts != PAD).long().cumsum(dim=1).eq(0).sum(dim=1)  # (B,)
    if bool((leading == prompts.size(1)).any()):
        row = int((leading == prompts.size(1)).nonzero()[0])
        raise ValueError(
            f"prompts row {row} is all <pad>: there is nothing to complete"
        )
    # the longest prompt without its padding
    longest = prompts.size(1) - int(leading.min())
    if longest + max_new_tokens - 1 > max_seq_len:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} after a prompt of {longest} tokens needs "
            f"{longest + max_new_tokens - 1} positions, but the model has max_seq_len="
            f"{max_seq_len}"
        )
    return leading


def greedy_decode(
    model: nn.Module,
    prompts: torch.Tensor,
    max_new_tokens: int = 4,
    use_cache: bool = True,
) -> torch.Tensor:
    """Complete every row of ``prompts`` (B, T) by repeatedly appending the arg-max token.

    All rows are decoded together; a row that has produced ``<EOS>`` gets ``<pad>`` from then
    on, and the loop stops early once every row has finished. Returns (B, T + k), k ≤
    ``max_new_tokens``. With ``use_cache`` (a :class:`chapter3.kv_cache.KVCache` passed to the
    model's ``forward``) the prompt positions that rows share are computed once
    (:func:`prefill_shared_prefixes`), the rest of each prompt once per row, and each later
    step runs the model on the new token only; without it, each step reruns the whole
    sequence. Both give the same answers.

    Prompts of different lengths may be left-padded with ``<pad>``: the padding is stripped
    before decoding (rows with the same amount of it are decoded together), so that the real
    tokens sit at the positions they had in training, and a left-padded prompt gets exactly the
    answer of the unpadded one. The padding is kept in the returned rows.
    """
    leading = _check_prompts(model, prompts, max_new_tokens)
    check_bool(use_cache, "use_cache")
    x = prompts.long().to(_device(model))
    if not bool(leading.any()):
        return greedy_decode_aligned(model, x, max_new_tokens, use_cache)
    groups = {
        pad: (leading == pad).nonzero().flatten() for pad in leading.unique().tolist()
    }
    outputs = {
        pad: greedy_decode_aligned(
            model, x[rows.to(x.device), pad:], max_new_tokens, use_cache
        )
        for pad, rows in groups.items()
    }
    width = max(pad + out.size(1) for pad, out in outputs.items())  # T + k
    result = torch.full((x.size(0), width), PAD, dtype=torch.long, device=x.device)
    for pad, rows in groups.items():
        out = outputs[pad]
        result[rows.to(x.device), pad : pad + out.size(1)] = out
    return result


def greedy_decode_aligned(
    model: nn.Module, x: torch.Tensor, max_new_tokens: int, use_cache: bool
) -> torch.Tensor:
    """The loop of :func:`greedy_decode`, for prompts ``x`` (B, T) with no left padding.

    ``x`` must already be on the model's device; :func:`greedy_decode` checks its arguments,
    strips left padding and then calls this.
    """
    finished = torch.zeros(x.size(0), dtype=torch.bool, device=x.device)  # (B,)
    cache, new = None, x  # without a cache, every step reruns the whole sequence x
    # inference_mode: like no_grad, and tensors skip autograd's version counting as well
    with _eval_mode(model), torch.inference_mode():
        # prefixes that rows share are computed once, then the rest per row
        if use_cache:
            # room for every position the model sees (the last new token never goes in)
            max_len = x.size(1) + max_new_tokens - 1
            cache, shared = prefill_shared_prefixes(model, x, max_len)
            new = x[:, shared:]  # (B, T - shared)
        for _ in range(max_new_tokens):
            # Same masks as the one-by-one loop: padding (should the model emit <pad>)
            # and the causal mask (inside every attention module). With a cache, the
            # model computes the new tokens only.
            logits = model(new, padding_attend_mask(x, PAD), cache)  # (B, t or 1, V)
            next_token = logits[:, -1, :].argmax(dim=-1)  # (B,)
            next_token = next_token.masked_fill(finished, PAD)
            x = torch.cat([x, next_token[:, None]], dim=1)  # (B, t + 1)
            new = x if cache is None else x[:, -1:]  # (B, t + 1) or (B, 1)
            finished |= next_token == EOS
            if bool(finished.all()):
                break
    return x.clone()  # an ordinary tensor again: callers may modify it in place


def prefill_shared_prefixes(
    model: nn.Module, prompts: torch.Tensor, max_len: int
) -> tuple[KVCache, int]:
    """Start a key/value cache for ``prompts`` (B, T), running each distinct prefix only once.

    Under the causal mask, the keys and values of the first ``p`` positions depend on those
    ``p`` tokens only, so rows that start alike share them. The 1,000 adder questions
    ``<BOS>ab+cd=`` have only 100 distinct prefixes ``<BOS>ab+``: computing those 100 and
    copying them to the rows that use them replaces 4,000 of the 7,000 prompt positions with
    400. ``p`` is chosen to minimise the positions run through the model, ``U_p·p + B·(T − p)``
    (``U_p`` distinct prefixes of length ``p``); ``p = 0`` (nothing shared) when that does not
    help. Returns the cache (holding positions ``0..p-1`` of every row, with room for
    ``max_len``) and ``p``; the caller runs ``prompts[:, p:]`` next.

    >>> import torch
    >>> from chapter3.adder.decoding import prefill_shared_prefixes
    >>> from chapter3.gpt import GPTConfig, GPTDecoder
    >>> model = GPTDecoder(GPTConfig()).eval()
    >>> prompts = torch.tensor([[15, 1, 5, 10, 5, 7, 13], [15, 1, 5, 10, 2, 2, 13],
    ...                         [15, 1, 5, 10, 0, 3, 13], [15, 9, 9, 10, 9, 9, 13]])
    >>> cache, shared = prefill_shared_prefixes(model, prompts, max_len=11)
    >>> shared, cache.length, cache.keys[0].shape  # 2 distinct prefixes of 4 tokens, not 4
    (4, 4, torch.Size([4, 4, 4, 32]))
    """
    check_decoder_model(model)
    if not isinstance(prompts, torch.Tensor) or prompts.dim() != 2:
        raise ValueError(
            "prompts must be a (B, T) tensor of token ids, got "
            + (
                f"shape {tuple(prompts.shape)}"
                if isinstance(prompts, torch.Tensor)
                else type(prompts).__name__
            )
        )
    max_len = check_positive_int(max_len, "max_len")
    if max_len < prompts.size(1):
        raise ValueError(
            f"max_len={max_len} is shorter than the prompts ({prompts.size(1)} tokens)"
        )
    batch_size, seq_len = prompts.shape
    num_layers = len(model.decoder_blocks)
    vocab_size = model.config.vocab_size
    # Checked here, not only by the model: rows merged below never reach it on their own.
    if prompts.numel() and (int(prompts.min()) < 0 or int(prompts.max()) >= vocab_size):
        raise ValueError(
            f"prompt token ids must lie in 0..{vocab_size - 1}, got values in "
            f"{int(prompts.min())}..{int(prompts.max())}"
        )
    if batch_size < 2:
        return KVCache(num_layers, max_len), 0  # nothing to share
    # prefix_id[b] numbers the distinct prefixes prompts[:, :p], grown one position at a time:
    # two rows get the same number iff they had the same number before and the same new token.
    prefix_id = torch.zeros(batch_size, dtype=torch.long, device=prompts.device)  # (B,)
    # p = 0: share nothing
    best_cost, shared, shared_id = batch_size * seq_len, 0, prefix_id
    # keep at least one position, for the first step's logits
    for p in range(1, seq_len):
        token = prompts[:, p - 1]  # (B,)
        prefix_id = torch.unique(prefix_id * vocab_size + token, return_inverse=True)[1]
        cost = (int(prefix_id.max()) + 1) * p + batch_size * (seq_len - p)
        if cost < best_cost:
            best_cost, shared, shared_id = cost, p, prefix_id
    if shared == 0:  # rows that differ early: sharing would not pay
        return KVCache(num_layers, max_len), 0
    # one row to stand for each distinct prefix (any will do: they are equal)
    num_distinct = int(shared_id.max()) + 1
    rows = torch.arange(batch_size, device=prompts.device)
    representative = torch.zeros(num_distinct, dtype=torch.long, device=prompts.device)
    representative = representative.scatter(0, shared_id, rows)  # (U,)
    prefixes = prompts[representative, :shared]  # (U, p)
    prefix_cache = KVCache(num_layers, max_len)  # (U, H, max_len, d_k) buffers
    model(prefixes, padding_attend_mask(prefixes, PAD), prefix_cache)
    # row b gets its prefix's keys and values
    return prefix_cache.select_rows(shared_id), shared


def complete_one(
    model: nn.Module, prompt: torch.Tensor, max_new_tokens: int = 4
) -> torch.Tensor:
    """The adder notebook's ``compute_sum``: complete one (1, T) prompt, one token per
    forward pass (the slow reference for :func:`greedy_decode`). Left padding is stripped
    first, as :func:`greedy_decode` does, and is not part of the result."""
    if not isinstance(prompt, torch.Tensor):
        raise TypeError(
            f"prompt must be a tensor of token ids, got {type(prompt).__name__}"
        )
    if not (prompt.dim() == 1 or (prompt.dim() == 2 and prompt.size(0) == 1)):
        raise ValueError(
            "complete_one completes one prompt, a (T,) or (1, T) tensor, got shape "
            f"{tuple(prompt.shape)}; use greedy_decode for a (B, T) batch"
        )
    leading = _check_prompts(model, prompt.reshape(1, -1), max_new_tokens)
    x = prompt.long().view(1, -1)[:, int(leading[0]) :].to(_device(model))
    with _eval_mode(model):
        for _ in range(max_new_tokens):
            logits = model(x, padding_attend_mask(x, PAD))  # (1, t, V)
            last = logits.argmax(-1)[:, -1].view(1, 1)  # (1, 1)
            x = torch.cat([x, last], dim=1)
            if last.item() == EOS:
                break
    return x[0]


def _as_strings(equations) -> list[str]:
    """The equations as strings, each checked by :func:`parse_equation`, all of one length."""
    if isinstance(equations, str):
        raise TypeError(
            "equations must be a list of equation strings or a data split, not a str"
        )
    if isinstance(equations, (list, tuple)) and all(
        isinstance(e, str) for e in equations
    ):
        strings = list(equations)
    elif isinstance(equations, (list, tuple)):
        bad = next(e for e in equations if not isinstance(e, str))
        raise TypeError(
            "equations must be a list of equation strings like '15+57=072' or a data split, "
            f"got an element {bad!r}"
        )
    elif isinstance(equations, Dataset):
        strings = split_strings(equations)
    else:
        raise TypeError(
            "equations must be a list of equation strings like '15+57=072' or a data "
            f"split, got {type(equations).__name__}"
        )
    if not strings:
        raise ValueError("equations is empty: nothing to evaluate")
    digits = [parse_equation(e)[2] for e in strings]
    odd = next(
        (e for e, n in zip(strings, digits, strict=True) if n != digits[0]), None
    )
    if odd is not None:
        raise ValueError(
            "equations must all have operands of the same number of digits: "
            f"{strings[0]!r} has {digits[0]}, {odd!r} does not"
        )
    return strings


@dataclass
class EvalResult:
    """Exact-match accuracy of a decoder on a list of equations."""

    accuracy: float
    num_correct: int
    total: int
    wrong: list[tuple[str, str]] = field(default_factory=list)  # (expected, predicted)
    seconds: float = 0.0


def _prompts_and_answers(equations: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    full = torch.stack([encode_equation(e) for e in equations])  # (N, L)
    equal_pos = int((full[0] == EQUAL).nonzero()[0])
    return full[:, : equal_pos + 1], full


def _compare(
    predicted: torch.Tensor, full: torch.Tensor, equations: list[str], seconds: float
):
    predicted = predicted.cpu()
    length = min(predicted.size(1), full.size(1))
    same = (predicted[:, :length] == full[:, :length]).all(dim=1)  # (N,)
    if predicted.size(1) < full.size(1):  # stopped before <EOS>: nothing is complete
        same = torch.zeros_like(same)
    wrong = [
        (equations[i], decode(predicted[i]))
        for i in (~same).nonzero().flatten().tolist()
    ]
    correct = int(same.sum())
    return EvalResult(correct / len(equations), correct, len(equations), wrong, seconds)


def evaluate(model: nn.Module, equations, use_cache: bool = True) -> EvalResult:
    """Batched greedy decoding of every question, then exact match with the true equation.

    ``equations`` is a list of strings like ``"15+57=072"`` or a data split. A prediction is
    right only if every answer digit and the final ``<EOS>`` are right. Every equation must be
    well formed and true (:func:`chapter3.adder.vocab.parse_equation`): a malformed one, such
    as the question ``"15+57="``, is refused rather than scored as a wrong answer.
    """
    equations = _as_strings(equations)
    check_bool(use_cache, "use_cache")
    return _evaluate_strings(model, equations, use_cache)


def _evaluate_strings(
    model: nn.Module, equations: list[str], use_cache: bool = True
) -> EvalResult:
    """:func:`evaluate` without the checks: also for answers written in another order
    (the reversed-answer recipe's ``"15+57=270"``), which :func:`evaluate` refuses."""
    prompts, full = _prompts_and_answers(equations)
    start = time.perf_counter()
    predicted = greedy_decode(model, prompts, full.size(1) - prompts.size(1), use_cache)
    seconds = time.perf_counter() - start
    predicted = predicted[:, : full.size(1)]
    return _compare(predicted, full, equations, seconds)


def evaluate_one_by_one(model: nn.Module, equations) -> EvalResult:
    """The same evaluation with the adder notebook's per-equation loop (the slow reference)."""
    equations = _as_strings(equations)
    prompts, full = _prompts_and_answers(equations)
    start = time.perf_counter()
    rows = []
    for prompt in prompts:
        out = complete_one(model, prompt, max_new_tokens=full.size(1) - prompts.size(1))
        padded = torch.full((full.size(1),), PAD, dtype=torch.long)
        padded[: out.numel()] = out[: full.size(1)].cpu()
        rows.append(padded)
    seconds = time.perf_counter() - start
    return _compare(torch.stack(rows), full, equations, seconds)


def what_is(question: str, model: nn.Module) -> str:
    """Ask ``model`` for a sum: ``what_is("15+57=", model)`` → ``"15+57=072"``.

    The question must look like ``a+b=`` with one- or two-digit numbers (they are zero-padded
    before the model sees them; only the ASCII digits 0-9 are accepted). A model that does not
    answer with three digits and ``<EOS>`` (an untrained one, say) gets a ``ValueError``
    instead of a malformed answer. A trained model comes from
    :func:`chapter3.adder.checkpoints.trained_adder` or
    :func:`chapter3.adder.checkpoints.load_checkpoint`.
    """
    padded = parse_question(question)
    check_decoder_model(model)
    prompt = encode_equation(padded)[:-1]  # drop <EOS>: <BOS> a + b =
    out = greedy_decode(model, prompt[None, :], max_new_tokens=4)[0]
    # three digits and <EOS>, if the model can add
    said = out[prompt.numel() :].tolist()
    if len(said) != 4 or said[-1] != EOS or any(t > 9 for t in said[:-1]):
        raise ValueError(
            f"the model did not answer {question.strip()!r} with three digits and <EOS>: it "
            f"said {decode(said)!r} (token ids {said}); is it a trained adder?"
        )
    return question.strip() + decode(said)


def benchmark_decoding(model: nn.Module, equations, repeats: int = 3) -> dict:
    """Time batched decoding (with and without the key/value cache) against the per-equation
    loop on the same equations.

    Returns seconds (best of ``repeats`` for the batched paths, one run of the loop), the
    speed-ups over the loop, and whether all three gave the same predictions.
    """
    equations = _as_strings(equations)
    repeats = check_positive_int(repeats, "repeats")

    def best(use_cache: bool) -> EvalResult:
        runs = [evaluate(model, equations, use_cache) for _ in range(repeats)]
        return min(runs, key=lambda r: r.seconds)

    cached, uncached = best(True), best(False)
    loop = evaluate_one_by_one(model, equations)
    return {
        "equations": len(equations),
        "batched_seconds": cached.seconds,
        "batched_no_cache_seconds": uncached.seconds,
        "loop_seconds": loop.seconds,
        "speedup": loop.seconds / cached.seconds,
        "speedup_no_cache": loop.seconds / uncached.seconds,
        "same_predictions": cached.wrong == uncached.wrong == loop.wrong,
        "accuracy": cached.accuracy,
        "threads": torch.get_num_threads(),
    }
