"""From words to queries (after the notebook that turns words into queries, keys and
values): a word vocabulary, token ids, and embeddings.

That notebook numbers its words with ``{w.lower(): i for i, w in enumerate(sorted(words))}``. That
sorts *before* lower-casing (so capitalised words come first) and enumerates duplicates, whose
later id overwrites the earlier one: the ids have gaps. :func:`notebook_vocab` reproduces it;
:func:`build_vocab` is the correct version (each distinct lower-cased word, ids 0..V-1).
"""

from __future__ import annotations

import torch
from torch import nn

from chapter3._checks import check_sizes

#: The notebook's example sentence.
PROMPT = "Hello World I am an attention seeker I love attention"


def _words(prompt: str) -> list[str]:
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    words = prompt.split()
    if not words:
        raise ValueError("prompt must contain at least one word")
    return words


def notebook_vocab(prompt: str = PROMPT) -> dict[str, int]:
    """The notebook's vocabulary, slips included: 8 words, ids up to 9, ids 1 and 6 unused.

    >>> from chapter3.words import notebook_vocab
    >>> notebook_vocab()
    {'hello': 0, 'i': 2, 'world': 3, 'am': 4, 'an': 5, 'attention': 7, 'love': 8, 'seeker': 9}
    """
    return {word.lower(): i for i, word in enumerate(sorted(_words(prompt)))}


def build_vocab(prompt: str = PROMPT) -> dict[str, int]:
    """One id per distinct lower-cased word, in alphabetical order, with no gaps.

    >>> from chapter3.words import build_vocab
    >>> build_vocab()
    {'am': 0, 'an': 1, 'attention': 2, 'hello': 3, 'i': 4, 'love': 5, 'seeker': 6, 'world': 7}
    """
    distinct = sorted({word.lower() for word in _words(prompt)})
    return {word: i for i, word in enumerate(distinct)}


def encode(prompt: str, vocab: dict[str, int]) -> torch.Tensor:
    """The (T,) tensor of token ids of ``prompt`` (words are lower-cased before the look-up).

    >>> from chapter3.words import PROMPT, encode, notebook_vocab
    >>> encode(PROMPT, notebook_vocab())
    tensor([0, 3, 2, 4, 5, 7, 9, 2, 8, 7])
    """
    if not isinstance(vocab, dict):
        raise TypeError(
            f"vocab must be a dict of word -> id, got {type(vocab).__name__}"
        )
    ids = []
    for word in _words(prompt):
        if word.lower() not in vocab:
            raise ValueError(f"word {word!r} is not in the vocabulary")
        ids.append(vocab[word.lower()])
    return torch.tensor(ids)  # (T,)


def embed_tokens(
    token_ids: torch.Tensor, vocab_size: int = 50_000, dim: int = 3, seed: int = 123
) -> torch.Tensor:
    """Seed torch, build ``nn.Embedding(vocab_size, dim)`` and look the ids up, detached.

    ``.detach()`` returns the rows as plain data, outside the autograd graph: the embedding
    layer is not trained here, the rows are only the input of the attention step.

    >>> import torch
    >>> from chapter3.words import embed_tokens
    >>> embed_tokens(torch.tensor([0]))
    tensor([[ 0.3374, -0.1778, -0.3035]])
    """
    if not isinstance(token_ids, torch.Tensor) or token_ids.is_floating_point():
        raise TypeError("token_ids must be an integer torch.Tensor")
    check_sizes(vocab_size=vocab_size, dim=dim)
    if token_ids.numel() and (token_ids.min() < 0 or token_ids.max() >= vocab_size):
        raise ValueError(
            f"token ids must lie in [0, {vocab_size}), got {token_ids.tolist()}"
        )
    torch.manual_seed(seed)
    embedder = nn.Embedding(vocab_size, dim)
    return embedder(token_ids).detach()  # (T, dim)
