"""Compare an executed page notebook with the outputs the page checked.

A page notebook (docs/_ext/takeaway.py) marks every cell whose output the book's doctests
checked with the metadata ``checked: {"optionflags": [...]}``; its stored output is the
doctest's expected output. After a reader's run, the same cell's output must match it under
the same doctest option flags, with whitespace normalised (IPython's pretty printer wraps long
lists where ``repr`` does not).
"""

from __future__ import annotations

import doctest


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
    """``(number of checked cells, problems)`` for a page notebook and its executed copy."""
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
        ok = (
            _error_matches(want, got, flags)
            if is_error
            else checker.check_output(want, got, flags)
        )
        if not ok:
            source = "".join(cell["source"])
            problems.append(
                f"cell {cell.get('id')}:\n{source}\n--- the page checked:\n{want}"
                f"--- the reader's run gave:\n{got}"
            )
    return count, problems
