"""The words notebook: the word vocabulary (as built there, and corrected), token ids,
embeddings."""

import pytest
import torch

from chapter3.words import PROMPT, build_vocab, embed_tokens, encode, notebook_vocab


def test_notebook_vocab_reproduces_the_notebook_and_its_gaps():
    vocab = notebook_vocab()
    assert vocab == {
        "hello": 0,
        "i": 2,
        "world": 3,
        "am": 4,
        "an": 5,
        "attention": 7,
        "love": 8,
        "seeker": 9,
    }
    assert sorted(set(range(10)) - set(vocab.values())) == [1, 6]
    assert encode(PROMPT, vocab).tolist() == [0, 3, 2, 4, 5, 7, 9, 2, 8, 7]


def test_build_vocab_is_contiguous_and_case_insensitive():
    vocab = build_vocab()
    assert sorted(vocab.values()) == list(range(8))
    assert list(vocab) == sorted(vocab)
    assert build_vocab("b A a B") == {"a": 0, "b": 1}
    ids = encode(PROMPT, vocab)
    assert ids.tolist() == [3, 7, 4, 0, 1, 2, 6, 4, 5, 2]
    assert len(ids) == 10


def test_embeddings_and_context_shapes():
    ids = encode(PROMPT, notebook_vocab())
    emb = embed_tokens(ids)
    assert emb.shape == (10, 3) and not emb.requires_grad
    torch.testing.assert_close(
        emb[0], torch.tensor([0.3374, -0.1778, -0.3035]), atol=5e-5, rtol=0
    )
    torch.testing.assert_close(emb[2], emb[7])  # both are "I": same id, same row
    d = emb.shape[1]
    d_q, d_k, d_v = 24, 24, 28
    W_query, W_key, W_value = torch.rand(d, d_q), torch.rand(d, d_k), torch.rand(d, d_v)
    queries, keys, values = emb @ W_query, emb @ W_key, emb @ W_value
    attn_weights = torch.softmax(queries @ keys.T / d_k**0.5, dim=-1)
    context_vecs = attn_weights @ values
    assert queries.shape == (10, 24) and values.shape == (10, 28)
    assert context_vecs.shape == (10, 28)
    torch.testing.assert_close(attn_weights.sum(dim=-1), torch.ones(10))


def test_bad_input():
    with pytest.raises(ValueError, match="'Goodbye' is not in the vocabulary"):
        encode("Goodbye World", notebook_vocab())
    with pytest.raises(ValueError, match="at least one word"):
        build_vocab("   ")
    with pytest.raises(TypeError, match="prompt must be a str"):
        notebook_vocab(["Hello"])
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\)"):
        embed_tokens(torch.tensor([0, 7]), vocab_size=5)
    with pytest.raises(TypeError, match="integer"):
        embed_tokens(torch.tensor([0.0]))
