"""The adder's vocabulary: token ids, encoding and decoding, and checked questions.

Equations are written with zero padding, ``06+90=096``: two ``num_digits``-digit operands and
a ``num_digits + 1``-digit sum, between ``<BOS>`` and ``<EOS>``. Every equation of the 2-digit
task is therefore 11 tokens long. The ids are those of the notebook that trains a GPT decoder
to add.
"""

from __future__ import annotations

import re

import torch

from chapter3._checks import check_positive_int

# --- the vocabulary (ids as in the adder notebook) ---------------------------------
PLUS = 10
MUL = 11
MINUS = 12
EQUAL = 13
EOS = 14
BOS = 15
PAD = 16
UNK = 17

TOKEN_TO_INDEX: dict[str, int] = {
    **{str(d): d for d in range(10)},
    "+": PLUS,
    "*": MUL,
    "-": MINUS,
    "=": EQUAL,
    "<EOS>": EOS,
    "<BOS>": BOS,
    "<pad>": PAD,
    "??": UNK,
}
INDEX_TO_TOKEN: dict[int, str] = {i: t for t, i in TOKEN_TO_INDEX.items()}
VOCAB_SIZE = len(TOKEN_TO_INDEX)  # 18


def equation_length(num_digits: int = 2) -> int:
    """Tokens in one equation: <BOS>, a, "+", b, "=", the sum (one digit longer), <EOS>.

    >>> from chapter3.adder import equation_length
    >>> equation_length(2)
    11
    """
    check_positive_int(num_digits, "num_digits")
    return 1 + num_digits + 1 + num_digits + 1 + (num_digits + 1) + 1


def pad_number(num: int, length: int) -> str:
    """Zero-pad ``num`` on the left to ``length`` characters.

    >>> from chapter3.adder import pad_number
    >>> pad_number(6, 2), pad_number(96, 3)
    ('06', '096')
    """
    return str(num).zfill(length)


def equation_to_string(a: int, b: int, num_digits: int = 2) -> str:
    """``a+b=c`` with both operands padded to ``num_digits`` and the sum to ``num_digits + 1``.

    >>> from chapter3.adder import equation_to_string
    >>> equation_to_string(6, 90)
    '06+90=096'
    """
    a_str, b_str = pad_number(a, num_digits), pad_number(b, num_digits)
    return f"{a_str}+{b_str}={pad_number(a + b, num_digits + 1)}"


def encode(text: str) -> list[int]:
    """Token ids of a string of single-character tokens (digits and ``+ * - =``).

    >>> from chapter3.adder import encode
    >>> encode("15+57=")
    [1, 5, 10, 5, 7, 13]
    """
    unknown = sorted({ch for ch in text if ch not in TOKEN_TO_INDEX})
    if unknown:
        raise ValueError(
            f"characters {unknown} are not in the vocabulary (digits and + * - =)"
        )
    return [TOKEN_TO_INDEX[ch] for ch in text]


def encode_equation(equation: str) -> torch.Tensor:
    """``<BOS>`` + the tokens of ``equation`` + ``<EOS>``, as a 1-D long tensor.

    >>> from chapter3.adder import encode_equation
    >>> encode_equation("15+57=072")
    tensor([15,  1,  5, 10,  5,  7, 13,  0,  7,  2, 14])
    """
    return torch.tensor([BOS, *encode(equation), EOS], dtype=torch.long)


def decode(ids) -> str:
    """The string of a sequence of ids, without ``<BOS>``, ``<EOS>`` and ``<pad>``.

    >>> from chapter3.adder import decode
    >>> decode([15, 1, 5, 10, 5, 7, 13, 0, 7, 2, 14])
    '15+57=072'
    """
    if isinstance(ids, torch.Tensor):
        ids = ids.tolist()
    skip = {BOS, EOS, PAD}
    return "".join(INDEX_TO_TOKEN.get(i, "??") for i in ids if i not in skip)


def parse_question(question: str, num_digits: int = 2) -> str:
    """Check a question like ``"6+90="`` and return it zero-padded (``"06+90="``).

    >>> from chapter3.adder import parse_question
    >>> parse_question("6+90=")
    '06+90='
    >>> parse_question("123+4=")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: expected a question of the form 'a+b=' with a and b of 1 to 2 digits ...
    """
    if not isinstance(question, str):
        raise TypeError(
            f"question must be a str like '15+57=', got {type(question).__name__}"
        )
    match = re.fullmatch(
        rf"(\d{{1,{num_digits}}})\+(\d{{1,{num_digits}}})=", question.strip()
    )
    if match is None:
        raise ValueError(
            f"expected a question of the form 'a+b=' with a and b of 1 to {num_digits} digits "
            f"(e.g. '15+57='), got {question!r}"
        )
    a, b = (int(g) for g in match.groups())
    return f"{pad_number(a, num_digits)}+{pad_number(b, num_digits)}="
