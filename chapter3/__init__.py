"""chapter3: the code that *Attention, Executed* teaches.

One module per idea, named after the book's sections:

- :mod:`chapter3.inputs` — the six-token example sentence and its embeddings (3.3).
- :mod:`chapter3.simple_attention` — self-attention without trainable weights (3.3).
- :mod:`chapter3.self_attention` — ``SelfAttention_v1``/``_v2`` and friends (3.4).
- :mod:`chapter3.causal` — ``CausalAttention`` (3.5).
- :mod:`chapter3.masks` — padding and future masks in the decoder's convention.
- :mod:`chapter3.multihead` — multi-head attention, three ways (3.6).
- :mod:`chapter3.gpt` — the GPT decoder; :mod:`chapter3.adder` — the 2-digit adder.
- :mod:`chapter3.seeding` — what it takes to make a run repeatable.
"""

__version__ = "0.1.0"
