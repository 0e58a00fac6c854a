"""Section 3.3: self-attention without trainable weights.

Every function here is one step the chapter takes by hand: score a query against every input
with dot products (by a loop, then by one matrix product), normalise the scores into attention
weights, and mix the inputs into context vectors. No parameter is learned: the inputs are their
own queries, keys and values.

Inputs must be floating-point tensors (integer or boolean ones are refused with a
``TypeError``); tensors multiplied together must share a dtype. Non-finite values are not
checked: NaN and inf propagate, as in torch. The normalisations work along the last axis of
a tensor of any rank (1-D scores of one query, or the (T, T) matrix of every query).
"""

from __future__ import annotations

import torch

from chapter3._checks import check_last_dim, check_same_dtype, check_tensor


def _check_pair(inputs: torch.Tensor, query: torch.Tensor) -> None:
    check_tensor(inputs, "inputs", ndim=2, shape_hint="(T, d)")
    check_tensor(query, "query", ndim=1, shape_hint="(d,)")
    check_last_dim(query, inputs.shape[-1], name="query", what="d (the inputs' width)")
    check_same_dtype(inputs, query, "inputs", "query")


def attn_scores_by_loop(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Score ``query`` against every row of ``inputs``, one ``torch.dot`` at a time.

    >>> from chapter3.inputs import example_inputs
    >>> from chapter3.simple_attention import attn_scores_by_loop
    >>> inputs = example_inputs()
    >>> attn_scores_by_loop(inputs, inputs[1])
    tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
    """
    _check_pair(inputs, query)
    attn_scores = torch.empty(inputs.shape[0], dtype=inputs.dtype)  # (T,)
    for i, x_i in enumerate(inputs):
        attn_scores[i] = torch.dot(x_i, query)
    return attn_scores


def attn_scores_by_matmul(inputs: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """The same scores as :func:`attn_scores_by_loop`, as one product ``inputs @ query``."""
    _check_pair(inputs, query)
    return inputs @ query  # (T, d) @ (d,) -> (T,)


def normalize_by_sum(attn_scores: torch.Tensor) -> torch.Tensor:
    """Divide scores by their sum along the last axis (weights sum to 1, but may be negative).

    >>> import torch
    >>> from chapter3.simple_attention import normalize_by_sum
    >>> normalize_by_sum(torch.tensor([1.0, 3.0]))
    tensor([0.2500, 0.7500])
    """
    check_tensor(attn_scores, "attn_scores")
    return attn_scores / attn_scores.sum(dim=-1, keepdim=True)


def softmax_naive(attn_scores: torch.Tensor) -> torch.Tensor:
    """Softmax along the last axis straight from its definition, ``exp(s) / sum(exp(s))``.

    Fine for the small scores of the chapter, but ``exp`` overflows for large ones, where
    :func:`torch.softmax` (which subtracts the maximum first) does not:

    >>> import torch
    >>> from chapter3.simple_attention import softmax_naive
    >>> softmax_naive(torch.tensor([1000.0, 0.0]))
    tensor([nan, 0.])
    >>> torch.softmax(torch.tensor([1000.0, 0.0]), dim=-1)
    tensor([1., 0.])
    """
    check_tensor(attn_scores, "attn_scores")
    exp = torch.exp(attn_scores)
    return exp / exp.sum(dim=-1, keepdim=True)


def context_vec_by_loop(
    inputs: torch.Tensor, attn_weights: torch.Tensor
) -> torch.Tensor:
    """One context vector: the sum of the input rows, each scaled by its attention weight.

    >>> import torch
    >>> from chapter3.inputs import example_inputs
    >>> from chapter3.simple_attention import context_vec_by_loop
    >>> inputs = example_inputs()
    >>> context_vec_by_loop(inputs, torch.softmax(inputs @ inputs[1], dim=0))
    tensor([0.4419, 0.6515, 0.5683])
    """
    check_tensor(inputs, "inputs", ndim=2, shape_hint="(T, d)")
    check_tensor(attn_weights, "attn_weights", ndim=1, shape_hint="(T,)")
    check_same_dtype(inputs, attn_weights, "inputs", "attn_weights")
    if attn_weights.shape[0] != inputs.shape[0]:
        raise ValueError(
            f"attn_weights has {attn_weights.shape[0]} weights, but inputs has "
            f"{inputs.shape[0]} rows; give one weight per input row"
        )
    context_vec = torch.zeros(inputs.shape[1], dtype=inputs.dtype)  # (d,)
    for x_i, a_i in zip(inputs, attn_weights, strict=True):
        context_vec += a_i * x_i
    return context_vec


def all_attn_scores_by_loop(inputs: torch.Tensor) -> torch.Tensor:
    """The (T, T) matrix of dot products between every pair of rows, by two loops."""
    check_tensor(inputs, "inputs", ndim=2, shape_hint="(T, d)")
    T = inputs.shape[0]
    attn_scores = torch.empty(T, T, dtype=inputs.dtype)  # (T, T)
    for i, x_i in enumerate(inputs):
        for j, x_j in enumerate(inputs):
            attn_scores[i, j] = torch.dot(x_i, x_j)
    return attn_scores


def all_attn_scores(inputs: torch.Tensor) -> torch.Tensor:
    """The same (T, T) matrix in one product: ``inputs @ inputs.T``."""
    check_tensor(inputs, "inputs", ndim=2, shape_hint="(T, d)")
    return inputs @ inputs.T  # (T, d) @ (d, T) -> (T, T)


def all_context_vecs(inputs: torch.Tensor) -> torch.Tensor:
    """Every context vector at once: ``softmax(inputs @ inputs.T) @ inputs``.

    >>> from chapter3.inputs import example_inputs
    >>> from chapter3.simple_attention import all_context_vecs
    >>> all_context_vecs(example_inputs())[1]
    tensor([0.4419, 0.6515, 0.5683])
    """
    # (T, T), rows sum to 1
    attn_weights = torch.softmax(all_attn_scores(inputs), dim=-1)
    return attn_weights @ inputs  # (T, T) @ (T, d) -> (T, d)
