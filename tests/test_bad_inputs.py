"""Every bad input gets a clear answer: a ``ValueError``/``TypeError`` naming the argument.

One row per probe of issue 12 and its kind (dtypes, masks, sizes given as floats, negatives or
numpy integers). ``match`` is a regular expression that the message must contain: the name of
the argument, and often what it got or what is allowed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chapter3 import one_head, words
from chapter3 import simple_attention as sa
from chapter3.adder import data, vocab
from chapter3.adder.decoding import complete_one, evaluate, greedy_decode, what_is
from chapter3.causal import CausalAttention
from chapter3.gpt import (
    AddNorm,
    GPTConfig,
    GPTDecoder,
    GPTDecoderBlock,
    PositionwiseFeedForward,
    attention_maps,
)
from chapter3.kv_cache import KVCache
from chapter3.masks import (
    causal_attend_mask,
    check_attn_mask,
    combine_attend_masks,
    key_padding,
    masked_softmax,
    padding_attend_mask,
    to_hide_mask,
)
from chapter3.multihead import (
    FusedMultiHeadAttention,
    MultiHeadAttention,
    MultiHeadAttentionWrapper,
    copy_to_fused,
    copy_to_wrapper,
    to_torch_multihead,
)
from chapter3.self_attention import (
    SelfAttention_v1,
    SelfAttention_v2,
    SelfAttentionWithWeights,
    transfer_weights,
)

BOOL = torch.bool


def x3(*shape, dtype=torch.float32):
    return torch.rand(*shape).to(dtype)


CONFIG = GPTConfig(d_model=16, num_heads=2, num_layers=1, d_ff=32, dropout=0.0)
torch.manual_seed(0)
MODEL = GPTDecoder(CONFIG).eval()
TOKENS = torch.randint(0, 14, (2, 7))
PROMPT = vocab.encode_equation("15+57=")[None, :-1]
INPUTS = x3(6, 3)
V1, V2 = SelfAttention_v1(3, 2), SelfAttention_v2(3, 2)
CA = CausalAttention(3, 2, 6, 0.0)
MHA = MultiHeadAttention(3, 4, 6, 0.0, 2)
FUSED = FusedMultiHeadAttention(4, 4, 6, 0.0, 2)
WRAPPER = MultiHeadAttentionWrapper(3, 2, 6, 0.0, 2)


def _other_batch():
    cache = KVCache(1)
    MODEL(TOKENS[:, :3], cache=cache)
    MODEL(TOKENS[:1, 3:4], cache=cache)


def _overflow():
    cache = KVCache(1)
    MODEL(TOKENS, cache=cache)
    MODEL(TOKENS, cache=cache)


CASES = {
    # 3.3
    "3.3 int inputs": (
        lambda: sa.attn_scores_by_loop(INPUTS.long(), INPUTS[1].long()),
        TypeError,
        "inputs must be a floating-point",
    ),
    "3.3 float64 query": (
        lambda: sa.attn_scores_by_matmul(INPUTS, INPUTS[1].double()),
        TypeError,
        "inputs and query must have the same dtype",
    ),
    "3.3 3-D inputs": (
        lambda: sa.attn_scores_by_loop(x3(2, 6, 3), INPUTS[1]),
        ValueError,
        r"inputs must be a 2-D tensor \(T, d\)",
    ),
    "3.3 list inputs": (
        lambda: sa.attn_scores_by_matmul([[1.0]], INPUTS[1]),
        TypeError,
        "inputs must be a torch.Tensor",
    ),
    "3.3 query width": (
        lambda: sa.attn_scores_by_loop(INPUTS, x3(4)),
        ValueError,
        "query has 4 features",
    ),
    "3.3 int scores": (
        lambda: sa.normalize_by_sum(torch.tensor([1, 3])),
        TypeError,
        "attn_scores must be a floating-point",
    ),
    "3.3 0-d scores": (
        lambda: sa.normalize_by_sum(torch.tensor(1.0)),
        ValueError,
        "attn_scores must have at least one dimension",
    ),
    "3.3 bool scores": (
        lambda: sa.softmax_naive(torch.tensor([True])),
        TypeError,
        "attn_scores",
    ),
    "3.3 float64 weights": (
        lambda: sa.context_vec_by_loop(INPUTS, x3(6).double()),
        TypeError,
        "inputs and attn_weights",
    ),
    "3.3 weight count": (
        lambda: sa.context_vec_by_loop(INPUTS, x3(5)),
        ValueError,
        "attn_weights has 5 weights",
    ),
    "3.3 int all_context": (
        lambda: sa.all_context_vecs(INPUTS.long()),
        TypeError,
        "inputs must be a floating-point",
    ),
    "3.3 1-D all_scores": (
        lambda: sa.all_attn_scores(INPUTS[0]),
        ValueError,
        "inputs must be a 2-D",
    ),
    # 3.4
    "3.4 v1 int x": (
        lambda: V1(INPUTS.long()),
        TypeError,
        "x must be a floating-point tensor .* got dtype torch.int64",
    ),
    "3.4 v1 bool x": (
        lambda: V1(INPUTS > 0.5),
        TypeError,
        "x must be a floating-point tensor .* got dtype torch.bool",
    ),
    "3.4 v1 float64 x": (
        lambda: V1(INPUTS.double()),
        TypeError,
        "x has dtype torch.float64, but this module's weights are torch.float32",
    ),
    "3.4 v2 int x": (
        lambda: V2(INPUTS.long()),
        TypeError,
        "x must be a floating-point",
    ),
    "3.4 v2 float64 x": (
        lambda: V2(INPUTS.double()),
        TypeError,
        "x has dtype torch.float64",
    ),
    "3.4 v2 3-D x": (
        lambda: V2(x3(2, 6, 3)),
        ValueError,
        r"x must be a 2-D tensor \(T, d_in\)",
    ),
    "3.4 v2 width": (lambda: V2(x3(6, 4)), ValueError, "d_in=3"),
    "3.4 v1 d_out float": (
        lambda: SelfAttention_v1(3, 2.0),
        TypeError,
        "d_out must be an int, got float 2.0",
    ),
    "3.4 v1 d_in 0": (
        lambda: SelfAttention_v1(0, 2),
        ValueError,
        "d_in must be a positive integer, got 0",
    ),
    "3.4 v2 d_in -1": (
        lambda: SelfAttention_v2(-1, 2),
        ValueError,
        "d_in must be a positive integer, got -1",
    ),
    "3.4 v2 d_in bool": (
        lambda: SelfAttention_v2(True, 2),
        TypeError,
        "d_in must be an int, got bool",
    ),
    "3.4 v2 qkv_bias str": (
        lambda: SelfAttention_v2(3, 2, qkv_bias="no"),
        TypeError,
        "qkv_bias must be True or False",
    ),
    "3.4 transfer swapped": (
        lambda: transfer_weights(V1, V2),
        TypeError,
        "copies a SelfAttention_v2 into a SelfAttention_v1",
    ),
    "3.4 with weights int x": (
        lambda: SelfAttentionWithWeights(3)(x3(1, 6, 3).long()),
        TypeError,
        "x must be a floating-point",
    ),
    "3.4 with weights dim 0": (
        lambda: SelfAttentionWithWeights(0),
        ValueError,
        "embed_dim must be a positive integer",
    ),
    # 3.5
    "3.5 int x": (
        lambda: CA(x3(2, 6, 3).long()),
        TypeError,
        "x must be a floating-point",
    ),
    "3.5 bool x": (
        lambda: CA(x3(2, 6, 3) > 0.5),
        TypeError,
        "x must be a floating-point",
    ),
    "3.5 float64 x": (
        lambda: CA(x3(2, 6, 3).double()),
        TypeError,
        "x has dtype torch.float64",
    ),
    "3.5 too long": (lambda: CA(x3(2, 7, 3)), ValueError, "context_length=6"),
    "3.5 2-D x": (
        lambda: CA(x3(6, 3)),
        ValueError,
        r"x must be a 3-D tensor \(B, T, d_in\)",
    ),
    "3.5 int mask": (
        lambda: CA(x3(2, 6, 3), torch.ones(2, 6, 6, dtype=torch.long)),
        TypeError,
        "attn_mask must be a boolean",
    ),
    "3.5 float mask": (
        lambda: CA(x3(2, 6, 3), torch.ones(2, 6, 6)),
        TypeError,
        "attn_mask must be a boolean",
    ),
    "3.5 (B, T) mask": (
        lambda: CA(x3(2, 6, 3), torch.ones(2, 6, dtype=BOOL)),
        ValueError,
        r"attn_mask of shape \(2, 6\) cannot broadcast",
    ),
    "3.5 dropout 1": (
        lambda: CausalAttention(3, 2, 6, 1.0),
        ValueError,
        r"dropout must be in \[0, 1\), got 1.0",
    ),
    "3.5 dropout nan": (
        lambda: CausalAttention(3, 2, 6, float("nan")),
        ValueError,
        "dropout must be in",
    ),
    "3.5 dropout -0.1": (
        lambda: CausalAttention(3, 2, 6, -0.1),
        ValueError,
        "dropout must be in",
    ),
    "3.5 dropout str": (
        lambda: CausalAttention(3, 2, 6, "0.1"),
        TypeError,
        "dropout must be a float",
    ),
    "3.5 context 2.5": (
        lambda: CausalAttention(3, 2, 2.5, 0.0),
        TypeError,
        "context_length must be an int, got float 2.5",
    ),
    "3.5 d_out True": (
        lambda: CausalAttention(3, True, 6, 0.0),
        TypeError,
        "d_out must be an int, got bool",
    ),
    "3.5 qkv_bias 1": (
        lambda: CausalAttention(3, 2, 6, 0.0, qkv_bias=1),
        TypeError,
        "qkv_bias must be True or False",
    ),
    # 3.6
    "3.6 mha int x": (
        lambda: MHA(x3(2, 6, 3).long()),
        TypeError,
        "x must be a floating-point",
    ),
    "3.6 mha bool x": (
        lambda: MHA(x3(2, 6, 3) > 0.5),
        TypeError,
        "x must be a floating-point",
    ),
    "3.6 mha float64 x": (
        lambda: MHA(x3(2, 6, 3).double()),
        TypeError,
        "x has dtype torch.float64",
    ),
    "3.6 wrapper int x": (
        lambda: WRAPPER(x3(2, 6, 3).long()),
        TypeError,
        "x must be a floating-point",
    ),
    "3.6 wrapper float64 x": (
        lambda: WRAPPER(x3(2, 6, 3).double()),
        TypeError,
        "x has dtype torch.float64",
    ),
    "3.6 fused float64 x": (
        lambda: FUSED(x3(2, 6, 4).double()),
        TypeError,
        "x has dtype torch.float64",
    ),
    "3.6 fused too long": (lambda: FUSED(x3(2, 7, 4)), ValueError, "context_length=6"),
    "3.6 heads 0": (
        lambda: MultiHeadAttention(3, 4, 6, 0.0, 0),
        ValueError,
        "num_heads must be a positive integer",
    ),
    "3.6 heads 3": (
        lambda: MultiHeadAttention(3, 4, 6, 0.0, 3),
        ValueError,
        "d_out must be divisible by num_heads",
    ),
    "3.6 heads 2.0": (
        lambda: MultiHeadAttention(3, 4, 6, 0.0, 2.0),
        TypeError,
        "num_heads must be an int, got float",
    ),
    "3.6 wrapper heads -1": (
        lambda: MultiHeadAttentionWrapper(3, 2, 6, 0.0, -1),
        ValueError,
        "num_heads must be a positive integer",
    ),
    "3.6 fused qkv_bias None": (
        lambda: FusedMultiHeadAttention(4, 4, 6, 0.0, 2, qkv_bias=None),
        TypeError,
        "qkv_bias",
    ),
    "3.6 int mask": (
        lambda: MHA(x3(2, 6, 3), torch.ones(2, 1, 6, 6, dtype=torch.int64)),
        TypeError,
        "attn_mask must be a boolean",
    ),
    "3.6 3-D mask": (
        lambda: MHA(x3(2, 6, 3), torch.ones(2, 6, 6, dtype=BOOL)),
        ValueError,
        "attn_mask of shape",
    ),
    "3.6 fused float mask": (
        lambda: FUSED(x3(2, 6, 4), torch.zeros(2, 1, 6, 6)),
        TypeError,
        "attn_mask must be a boolean",
    ),
    "3.6 copy_to_fused wrapper": (
        lambda: copy_to_fused(WRAPPER),
        TypeError,
        "mha must be a MultiHeadAttention",
    ),
    "3.6 copy_to_wrapper heads": (
        lambda: copy_to_wrapper(MHA, MultiHeadAttentionWrapper(3, 2, 6, 0.0, 3)),
        ValueError,
        "wrapper must have one head per head",
    ),
    "3.6 copy_to_wrapper widths": (
        lambda: copy_to_wrapper(MHA, MultiHeadAttentionWrapper(3, 3, 6, 0.0, 2)),
        ValueError,
        "each head of wrapper",
    ),
    "3.6 copy_to_fused sizes": (
        lambda: copy_to_fused(MHA, FUSED),
        ValueError,
        "fused must have the same",
    ),
    "3.6 torch d_in != d_out": (
        lambda: to_torch_multihead(MHA),
        ValueError,
        "d_in == d_out",
    ),
    # masks
    "masks seq_len 0": (
        lambda: causal_attend_mask(0),
        ValueError,
        "seq_len must be a positive integer",
    ),
    "masks seq_len 2.5": (
        lambda: causal_attend_mask(2.5),
        TypeError,
        "seq_len must be an int",
    ),
    "masks float tokens": (
        lambda: padding_attend_mask(torch.zeros(2, 3), 0),
        TypeError,
        "tokens must hold integer ids",
    ),
    "masks bool tokens": (
        lambda: padding_attend_mask(torch.zeros(2, 3, dtype=BOOL), 0),
        TypeError,
        "tokens must hold integer ids",
    ),
    "masks 1-D tokens": (
        lambda: padding_attend_mask(torch.zeros(3).long(), 0),
        ValueError,
        r"tokens must be a 2-D \(B, L\)",
    ),
    "masks pad_id str": (
        lambda: padding_attend_mask(torch.zeros(2, 3).long(), "x"),
        TypeError,
        "pad_id must be an int",
    ),
    "masks combine int64": (
        lambda: combine_attend_masks(torch.ones(1, 3).long(), causal_attend_mask(3)),
        TypeError,
        r"padding must be a boolean \(torch.bool\)",
    ),
    "masks combine float": (
        lambda: combine_attend_masks(torch.ones(1, 3, dtype=BOOL), torch.ones(3, 3)),
        TypeError,
        "future must be a boolean",
    ),
    "masks combine list": (
        lambda: combine_attend_masks([[True]], causal_attend_mask(1)),
        TypeError,
        "padding must be a boolean torch.Tensor",
    ),
    "masks combine 3-D": (
        lambda: combine_attend_masks(
            torch.ones(1, 1, 3, dtype=BOOL), causal_attend_mask(3)
        ),
        ValueError,
        "padding must be a 2-D mask",
    ),
    "masks combine lengths": (
        lambda: combine_attend_masks(
            torch.ones(1, 3, dtype=BOOL), causal_attend_mask(4)
        ),
        ValueError,
        r"future must be an \(L, L\)",
    ),
    "masks key_padding int": (
        lambda: key_padding(torch.ones(1, 3).long()),
        TypeError,
        "padding must be a boolean",
    ),
    "masks to_hide int": (
        lambda: to_hide_mask(torch.ones(3).long()),
        TypeError,
        "mask must be a boolean",
    ),
    "masks softmax int mask": (
        lambda: masked_softmax(x3(2, 3), torch.ones(2, 3).long()),
        TypeError,
        "attend must be a boolean",
    ),
    "masks softmax float mask": (
        lambda: masked_softmax(x3(2, 3), torch.ones(2, 3)),
        TypeError,
        "attend must be a boolean",
    ),
    "masks softmax shape": (
        lambda: masked_softmax(x3(2, 3), torch.ones(4, dtype=BOOL)),
        ValueError,
        r"attend of shape \(4,\) does not broadcast",
    ),
    "masks softmax grows scores": (
        lambda: masked_softmax(x3(2, 3), torch.ones(5, 2, 3, dtype=BOOL)),
        ValueError,
        "attend of shape",
    ),
    "masks softmax int scores": (
        lambda: masked_softmax(torch.ones(2, 3).long(), torch.ones(2, 3, dtype=BOOL)),
        TypeError,
        "attn_scores must be a floating-point",
    ),
    "masks check int": (
        lambda: check_attn_mask(torch.ones(2, 1, 1, 5).long(), (2, 4, 5, 5)),
        TypeError,
        "attn_mask must be a boolean",
    ),
    # the decoder
    "gpt float tokens": (
        lambda: MODEL(TOKENS.float()),
        TypeError,
        "input_tokens must hold integer token ids",
    ),
    "gpt 1-D tokens": (
        lambda: MODEL(TOKENS[0]),
        ValueError,
        r"input_tokens must be a 2-D \(B, L\)",
    ),
    "gpt id 18": (
        lambda: MODEL(torch.full((1, 3), 18)),
        ValueError,
        r"token ids must lie in 0..17",
    ),
    "gpt id -1": (
        lambda: MODEL(torch.full((1, 3), -1)),
        ValueError,
        r"token ids must lie in 0..17",
    ),
    "gpt too long": (
        lambda: MODEL(torch.zeros(1, 12).long()),
        ValueError,
        "max_seq_len=11",
    ),
    "gpt int padding_mask": (
        lambda: MODEL(TOKENS, torch.ones(2, 7).long()),
        TypeError,
        "padding_mask must be a boolean",
    ),
    "gpt padding_mask shape": (
        lambda: MODEL(TOKENS, torch.ones(2, 6, dtype=BOOL)),
        ValueError,
        "padding_mask must have the shape",
    ),
    "gpt config str": (
        lambda: GPTDecoder("big"),
        TypeError,
        "config must be a GPTConfig",
    ),
    "gpt d_model 2.0": (
        lambda: GPTConfig(d_model=2.0),
        TypeError,
        "d_model must be an int",
    ),
    "gpt heads 0": (
        lambda: GPTConfig(num_heads=0),
        ValueError,
        "num_heads must be a positive integer",
    ),
    "gpt dropout 1.5": (
        lambda: GPTConfig(dropout=1.5),
        ValueError,
        "dropout must be in",
    ),
    "gpt attn_dropout -1": (
        lambda: GPTConfig(attn_dropout=-1.0),
        ValueError,
        "dropout must be in",
    ),
    "gpt indivisible": (
        lambda: GPTConfig(d_model=130, num_heads=4),
        ValueError,
        "d_model .* divisible by num_heads",
    ),
    "gpt AddNorm d_model 0": (
        lambda: AddNorm(0, 0.1),
        ValueError,
        "d_model must be a positive integer",
    ),
    "gpt AddNorm dropout 2": (
        lambda: AddNorm(4, 2.0),
        ValueError,
        "dropout must be in",
    ),
    "gpt FFN d_ff -1": (
        lambda: PositionwiseFeedForward(16, -1),
        ValueError,
        "d_ff must be a positive integer",
    ),
    "gpt FFN width": (
        lambda: PositionwiseFeedForward(16, 32)(x3(1, 3, 8)),
        ValueError,
        "d_model=16",
    ),
    "gpt FFN int x": (
        lambda: PositionwiseFeedForward(16, 32)(x3(1, 3, 16).long()),
        TypeError,
        "x must be a floating-point",
    ),
    "gpt block dict": (
        lambda: GPTDecoderBlock({"d_model": 16}),
        TypeError,
        "config must be a GPTConfig",
    ),
    "gpt attention_maps mha": (
        lambda: attention_maps(MHA, TOKENS),
        TypeError,
        "model must be a GPTDecoder",
    ),
    # the cache
    "kv 0 layers": (
        lambda: KVCache(0),
        ValueError,
        "num_layers must be a positive integer",
    ),
    "kv max_len -1": (
        lambda: KVCache(1, max_len=-1),
        ValueError,
        "max_len must be a positive integer",
    ),
    "kv max_len 2.5": (
        lambda: KVCache(1, max_len=2.5),
        TypeError,
        "max_len must be an int",
    ),
    "kv other batch": (_other_batch, ValueError, "this cache holds a batch of 2 rows"),
    "kv layers": (
        lambda: MODEL(TOKENS, cache=KVCache(3)),
        TypeError,
        "cache must be a KVCache with num_layers=1",
    ),
    "kv not a cache": (
        lambda: MODEL(TOKENS, cache=[]),
        TypeError,
        "cache must be a KVCache",
    ),
    "kv past max_seq_len": (_overflow, ValueError, "max_seq_len=11"),
    "kv int padding": (
        lambda: MODEL(TOKENS, torch.ones(2, 7).long(), KVCache(1)),
        TypeError,
        "padding_mask must be a boolean",
    ),
    "kv padding shape": (
        lambda: MODEL(TOKENS, torch.ones(2, 6, dtype=BOOL), KVCache(1)),
        ValueError,
        r"padding_mask must have the shape \(B, past \+ L\)",
    ),
    "kv mha not a cache": (
        lambda: MHA(x3(2, 3, 3), cache="cache"),
        TypeError,
        "cache must be a KVCache, got str",
    ),
    "kv layer index": (
        lambda: KVCache(1).extend(1, x3(1, 2, 3, 4), x3(1, 2, 3, 4)),
        ValueError,
        r"layer must be in 0..0",
    ),
    # decoding
    "decode float prompt": (
        lambda: greedy_decode(MODEL, PROMPT.float() + 0.7),
        TypeError,
        "prompts must hold integer token ids",
    ),
    "decode bool prompt": (
        lambda: greedy_decode(MODEL, PROMPT > 3),
        TypeError,
        "prompts must hold integer token ids",
    ),
    "decode max_new -3": (
        lambda: greedy_decode(MODEL, PROMPT, max_new_tokens=-3),
        ValueError,
        "max_new_tokens must be a positive integer, got -3",
    ),
    "decode max_new 0": (
        lambda: greedy_decode(MODEL, PROMPT, max_new_tokens=0),
        ValueError,
        "max_new_tokens must be a positive integer",
    ),
    "decode max_new 2.5": (
        lambda: greedy_decode(MODEL, PROMPT, max_new_tokens=2.5),
        TypeError,
        "max_new_tokens must be an int, got float 2.5",
    ),
    "decode max_new too many": (
        lambda: greedy_decode(MODEL, PROMPT, max_new_tokens=9),
        ValueError,
        "max_new_tokens=9 after a prompt of 7 tokens needs 15 positions",
    ),
    "decode 1-D prompt": (
        lambda: greedy_decode(MODEL, PROMPT[0]),
        ValueError,
        r"prompts must be a non-empty \(B, T\)",
    ),
    "decode empty prompt": (
        lambda: greedy_decode(MODEL, PROMPT[:, :0]),
        ValueError,
        "prompts must be a non-empty",
    ),
    "decode list prompt": (
        lambda: greedy_decode(MODEL, [[15, 1]]),
        TypeError,
        "prompts must be a",
    ),
    "decode id 99": (
        lambda: greedy_decode(MODEL, torch.full((1, 3), 99)),
        ValueError,
        r"prompt token ids must lie in 0..17",
    ),
    "decode all-pad row": (
        lambda: greedy_decode(
            MODEL, torch.cat([PROMPT, torch.full_like(PROMPT, vocab.PAD)])
        ),
        ValueError,
        "prompts row 1 is all <pad>",
    ),
    "decode use_cache str": (
        lambda: greedy_decode(MODEL, PROMPT, use_cache="yes"),
        TypeError,
        "use_cache must be True or False",
    ),
    "decode model": (
        lambda: greedy_decode(MHA, PROMPT),
        TypeError,
        "model must be a GPTDecoder",
    ),
    "complete_one list": (
        lambda: complete_one(MODEL, [15, 1]),
        TypeError,
        "prompt must be a tensor",
    ),
    "complete_one max_new": (
        lambda: complete_one(MODEL, PROMPT[0], max_new_tokens=-1),
        ValueError,
        "max_new_tokens",
    ),
    "evaluate question": (
        lambda: evaluate(MODEL, ["15+57="]),
        ValueError,
        r"expected an equation like .* got '15\+57='",
    ),
    "evaluate wrong sum": (
        lambda: evaluate(MODEL, ["15+57=073"]),
        ValueError,
        r"equation '15\+57=073' is wrong",
    ),
    "evaluate unpadded": (
        lambda: evaluate(MODEL, ["5+07=012"]),
        ValueError,
        r"got '5\+07=012'",
    ),
    "evaluate mixed digits": (
        lambda: evaluate(MODEL, ["15+57=072", "5+7=12"]),
        ValueError,
        r"'5\+7=12' does not",
    ),
    "evaluate str": (
        lambda: evaluate(MODEL, "15+57=072"),
        TypeError,
        "equations must be a list",
    ),
    "evaluate empty": (lambda: evaluate(MODEL, []), ValueError, "equations is empty"),
    "evaluate ints": (
        lambda: evaluate(MODEL, [1, 2]),
        TypeError,
        "equations must be a list of equation strings",
    ),
    "evaluate unicode": (
        lambda: evaluate(MODEL, ["١٥+٥٧=٠٧٢"]),
        ValueError,
        "expected an equation",
    ),
    "what_is model": (
        lambda: what_is("1+2=", None),
        TypeError,
        "model must be a GPTDecoder",
    ),
    "what_is unicode": (
        lambda: what_is("١+٢=", MODEL),
        ValueError,
        "only the ASCII digits 0-9",
    ),
    "what_is untrained": (
        lambda: what_is("1+2=", MODEL),
        ValueError,
        r"did not answer '1\+2=' with three digits and <EOS>",
    ),
    # the vocabulary
    "parse num_digits 0": (
        lambda: vocab.parse_question("1+2=", num_digits=0),
        ValueError,
        "num_digits must be a positive integer",
    ),
    "parse num_digits 2.5": (
        lambda: vocab.parse_question("1+2=", num_digits=2.5),
        TypeError,
        "num_digits must be an int",
    ),
    "parse negative": (
        lambda: vocab.parse_question("-5+3="),
        ValueError,
        "'-5' is not a 1- to 2-digit operand",
    ),
    "parse unicode": (
        lambda: vocab.parse_question("١+٢="),
        ValueError,
        "only the ASCII digits 0-9",
    ),
    "parse full-width": (
        lambda: vocab.parse_question("１+２="),
        ValueError,
        "only the ASCII digits 0-9",
    ),
    "parse not str": (
        lambda: vocab.parse_question(12),
        TypeError,
        "question must be a str",
    ),
    "encode unicode": (
        lambda: vocab.encode("١+٢="),
        ValueError,
        "not in the vocabulary",
    ),
    "encode not str": (lambda: vocab.encode(12), TypeError, "text must be a str"),
    "decode 2-D": (
        lambda: vocab.decode(torch.zeros(2, 3).long()),
        ValueError,
        "ids must be a 1-D tensor",
    ),
    "equation negative": (
        lambda: vocab.equation_to_string(-5, 3),
        ValueError,
        "a must be an int from 0 to 99",
    ),
    "equation too big": (
        lambda: vocab.equation_to_string(3, 100),
        ValueError,
        "b must be an int from 0 to 99",
    ),
    "equation float": (
        lambda: vocab.equation_to_string(3.5, 1),
        TypeError,
        "a must be an int",
    ),
    "equation_length 0": (
        lambda: vocab.equation_length(0),
        ValueError,
        "num_digits must be a positive integer",
    ),
    "pad_number negative": (
        lambda: vocab.pad_number(-1, 2),
        ValueError,
        "num must be a non-negative integer",
    ),
    # data
    "disjoint negative size": (
        lambda: data.disjoint_split(2, (-1, 1000, 1000)),
        ValueError,
        r"sizes \(train\) must be a non-negative integer, got -1",
    ),
    "disjoint 2 sizes": (
        lambda: data.disjoint_split(2, (10, 10)),
        ValueError,
        "sizes must be three split sizes",
    ),
    "disjoint float size": (
        lambda: data.disjoint_split(2, (10.5, 10, 10)),
        TypeError,
        r"sizes \(train\) must be an int",
    ),
    "disjoint too many": (
        lambda: data.disjoint_split(1, (50, 50, 1)),
        ValueError,
        "more than the 100 possible",
    ),
    "disjoint digits 0": (
        lambda: data.disjoint_split(0),
        ValueError,
        "num_digits must be a positive integer",
    ),
    "disjoint digits 9": (
        lambda: data.disjoint_split(9),
        ValueError,
        "num_digits must be 1 to 4",
    ),
    "split nan": (
        lambda: data.split_sizes(10, (float("nan"), 0.5, 0.5)),
        ValueError,
        "fractions must be three non-negative numbers summing to 1",
    ),
    "split str": (
        lambda: data.split_sizes(10, ("a", 0.5, 0.5)),
        TypeError,
        "fractions must be three",
    ),
    "split n -1": (
        lambda: data.split_sizes(-1, (0.7, 0.2, 0.1)),
        ValueError,
        "n must be a non-negative integer",
    ),
    "split negative fraction": (
        lambda: data.split_sizes(10, (1.2, -0.2, 0.0)),
        ValueError,
        "fractions must be three",
    ),
    "split two fractions": (
        lambda: data.split_sizes(10, (0.5, 0.5)),
        ValueError,
        "fractions must be three",
    ),
    "loaders fractions": (
        lambda: data.make_loaders([torch.zeros(3)] * 10, fractions=(0.5, 0.6, -0.1)),
        ValueError,
        "fractions",
    ),
    "loaders batch 0": (
        lambda: data.make_loaders([torch.zeros(3)] * 10, batch_size=0),
        ValueError,
        "batch_size must be a positive integer",
    ),
    "all_equations 0": (
        lambda: data.all_equations(0),
        ValueError,
        "num_digits must be a positive integer",
    ),
    "dataset size 0": (
        lambda: data.create_add_dataset(2, 0),
        ValueError,
        "size must be a positive integer",
    ),
    "dataset seed float": (
        lambda: data.create_add_dataset(2, 3, seed=1.5),
        TypeError,
        "seed must be an int",
    ),
    "batches float": (
        lambda: data.construct_batches(torch.zeros(2, 3)),
        ValueError,
        "x must be a",
    ),
    "batches no equal": (
        lambda: data.construct_batches(torch.zeros(2, 3).long()),
        ValueError,
        'exactly one "="',
    ),
    "collate pad_id str": (
        lambda: data.PadCollate("x"),
        TypeError,
        "pad_id must be an int",
    ),
    # words, one head
    "words vocab_size 0": (
        lambda: words.embed_tokens(torch.tensor([0]), vocab_size=0),
        ValueError,
        "vocab_size must be a positive integer",
    ),
    "words float ids": (
        lambda: words.embed_tokens(torch.tensor([0.0])),
        TypeError,
        "token_ids must be an integer",
    ),
    "words vocab None": (
        lambda: words.encode("a", None),
        TypeError,
        "vocab must be a dict",
    ),
    "words unknown word": (
        lambda: words.encode("zebra", words.build_vocab()),
        ValueError,
        "word 'zebra' is not in the vocabulary",
    ),
    "words empty prompt": (
        lambda: words.build_vocab("  "),
        ValueError,
        "prompt must contain at least one word",
    ),
    "one_head epochs 0": (
        lambda: one_head.train_one_head(
            one_head.SelfAttention(4), x3(3, 4), x3(3, 4), epochs=0
        ),
        ValueError,
        "epochs must be a positive integer",
    ),
    "one_head int x": (
        lambda: one_head.SelfAttention(4)(x3(3, 4).long()),
        TypeError,
        "x must be a floating-point",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_named(case):
    call, error, match = CASES[case]
    with pytest.raises(error, match=match):
        call()


# --- what works, and must keep working ---------------------------------------------------------
def test_numpy_integers_are_sizes():
    n = np.int64
    assert SelfAttention_v1(n(3), np.int32(2))(INPUTS).shape == (6, 2)
    ca = CausalAttention(n(3), n(2), n(6), np.float32(0.0))
    assert ca(x3(1, 6, 3)).shape == (1, 6, 2)
    assert MultiHeadAttention(n(3), n(4), n(6), 0.0, n(2))(x3(1, 6, 3)).shape == (
        1,
        6,
        4,
    )
    assert causal_attend_mask(n(3)).shape == (3, 3)
    config = GPTConfig(d_model=n(16), num_heads=n(2), num_layers=n(1), d_ff=n(32))
    assert all(
        type(v) is int for k, v in config.to_dict().items() if "dropout" not in k
    )
    assert data.disjoint_split(2, (n(5), n(2), n(3)))[2].__len__() == 3


def test_float64_modules_take_float64_inputs():
    assert V2.double()(INPUTS.double()).dtype == torch.float64
    mha = MultiHeadAttention(3, 4, 6, 0.0, 2).double()
    assert mha(x3(1, 6, 3, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(
        TypeError, match="x has dtype torch.float32, but this module's weights"
    ):
        mha(x3(1, 6, 3))
    V2.float()


def test_non_finite_inputs_are_refused_at_the_attention_door():
    # a NaN in the value of the last position, which no earlier query may see: without the
    # check, 0 (its weight) times NaN is NaN, and every row of the sequence would be NaN
    x = x3(2, 6, 3)
    x[0, 5, 0] = float("nan")
    for module in (CA, MHA, WRAPPER):
        with pytest.raises(ValueError, match="x holds 1 NaN or infinite value"):
            module(x)
    x = x3(2, 6, 4)
    x[1, 0, 3] = float("-inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        FUSED(x)
    assert torch.isnan(sa.softmax_naive(torch.tensor([float("nan"), 0.0]))).all()


def test_fully_masked_rows_are_zeros_everywhere():
    hide = torch.zeros(1, 6, 6, dtype=BOOL)
    assert torch.equal(CA(x3(1, 6, 3), hide), torch.zeros(1, 6, 2))
    out = MHA(x3(1, 6, 3), hide[:, None])
    assert torch.allclose(out, MHA.out_proj.bias.expand(1, 6, 4))
    out = FUSED(x3(1, 6, 4), hide[:, None])
    assert torch.allclose(out, FUSED.out_proj.bias.expand(1, 6, 4))
    logits = MODEL(TOKENS, torch.zeros(2, 7, dtype=BOOL))
    assert torch.isfinite(logits).all()
    # a fully padded row gives the same logits as any other fully padded row of its tokens
    first = torch.zeros(1, 7, dtype=BOOL)
    assert torch.allclose(MODEL(TOKENS[:1], first), logits[:1], atol=1e-6)


def test_masked_softmax_gives_zero_rows_not_nan():
    weights = masked_softmax(
        torch.randn(2, 3), torch.tensor([[True, False, True], [False] * 3])
    )
    assert torch.equal(weights[1], torch.zeros(3))
    assert torch.allclose(weights[0].sum(), torch.tensor(1.0))


def test_small_helpers_name_their_arguments():
    from chapter3.gpt import LayerNormWithStd, count_parameters

    with pytest.raises(ValueError, match="feature_dim must be a positive integer"):
        LayerNormWithStd(0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        count_parameters("model")
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        one_head.train_one_head(None, x3(3, 4), x3(3, 4))
    with pytest.raises(TypeError, match="target must be a floating-point"):
        one_head.train_one_head(one_head.SelfAttention(4), x3(3, 4), x3(3, 4).long())


def test_transfer_weights_refuses_biases_and_other_sizes():
    with pytest.raises(
        ValueError, match="qkv_bias=True; SelfAttention_v1 has no biases"
    ):
        transfer_weights(SelfAttention_v2(3, 2, qkv_bias=True), SelfAttention_v1(3, 2))
    with pytest.raises(ValueError, match="same \\(d_in, d_out\\)"):
        transfer_weights(SelfAttention_v2(3, 2), SelfAttention_v1(2, 3))
