"""Every technical word is explained: linked to the glossary the first time a page uses it.

Run as a script, ``python tests/test_glossary.py docs/page.md ...`` links the first unlinked
use of each word on those pages (for a page merged or written after this test); read the diff,
since a word can be used in its everyday sense.

The glossary page (``docs/glossary.md``, Sphinx's ``glossary`` directive) defines each word in
plain words. A page links a word with MyST's ``{term}`` role. This test reads the page sources
(no build), finds, for each glossary word, its first use in the prose of each page (headings,
code blocks, math and other roles left out), and fails on any first use that is not a
``{term}`` link to that word. It also checks that the words below are all defined.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GLOSSARY = DOCS / "glossary.md"

# Each glossary word and the pattern of its uses in prose. Words written as code in the pages
# (``requires_grad``) are also looked for inside inline code.
TERMS = {
    "attention score": r"\battention\s+scores?\b",
    "attention weight": r"\battention\s+weights?\b",
    "autograd": r"\bautograd\b",
    "batch": r"\bbatch(es)?\b",
    "broadcasting": r"\bbroadcast(s|ing|ed)?\b",
    "buffer": r"\bbuffers?\b",
    "causal mask": r"\bcausal\s+(attention\s+)?masks?\b",
    "context vector": r"\bcontext\s+vectors?\b",
    "cross-entropy": r"\bcross-entropy\b",
    "doctest": r"\bdoctests?\b",
    "dot product": r"\bdot[- ]products?\b",
    "dropout": r"\bdropout\b",
    "embedding": r"\bembeddings?\b",
    "FlashAttention": r"\bFlashAttention\b|\bflash\s+attention\b",
    "forward": r"`forward`|\bforward\s+(pass|passes|method)\b",
    "fused kernel": r"\bfused\s+(attention\s+)?kernels?\b",
    "gradient": r"\bgradients?\b",
    "grad_fn": r"\bgrad_fn\b",
    "greedy decoding": r"\bgreedy\b",
    "Jacobian": r"\bJacobians?\b",
    # query, key and value: their plural or paired uses, not a dictionary's "key" or the
    # "value" of a number
    "key": r"(?<!arrow )\bkeys\b|\bkey\s+vectors?\b",
    "KV cache": r"\b(KV|key/value|key-value)[ -]cache\b",
    "layer norm": r"\blayer\s+norm(alization)?s?\b|\bLayerNorm\b",
    "logits": r"\blogits?\b",
    "loss": r"\bloss(es)?\b",
    "meta device": r"\bmeta\s+device\b|`meta`\s+device\b",
    "multi-head attention": r"\bmulti-head\s+attention\b",
    "nn.Module": r"\bnn\.Module\b",
    "one-hot": r"\bone-hot\b",
    "optimizer": r"\boptimi[sz]ers?\b",
    "query": r"\bquer(y|ies)\b",
    "requires_grad": r"\brequires_grad\b",
    "residual connection": r"\bresidual\b",
    "scaled_dot_product_attention": r"\bscaled_dot_product_attention\b|\bSDPA\b",
    "seed": r"\bseed(s|ed)?\b",
    "softmax": r"\bsoftmax\b",
    "state_dict": r"\bstate_dict\b",
    "teacher forcing": r"\bteacher\s+forcing\b",
    "tensor": r"\btensors?\b",
    "token": r"\btokens?\b",
    "transformer": r"\btransformers?\b",
    "value": r"\bvalue\s+vectors?\b|(?<=\bkeys and )values\b|(?<=\bkey and )value\b",
    "variance": r"\bvariances?\b",
}
CODE_TERMS = {
    "forward",
    "meta device",
    "grad_fn",
    "nn.Module",
    "requires_grad",
    "scaled_dot_product_attention",
    "state_dict",
}
# A page that is not a lesson: the glossary itself, and the generated API reference.
NOT_CHECKED = {"glossary", "api", "sg_execution_times"}
# Words used in their everyday sense on a page before the page needs the technical one
# (a dictionary's "key", a number's "value"): listed here, one by one, with the reason.
EVERYDAY: set[tuple[str, str]] = set()

# Blocks whose content is code or data, not prose.
_FENCE = re.compile(r"^(`{3,}|~{3,})")
_COLON_FENCE = re.compile(r"^:{3,}")
_TERM_ROLE = re.compile(r"\{term\}`([^`<]*?)(?:\s*<([^`>]+)>)?`")
_OTHER_ROLE = re.compile(r"\{[a-z:-]+\}`[^`]*`")
_INLINE_CODE = re.compile(r"`[^`]+`")  # a code span may wrap a line
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.S)
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_PROSE_DIRECTIVES = {"dropdown", "note", "tip", "warning", "admonition", "important"}


def prose(source: str) -> str:
    """The prose of a MyST page: code blocks, front matter, headings and labels blanked.

    Blanked characters become spaces (newlines kept), so positions still count in order.

    >>> prose("# Title\\n\\nA tensor.\\n```{doctest}\\n>>> tensor\\n```\\n").split()
    ['A', 'tensor.']
    >>> prose(":::{dropdown} Solution\\nA softmax.\\n:::\\n").split()
    ['A', 'softmax.']
    >>> prose("```{note}\\nA note.\\n```\\nText.\\n```python\\ncode\\n```").split()
    ['A', 'note.', 'Text.']
    """
    lines = source.split("\n")
    out = []
    fence = None  # the fence string of an open code block
    open_prose = []  # the fence strings of open prose directives (a dropdown, a note)
    front = lines[:1] == ["---"]
    for i, line in enumerate(lines):
        blank = " " * len(line)
        if front:
            out.append(blank)
            if i > 0 and line == "---":
                front = False
            continue
        if fence is not None:
            out.append(blank)
            if line.strip() == fence:
                fence = None
            continue
        match = _FENCE.match(line.strip())
        if match and open_prose and line.strip() == open_prose[-1]:
            open_prose.pop()  # the end of a dropdown or note
            out.append(blank)
            continue
        if match:
            name = re.match(r"[`~]{3,}\{([\w-]+)\}", line.strip())
            if name and name.group(1) in _PROSE_DIRECTIVES:
                open_prose.append(match.group(1))
                out.append(blank)  # its body is prose: only options are skipped below
                continue
            fence = match.group(1)
            out.append(blank)
            continue
        stripped = line.strip()
        if (
            _COLON_FENCE.match(stripped)
            or stripped.startswith("#")
            or re.match(r"^\(.+\)=$", stripped)
            or stripped.startswith(":")
            or stripped.startswith("<!--")
            or stripped.startswith("|")  # a table row: data, not prose
        ):
            out.append(blank)
            continue
        out.append(line)
    return "\n".join(out)


def _blank(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)


def term_links(text: str) -> list[tuple[int, str]]:
    """Positions and targets of ``{term}`` links.

    >>> term_links("a {term}`tensors <tensor>` and {term}`softmax`")
    [(2, 'tensor'), (31, 'softmax')]
    """
    return [
        (m.start(), (m.group(2) or m.group(1)).strip())
        for m in _TERM_ROLE.finditer(text)
    ]


def unlinked_first_uses(source: str, terms=None) -> list[str]:
    """Glossary words whose first use in ``source`` is not a ``{term}`` link to them.

    >>> unlinked_first_uses("A tensor, then a {term}`tensor`.", {"tensor": r"\\btensors?\\b"})
    ["tensor: line 1, 'A tensor, then a {'"]
    >>> unlinked_first_uses("{term}`Tensors <tensor>` and tensors.", {"tensor": r"\\btensors?\\b"})
    []
    >>> unlinked_first_uses("Set `requires_grad=False`.", {"requires_grad": r"requires_grad"})
    ["requires_grad: line 1, 'Set `requires_grad=False`.'"]
    """
    terms = TERMS if terms is None else terms
    text = prose(source)
    links = term_links(text)
    no_math = _blank(_blank(text, _MATH), _LINK_TARGET)
    no_roles = _blank(no_math, _TERM_ROLE)
    plain = _blank(no_roles, _OTHER_ROLE)
    words = _blank(plain, _INLINE_CODE)
    found = []
    for term, pattern in terms.items():
        haystack = plain if term in CODE_TERMS else words
        flags = 0 if term in {"key", "value", "query"} else re.IGNORECASE
        use = re.search(pattern, haystack, flags)
        linked = [pos for pos, target in links if target.lower() == term.lower()]
        first_link = min(linked) if linked else None
        if use is None:
            continue
        if first_link is not None and first_link <= use.start():
            continue
        line = source.count("\n", 0, use.start()) + 1
        start = max(0, use.start() - 20)
        excerpt = source[start : use.end() + 10].replace("\n", " ")
        found.append(f"{term}: line {line}, {excerpt!r}")
    return found


def pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if p.stem not in NOT_CHECKED)


def glossary_terms() -> list[str]:
    text = GLOSSARY.read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return [
        line.strip() for line in body.splitlines() if line and not line[0].isspace()
    ]


def test_every_word_has_a_definition():
    defined = glossary_terms()
    assert sorted(defined, key=str.lower) == sorted(TERMS, key=str.lower)
    assert len(defined) >= 30


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_first_uses_are_linked(page):
    terms = {t: p for t, p in TERMS.items() if (t, page.stem) not in EVERYDAY}
    missing = unlinked_first_uses(page.read_text(encoding="utf-8"), terms)
    assert not missing, f"{page.name}: first uses without a {{term}} link:\n  " + (
        "\n  ".join(missing)
    )


def test_links_point_at_defined_words():
    defined = {t.lower() for t in glossary_terms()}
    wrong = []
    for page in pages():
        for _, target in term_links(prose(page.read_text(encoding="utf-8"))):
            if target.lower() not in defined:
                wrong.append(f"{page.stem}: {target}")
    assert not wrong, wrong


def link_first_use(source: str, term: str, pattern: str) -> str | None:
    """``source`` with the first unlinked use of ``term`` wrapped in a ``{term}`` role.

    >>> link_first_use("A tensor and a tensor.", "tensor", r"\\btensors?\\b")
    'A {term}`tensor` and a tensor.'
    >>> link_first_use("Set `requires_grad=False`.", "requires_grad", r"requires_grad")
    'Set {term}`requires_grad=False <requires_grad>`.'
    """
    text = prose(source)
    no_math = _blank(_blank(text, _MATH), _LINK_TARGET)
    plain = _blank(_blank(no_math, _TERM_ROLE), _OTHER_ROLE)
    haystack = plain if term in CODE_TERMS else _blank(plain, _INLINE_CODE)
    flags = 0 if term in {"key", "value", "query"} else re.IGNORECASE
    use = re.search(pattern, haystack, flags)
    if use is None:
        return None
    linked = [pos for pos, t in term_links(text) if t.lower() == term.lower()]
    if linked and min(linked) <= use.start():
        return None
    start, end = use.start(), use.end()
    shown = source[start:end]
    for code in _INLINE_CODE.finditer(plain):  # a use inside inline code: link the span
        if code.start() <= start and end <= code.end():
            start, end, shown = code.start(), code.end(), code.group()[1:-1]
            break
    shown = re.sub(r"\s+", " ", shown)
    role = f"{{term}}`{shown}`" if shown == term else f"{{term}}`{shown} <{term}>`"
    return source[:start] + role + source[end:]


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        path = Path(name)
        source, linked = path.read_text(encoding="utf-8"), []
        for word, word_pattern in TERMS.items():
            changed = link_first_use(source, word, word_pattern)
            if changed is not None:
                source, linked = changed, [*linked, word]
        path.write_text(source, encoding="utf-8")
        print(f"{path}: linked {', '.join(linked) or 'nothing'}")
