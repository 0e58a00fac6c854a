"""chapter3: the code that *Attention, Executed* teaches, one module per idea.

Find the code of a section by its number:

- :mod:`chapter3.inputs` — the six-token example sentence and its embeddings (3.3).
- :mod:`chapter3.simple_attention` — self-attention without trainable weights (3.3).
- :mod:`chapter3.self_attention` — ``SelfAttention_v1``/``_v2`` and friends (3.4).
- :mod:`chapter3.causal` — ``CausalAttention`` (3.5).
- :mod:`chapter3.masks` — causal and padding masks, ``True`` = may attend (3.5).
- :mod:`chapter3.multihead` — multi-head attention: wrapper, weight splits, fused (3.6).

Around the chapter: :mod:`chapter3.words` (words to queries, keys and values),
:mod:`chapter3.one_head` (training one head), :mod:`chapter3.seeding` (repeatable runs).

The GPT decoder that learns to add: :mod:`chapter3.gpt` (the decoder, built from
:mod:`chapter3.multihead`), :mod:`chapter3.kv_cache` (incremental decoding) and the
subpackage :mod:`chapter3.adder` (vocabulary, data, training, decoding, checkpoints, carry
classes, and the command line ``python -m chapter3.adder``). The longer measurements of
``make bench`` are a tool of the repository (``bench/``), not a part of this package.
"""

__version__ = "0.1.0"
