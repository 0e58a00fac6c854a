"""Section 3.3: the package reproduces every number the page prints."""

import pytest
import torch

from chapter3.inputs import INPUT_WORDS, example_inputs
from chapter3.simple_attention import (
    all_attn_scores,
    all_attn_scores_by_loop,
    all_context_vecs,
    attn_scores_by_loop,
    attn_scores_by_matmul,
    context_vec_by_loop,
    normalize_by_sum,
    softmax_naive,
)

SCORES_2 = torch.tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
SUM_NORMALISED_2 = torch.tensor([0.1455, 0.2278, 0.2249, 0.1285, 0.1077, 0.1656])
SOFTMAX_2 = torch.tensor([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
CONTEXT_2 = torch.tensor([0.4419, 0.6515, 0.5683])
ALL_SCORES = torch.tensor(
    [
        [0.9995, 0.9544, 0.9422, 0.4753, 0.4576, 0.6310],
        [0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865],
        [0.9422, 1.4754, 1.4570, 0.8296, 0.7154, 1.0605],
        [0.4753, 0.8434, 0.8296, 0.4937, 0.3474, 0.6565],
        [0.4576, 0.7070, 0.7154, 0.3474, 0.6654, 0.2935],
        [0.6310, 1.0865, 1.0605, 0.6565, 0.2935, 0.9450],
    ]
)
ALL_WEIGHTS = torch.tensor(
    [
        [0.2098, 0.2006, 0.1981, 0.1242, 0.1220, 0.1452],
        [0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581],
        [0.1390, 0.2369, 0.2326, 0.1242, 0.1108, 0.1565],
        [0.1435, 0.2074, 0.2046, 0.1462, 0.1263, 0.1720],
        [0.1526, 0.1958, 0.1975, 0.1367, 0.1879, 0.1295],
        [0.1385, 0.2184, 0.2128, 0.1420, 0.0988, 0.1896],
    ]
)
ALL_CONTEXT = torch.tensor(
    [
        [0.4421, 0.5931, 0.5790],
        [0.4419, 0.6515, 0.5683],
        [0.4431, 0.6496, 0.5671],
        [0.4304, 0.6298, 0.5510],
        [0.4671, 0.5910, 0.5266],
        [0.4177, 0.6503, 0.5645],
    ]
)
ATOL = 5e-5  # the expected values are rounded to 4 decimals


@pytest.fixture
def inputs():
    return example_inputs()


def test_example_inputs(inputs):
    assert inputs.shape == (6, 3) and inputs.dtype == torch.float32
    assert len(INPUT_WORDS) == 6 and INPUT_WORDS[1] == "journey"
    inputs[0, 0] = 99.0
    assert example_inputs()[0, 0] == pytest.approx(0.43), (
        "each call must return a fresh tensor"
    )


def test_scores_for_query_2(inputs):
    by_loop = attn_scores_by_loop(inputs, inputs[1])
    torch.testing.assert_close(by_loop, SCORES_2, atol=ATOL, rtol=0)
    torch.testing.assert_close(attn_scores_by_matmul(inputs, inputs[1]), by_loop)


def test_three_normalisations(inputs):
    scores = attn_scores_by_matmul(inputs, inputs[1])
    torch.testing.assert_close(
        normalize_by_sum(scores), SUM_NORMALISED_2, atol=ATOL, rtol=0
    )
    torch.testing.assert_close(softmax_naive(scores), SOFTMAX_2, atol=ATOL, rtol=0)
    torch.testing.assert_close(torch.softmax(scores, dim=0), softmax_naive(scores))
    assert not torch.allclose(
        normalize_by_sum(scores), softmax_naive(scores), atol=1e-3
    )


def test_context_vector_2(inputs):
    weights = torch.softmax(inputs @ inputs[1], dim=0)
    torch.testing.assert_close(
        context_vec_by_loop(inputs, weights), CONTEXT_2, atol=ATOL, rtol=0
    )
    torch.testing.assert_close(context_vec_by_loop(inputs, weights), weights @ inputs)


def test_all_scores_weights_and_context_vectors(inputs):
    scores = all_attn_scores(inputs)
    torch.testing.assert_close(scores, ALL_SCORES, atol=ATOL, rtol=0)
    torch.testing.assert_close(all_attn_scores_by_loop(inputs), scores)
    weights = torch.softmax(scores, dim=-1)
    torch.testing.assert_close(weights, ALL_WEIGHTS, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(6))
    torch.testing.assert_close(all_context_vecs(inputs), ALL_CONTEXT, atol=ATOL, rtol=0)


def test_naive_softmax_overflows_where_torch_softmax_does_not():
    big = torch.tensor([1000.0, 0.0])
    assert torch.isnan(softmax_naive(big)).any()
    torch.testing.assert_close(torch.softmax(big, dim=-1), torch.tensor([1.0, 0.0]))


def test_bad_input_is_refused(inputs):
    with pytest.raises(ValueError, match=r"inputs must be a 2-D tensor \(T, d\)"):
        attn_scores_by_loop(inputs[0], inputs[1])
    with pytest.raises(ValueError, match="query has 2 features"):
        attn_scores_by_matmul(inputs, inputs[1, :2])
    with pytest.raises(ValueError, match="one weight per input row"):
        context_vec_by_loop(inputs, torch.ones(5) / 5)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        all_attn_scores([[1.0, 2.0]])
