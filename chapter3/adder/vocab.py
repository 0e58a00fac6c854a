"""The adder's vocabulary: token ids, encoding and decoding, and checked questions.

Equations are written with zero padding, ``06+90=096``: two ``num_digits``-digit operands and
a ``num_digits + 1``-digit sum, between ``<BOS>`` and ``<EOS>``. Every equation of the 2-digit
task is therefore 11 tokens long. The ids are those of the notebook that trains a GPT decoder
to add.
"""

from __future__ import annotations

import re

import torch

from chapter3._checks import check_int, check_non_negative_int, check_positive_int

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
    num, length = (
        check_non_negative_int(num, "num"),
        check_positive_int(length, "length"),
    )
    text = str(num)
    if len(text) > length:
        raise ValueError(
            f"num {num} has {len(text)} digits, more than length={length}: padding cannot "
            "shorten a number"
        )
    return text.zfill(length)


def equation_to_string(a: int, b: int, num_digits: int = 2) -> str:
    """``a+b=c`` with both operands padded to ``num_digits`` and the sum to ``num_digits + 1``.

    >>> from chapter3.adder import equation_to_string
    >>> equation_to_string(6, 90)
    '06+90=096'
    """
    num_digits = check_positive_int(num_digits, "num_digits")
    for name, value in (("a", a), ("b", b)):
        if not 0 <= check_int(value, name) < 10**num_digits:
            raise ValueError(
                f"{name} must be an int from 0 to {10**num_digits - 1} "
                f"(num_digits={num_digits}), got {value!r}"
            )
    a_str, b_str = pad_number(a, num_digits), pad_number(b, num_digits)
    return f"{a_str}+{b_str}={pad_number(a + b, num_digits + 1)}"


def encode(text: str) -> list[int]:
    """Token ids of a string of single-character tokens (digits and ``+ * - =``).

    >>> from chapter3.adder import encode
    >>> encode("15+57=")
    [1, 5, 10, 5, 7, 13]

    Only the ASCII digits 0-9 are tokens: other Unicode digits (``"٣"``, ``"３"``) are refused
    here, by :func:`parse_question` and so by ``what_is``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str like '15+57=', got {type(text).__name__}")
    unknown = sorted({ch for ch in text if ch not in TOKEN_TO_INDEX})
    if unknown:
        raise ValueError(
            f"characters {unknown} of text {text!r} are not in the vocabulary "
            "(the ASCII digits 0-9 and + * - =)"
        )
    return [TOKEN_TO_INDEX[ch] for ch in text]


_EQUATION_SHAPE = re.compile(r"[0-9]+\+[0-9]+=[0-9]*")


def encode_equation(equation: str) -> torch.Tensor:
    """``<BOS>`` + the tokens of ``equation`` + ``<EOS>``, as a 1-D long tensor.

    ``equation`` must have the shape ``a+b=c``: ASCII digits, one ``+``, one ``=`` and the
    answer digits (none for a question such as ``"15+57="``; any order, so a reversed answer
    such as ``"15+57=270"`` is encoded too). Whether the sum is right is not checked here
    (:func:`parse_equation` does that).

    >>> from chapter3.adder import encode_equation
    >>> encode_equation("15+57=072")
    tensor([15,  1,  5, 10,  5,  7, 13,  0,  7,  2, 14])
    >>> encode_equation("1+")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: expected an equation of the form 'a+b=c' (digits, ...), got '1+'
    """
    if not isinstance(equation, str):
        raise TypeError(
            f"equation must be a str like '15+57=072', got {type(equation).__name__}"
        )
    if _EQUATION_SHAPE.fullmatch(equation) is None:
        encode(equation)  # characters outside the vocabulary are named first
        raise ValueError(
            "expected an equation of the form 'a+b=c' (digits, e.g. '15+57=072', or the "
            f"question '15+57='), got {equation!r}"
        )
    return torch.tensor([BOS, *encode(equation), EOS], dtype=torch.long)


def check_equation_list(equations, name: str = "equations") -> list[str]:
    """Raise unless ``equations`` is a non-empty list or tuple of strings; return a list.

    A single string is refused (it would be read as one equation per character).
    """
    if isinstance(equations, str) or not isinstance(equations, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of equation strings like '15+57=072', "
            f"got {type(equations).__name__}"
        )
    if not equations:
        raise ValueError(f"{name} is empty")
    bad = next((e for e in equations if not isinstance(e, str)), None)
    if bad is not None:
        raise TypeError(f"{name} must hold strings like '15+57=072', got {bad!r}")
    return list(equations)


def check_equations(equations) -> None:
    """Raise :func:`encode_equation`'s error for the first of ``equations`` (strings) that is
    not of the shape ``a+b=c``; one regular-expression match each, no tensor built."""
    for equation in equations:
        if not isinstance(equation, str) or _EQUATION_SHAPE.fullmatch(equation) is None:
            encode_equation(equation)  # raises, naming it


# byte value of a one-character token -> its id (-1: not a token)
_BYTE_TO_ID = torch.full((256,), -1, dtype=torch.long)
for _token, _id in TOKEN_TO_INDEX.items():
    if len(_token) == 1:
        _BYTE_TO_ID[ord(_token)] = _id


def encode_equations(equations) -> torch.Tensor:
    """(N, L): :func:`encode_equation` of each of ``equations``, stacked, built in one go.

    The equations (a non-empty list or tuple of strings) must all have one length, as the
    zero-padded equations of one task do. Ten thousand of them take a few milliseconds,
    where encoding them one by one takes a tenth of a second.

    >>> from chapter3.adder.vocab import encode_equations
    >>> encode_equations(["15+57=072", "90+38=128"])
    tensor([[15,  1,  5, 10,  5,  7, 13,  0,  7,  2, 14],
            [15,  9,  0, 10,  3,  8, 13,  1,  2,  8, 14]])
    """
    check_equations(check_equation_list(equations))
    length = len(equations[0])
    odd = next((e for e in equations if len(e) != length), None)
    if odd is not None:
        raise ValueError(
            "equations must all have the same length: "
            f"{equations[0]!r} and {odd!r} do not"
        )
    # every character is an ASCII digit, "+" or "=" (checked): one byte, one token
    codes = torch.frombuffer(bytearray("".join(equations), "ascii"), dtype=torch.uint8)
    body = _BYTE_TO_ID[codes.long()].view(len(equations), length)  # (N, L-2)
    ends = torch.tensor([[BOS, EOS]]).expand(len(equations), 2)  # (N, 2)
    return torch.cat([ends[:, :1], body, ends[:, 1:]], dim=1)  # (N, L)


def decode(ids) -> str:
    """The string of a sequence of ids, without ``<BOS>``, ``<EOS>`` and ``<pad>``.

    >>> from chapter3.adder import decode
    >>> decode([15, 1, 5, 10, 5, 7, 13, 0, 7, 2, 14])
    '15+57=072'

    ``ids`` is a 1-D integer tensor or a list/tuple of ints, each in ``0..VOCAB_SIZE - 1``;
    anything else (99, -1, 1.0, True, a string) is refused rather than shown as ``'??'``.
    """
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1 or ids.is_floating_point() or ids.is_complex():
            raise ValueError(
                f"ids must be a 1-D tensor of integer token ids, got shape "
                f"{tuple(ids.shape)} and dtype {ids.dtype}"
            )
        if ids.dtype == torch.bool:
            raise TypeError("ids must hold integer token ids, got a torch.bool tensor")
        ids = ids.tolist()
    elif not isinstance(ids, (list, tuple)):
        raise TypeError(
            f"ids must be a list or 1-D tensor of token ids, got {type(ids).__name__}"
        )
    else:
        ids = [check_int(i, "each token id") for i in ids]
    bad = next((i for i in ids if not 0 <= i < VOCAB_SIZE), None)
    if bad is not None:
        raise ValueError(f"token ids must lie in 0..{VOCAB_SIZE - 1}, got {bad}")
    skip = {BOS, EOS, PAD}
    return "".join(INDEX_TO_TOKEN[i] for i in ids if i not in skip)


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
    num_digits = check_positive_int(num_digits, "num_digits")
    match = re.fullmatch(
        rf"([0-9]{{1,{num_digits}}})\+([0-9]{{1,{num_digits}}})=", question.strip()
    )
    if match is None:
        raise ValueError(
            f"expected a question of the form 'a+b=' with a and b of 1 to {num_digits} digits "
            f"(e.g. '15+57='), got {_shown(question)}{_why_not(question, num_digits)}"
        )
    a, b = (int(g) for g in match.groups())
    return f"{pad_number(a, num_digits)}+{pad_number(b, num_digits)}="


def _shown(text: str, limit: int = 40) -> str:
    """``repr(text)``, or the repr of its first ``limit`` characters and its length.

    >>> _shown("7" * 100_000)  # doctest: +ELLIPSIS
    "'777...777'… (100,000 characters)"
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def _why_not(question: str, num_digits: int) -> str:
    """The reason a near-miss question is refused, for the error message."""
    negative = re.search(r"-[0-9]+", question)
    if negative:
        return (
            f": {_shown(negative.group())} is not a 1- to {num_digits}-digit operand, "
            f"the adder adds numbers from 0 to {10**num_digits - 1}"
        )
    if any(ch.isdigit() and ch not in "0123456789" for ch in question):
        return ": only the ASCII digits 0-9 are tokens"
    return ""


def parse_equation(equation: str) -> tuple[int, int, int]:
    """Check a whole equation such as ``"06+90=096"``; return ``(a, b, num_digits)``.

    Both operands have ``num_digits`` digits, the sum ``num_digits + 1`` (zero-padded, as
    :func:`equation_to_string` writes them), and the sum is right.

    >>> from chapter3.adder.vocab import parse_equation
    >>> parse_equation("06+90=096")
    (6, 90, 2)
    >>> parse_equation("15+57=")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: expected an equation like '15+57=072' ..., got '15+57='
    """
    if not isinstance(equation, str):
        raise TypeError(
            f"equation must be a str like '15+57=072', got {type(equation).__name__}"
        )
    match = re.fullmatch(r"([0-9]+)\+([0-9]+)=([0-9]+)", equation)
    n = len(match.group(1)) if match else 0
    if match is None or len(match.group(2)) != n or len(match.group(3)) != n + 1:
        raise ValueError(
            "expected an equation like '15+57=072' (operands of the same number of digits, "
            f"a sum one digit longer), got {equation!r}"
        )
    a, b, c = (int(g) for g in match.groups())
    if a + b != c:
        raise ValueError(f"equation {equation!r} is wrong: {a} + {b} = {a + b}")
    return a, b, n
