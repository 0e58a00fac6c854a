"""The six-token example sentence of sections 3.3 and 3.4: "Your journey starts with one step".

Each token comes with a hand-made 3-dimensional embedding, small enough to follow every number
by hand.
"""

from __future__ import annotations

import torch

#: The six tokens of the example sentence, in order (row *i* of :func:`example_inputs`).
INPUT_WORDS: tuple[str, ...] = ("Your", "journey", "starts", "with", "one", "step")

_EMBEDDINGS = (
    (0.43, 0.15, 0.89),  # Your     x(1)
    (0.55, 0.87, 0.66),  # journey  x(2)
    (0.57, 0.85, 0.64),  # starts   x(3)
    (0.22, 0.58, 0.33),  # with     x(4)
    (0.77, 0.25, 0.10),  # one      x(5)
    (0.05, 0.80, 0.55),  # step     x(6)
)


def example_inputs() -> torch.Tensor:
    """The (6, 3) float32 embeddings of "Your journey starts with one step" (a fresh tensor).

    >>> from chapter3.inputs import example_inputs, INPUT_WORDS
    >>> inputs = example_inputs()
    >>> inputs.shape, inputs.dtype
    (torch.Size([6, 3]), torch.float32)
    >>> INPUT_WORDS[1], inputs[1]
    ('journey', tensor([0.5500, 0.8700, 0.6600]))
    """
    return torch.tensor(_EMBEDDINGS, dtype=torch.float32)  # (T=6, d_in=3)
