"""Compare an executed page notebook with the outputs the page checked.

A page notebook (docs/_ext/takeaway.py) marks every cell whose output the book's doctests
checked with the metadata ``checked: {"optionflags": [...]}``; its stored output is the
doctest's expected output. After a reader's run, the same cell's output must match it under
the same doctest option flags, with whitespace normalised (IPython's pretty printer wraps long
lists where ``repr`` does not).

Two kinds of output, compared differently:

- what is the same on every CPU (the chapter's small tensors at the printed precision, masks,
  data, counts, errors) is compared exactly, as the doctest did; a page that prints a value
  rounding could reach prints it to fewer digits or elides them (``ELLIPSIS``), and the same
  flags apply here;
- a *measurement* of the machine that built the book (a time, a speed, anything trained
  there) is a line that starts with "on this machine" (any case). The reader's run must print
  such a line where the page did, but its numbers are the reader's machine's, so they are not
  compared: :func:`split_measurements` takes those lines out of both before the comparison.
"""

from __future__ import annotations

import doctest
import re

MEASUREMENT = re.compile(
    r"^[ \t]*on this machine\b.*$\n?", re.IGNORECASE | re.MULTILINE
)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value  # nbformat splits lines


def output_text(cell: dict) -> str:
    """What a code cell showed, as text: stdout, the value, or ``Name: message``."""
    parts = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream" and output.get("name") == "stdout":
            parts.append(_text(output["text"]))
        elif kind == "execute_result":
            parts.append(_text(output["data"].get("text/plain", "")) + "\n")
        elif kind == "error":
            parts.append(f"{output['ename']}: {output['evalue']}\n")
    return "".join(parts)


def split_measurements(text: str) -> tuple[str, int]:
    r"""``(text without its measurement lines, how many there were)``.

    >>> split_measurements("tensor([1, 2])\nOn this machine: 3.1 s for 10,000 sums\nok\n")
    ('tensor([1, 2])\nok\n', 1)
    """
    return MEASUREMENT.subn("", text)


def _flags(names: list[str]) -> int:
    flags = doctest.NORMALIZE_WHITESPACE
    for name in names:
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags


def _error_matches(want: str, got: str, flags: int) -> bool:
    want_name, _, want_message = want.strip().partition(":")
    got_name, _, got_message = got.strip().partition(":")
    if want_name.rpartition(".")[2] != got_name.rpartition(".")[2]:
        return False
    if flags & doctest.IGNORE_EXCEPTION_DETAIL:
        return True
    checker = doctest.OutputChecker()
    return checker.check_output(want_message.strip(), got_message.strip(), flags)


def mismatches(page: dict, executed: dict) -> tuple[int, list[str]]:
    r"""``(number of checked cells, problems)`` for a page notebook and its executed copy.

    >>> def notebook(printed):
    ...     output = {"output_type": "stream", "name": "stdout", "text": printed}
    ...     cell = {"cell_type": "code", "id": "c", "source": ["f()"], "outputs": [output]}
    ...     return {"cells": [{**cell, "metadata": {"checked": {"optionflags": []}}}]}
    >>> page = notebook("tensor([0.2689, 0.7311])\nOn this machine: 1.2 s\n")
    >>> mismatches(page, notebook("tensor([0.2689, 0.7311])\non this machine: 9.9 s\n"))
    (1, [])
    >>> len(mismatches(page, notebook("tensor([0.2689, 0.7312])\nOn this machine: 1.2 s\n"))[1])
    1
    >>> len(mismatches(page, notebook("tensor([0.2689, 0.7311])\n"))[1])  # the line is gone
    1
    """
    checker = doctest.OutputChecker()
    by_id = {cell.get("id"): cell for cell in executed["cells"]}
    problems, count = [], 0
    for cell in page["cells"]:
        checked = cell.get("metadata", {}).get("checked")
        if cell["cell_type"] != "code" or checked is None:
            continue
        count += 1
        ran = by_id.get(cell.get("id"))
        if ran is None:
            problems.append(
                f"cell {cell.get('id')} is missing from the executed notebook"
            )
            continue
        want, got = output_text(cell), output_text(ran)
        flags = _flags(checked.get("optionflags", []))
        is_error = any(o["output_type"] == "error" for o in cell.get("outputs", []))
        if is_error:
            ok = _error_matches(want, got, flags)
        else:  # measurements: the same lines, not the same numbers
            (want_rest, measured), (got_rest, got_measured) = map(
                split_measurements, (want, got)
            )
            ok = measured == got_measured and checker.check_output(
                want_rest, got_rest, flags
            )
        if not ok:
            source = "".join(cell["source"])
            problems.append(
                f"cell {cell.get('id')}:\n{source}\n--- the page checked:\n{want}"
                f"--- the reader's run gave:\n{got}"
            )
    return count, problems
