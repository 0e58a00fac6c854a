"""Carry classes of 2-digit sums: which columns overflow, and whether one carry causes another.

For ``a + b`` with ones digits ``a0, b0`` and tens digits ``a1, b1``:

- ``"no carry"``: ``a0 + b0 < 10`` and ``a1 + b1 < 10`` (``15+23``);
- ``"carry into tens"``: the ones column overflows, the tens column does not (``15+57``);
- ``"carry into hundreds"``: the tens column overflows on its own, ``a1 + b1 >= 10``
  (``50+50``; ``99+99`` carries into the tens as well);
- ``"cascade"``: the tens column overflows *only because* of the carry from the ones column,
  ``a1 + b1 == 9`` and ``a0 + b0 >= 10`` (``55+45``, ``99+01``): the hardest case, since the
  hundreds digit depends on the ones digits.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

CARRY_CLASSES = ("no carry", "carry into tens", "carry into hundreds", "cascade")


def carry_class(a: int, b: int) -> str:
    """The carry class of ``a + b`` for two numbers of at most two digits.

    >>> from chapter3.adder.carries import carry_class
    >>> [carry_class(*p) for p in [(15, 23), (15, 57), (50, 50), (55, 45)]]
    ['no carry', 'carry into tens', 'carry into hundreds', 'cascade']
    """
    for name, value in (("a", a), ("b", b)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int from 0 to 99, got {value!r}")
        if not 0 <= value <= 99:
            raise ValueError(f"{name} must be an int from 0 to 99, got {value!r}")
    a, b = int(a), int(b)
    ones = a % 10 + b % 10 >= 10
    tens_sum = a // 10 + b // 10
    if tens_sum >= 10:
        return "carry into hundreds"
    if ones and tens_sum == 9:
        return "cascade"
    return "carry into tens" if ones else "no carry"


def carry_class_of_equation(equation: str) -> str:
    """The carry class of an equation or question such as ``"55+45=100"`` or ``"55+45="``.

    >>> from chapter3.adder.carries import carry_class_of_equation
    >>> carry_class_of_equation("55+45=100")
    'cascade'
    """
    if not isinstance(equation, str) or "+" not in equation or "=" not in equation:
        raise ValueError(f"expected an equation like '55+45=100', got {equation!r}")
    left, right = equation.split("=", 1)[0].split("+", 1)
    if not (left.isascii() and left.isdigit() and right.isascii() and right.isdigit()):
        raise ValueError(f"expected an equation like '55+45=100', got {equation!r}")
    return carry_class(int(left), int(right))


def count_by_carry(equations) -> dict[str, int]:
    """How many of ``equations`` (strings) fall in each carry class, in a fixed order.

    >>> from chapter3.adder.carries import count_by_carry
    >>> from chapter3.adder.data import all_equations
    >>> count_by_carry(all_equations(2))
    {'no carry': 3025, 'carry into tens': 2025, 'carry into hundreds': 4500, 'cascade': 450}
    """
    if isinstance(equations, str) or not isinstance(equations, Iterable):
        raise TypeError(
            "equations must be a list (or iterable) of equation strings like "
            "'15+57=072', got "
            f"{type(equations).__name__}"
        )
    counts = dict.fromkeys(CARRY_CLASSES, 0)
    for equation in equations:
        counts[carry_class_of_equation(equation)] += 1
    return counts
