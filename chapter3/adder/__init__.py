"""The GPT decoder that learns 2-digit addition, split by idea.

- :mod:`chapter3.adder.vocab` — tokens, ``encode``/``decode``, checked questions;
- :mod:`chapter3.adder.data` — every equation, the splits, loaders and teacher-forcing batches;
- :mod:`chapter3.adder.training` — recipes, learning-rate schedules, the training loop;
- :mod:`chapter3.adder.optim` — :class:`~chapter3.adder.optim.LightAdam`, Adam without
  ``torch.optim`` (whose first use costs about a second of imports);
- :mod:`chapter3.adder.decoding` — batched greedy decoding, accuracy, ``what_is``;
- :mod:`chapter3.adder.checkpoints` — saving, loading, and the cached
  :func:`~chapter3.adder.checkpoints.trained_adder`;
- :mod:`chapter3.adder.cli` — ``python -m chapter3.adder train|evaluate|ask``.

The names below are re-exported here, so ``from chapter3.adder import encode_equation`` works.
"""

from chapter3.adder.checkpoints import (
    CHECKPOINT_FORMAT,
    DEFAULT_CHECKPOINT,
    cache_path,
    default_cache_dir,
    load_checkpoint,
    save_checkpoint,
    source_hash,
    trained_adder,
)
from chapter3.adder.data import (
    AdderLoaders,
    Batch,
    EquationDataset,
    PadCollate,
    all_equations,
    construct_batches,
    create_add_dataset,
    disjoint_split,
    make_loaders,
    split_sizes,
    split_strings,
)
from chapter3.adder.vocab import (
    BOS,
    EOS,
    EQUAL,
    INDEX_TO_TOKEN,
    MINUS,
    MUL,
    PAD,
    PLUS,
    TOKEN_TO_INDEX,
    UNK,
    VOCAB_SIZE,
    decode,
    encode,
    encode_equation,
    equation_length,
    equation_to_string,
    pad_number,
    parse_question,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_CHECKPOINT",
    "cache_path",
    "default_cache_dir",
    "load_checkpoint",
    "save_checkpoint",
    "source_hash",
    "trained_adder",
    "AdderLoaders",
    "Batch",
    "EquationDataset",
    "PadCollate",
    "all_equations",
    "construct_batches",
    "create_add_dataset",
    "disjoint_split",
    "make_loaders",
    "split_sizes",
    "split_strings",
    "BOS",
    "EOS",
    "EQUAL",
    "INDEX_TO_TOKEN",
    "MINUS",
    "MUL",
    "PAD",
    "PLUS",
    "TOKEN_TO_INDEX",
    "UNK",
    "VOCAB_SIZE",
    "decode",
    "encode",
    "encode_equation",
    "equation_length",
    "equation_to_string",
    "pad_number",
    "parse_question",
]
