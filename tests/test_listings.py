"""Every listing the book shows is teaching-sized, and runs when a reader copies it.

The listings are read from the pages themselves (every ``literalinclude`` with ``:pyobject:``)
and rendered by the build's own code: Sphinx's ``LiteralIncludeReader`` and the teaching view
of ``docs/_ext/listings.py`` (docstrings and input checks left out, imports added), so a new
listing is held to all of this without being named here.

Running a listing: each is executed as a reader would paste it into a fresh notebook, in a
fresh namespace with nothing imported but what it shows. A listing that uses a class an
earlier listing *on the same page* defines (the decoder page builds ``GPTDecoder`` from the
blocks above it) runs after those listings, in their namespace: the page says so in a comment
at the top of the listing, and a reader copies a page's listings in order. Then the object it
defines must compute what the package's object computes: modules are built from the same seed
(same ``state_dict``) and called on the same random inputs; functions are called on the same
inputs; where the package's docstring has examples, they run against the listing's object.
"""

import ast
import doctest
import re
import sys
from pathlib import Path

import pytest
import torch
from sphinx.directives.code import LiteralIncludeReader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

from listings import (  # noqa: E402
    CHECK_NAME,
    defined_names,
    free_names,
    module_name,
    strip_docstrings,
    teaching_view,
)

INCLUDE = re.compile(
    r"```\{literalinclude\}\s+(?P<path>\S+)\n(?P<options>(?::[\w-]+:.*\n)*)", re.M
)

# Lines of the chapter's own listings (Raschka's chapter 3 code), and the book's limit of
# about 1.3 times that for the attention classes of 3.4-3.6.
CHAPTER_LINES = {
    "SelfAttention_v1": 17,
    "SelfAttention_v2": 17,
    "CausalAttention": 25,
    "MultiHeadAttentionWrapper": 13,
    "MultiHeadAttention": 55,
}
DECODER_PIECES = {
    "GPTConfig",
    "AddNorm",
    "PositionwiseFeedForward",
    "GPTDecoderBlock",
    "LayerNormWithStd",
}
MAX_COLUMNS = 88


def shown_listings():
    found = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for match in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            options = dict(
                re.findall(r"^:([\w-]+):\s*(.*)$", match["options"], flags=re.M)
            )
            if "pyobject" in options:
                source = (page.parent / match["path"]).resolve()
                found.append((page.name, source, options["pyobject"]))
    return found


def object_source(path: Path, dotted: str) -> str:
    text = path.read_text(encoding="utf-8")
    body = ast.parse(text).body
    node = None
    for name in dotted.split("."):
        node = next(
            n
            for n in body
            if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name
        )
        body = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return "\n".join(text.splitlines()[start - 1 : node.end_lineno]) + "\n"


def limit_for(name: str) -> int:
    if name in CHAPTER_LINES:
        return round(1.3 * CHAPTER_LINES[name])
    if name in DECODER_PIECES:
        return 35
    if name == "GPTDecoder":
        return 45
    return 50  # any other function or class the book shows


LISTINGS = shown_listings()


def test_the_pages_show_listings():
    names = {name for _, _, name in LISTINGS}
    assert {"CausalAttention", "MultiHeadAttention", "GPTDecoder"} <= names


@pytest.mark.parametrize(
    ("page", "source", "name"), LISTINGS, ids=[f"{p}:{n}" for p, _, n in LISTINGS]
)
def test_listing_is_teaching_sized(page, source, name):
    view = VIEWS[page, name]
    shown = view.body.splitlines()  # the imports above it are not counted
    widest = max(view.text.splitlines(), key=len)
    assert len(widest) <= MAX_COLUMNS, f"{name} on {page}: {len(widest)} columns"
    assert len(shown) <= limit_for(name), (
        f"{name} on {page} shows {len(shown)} lines; the limit is {limit_for(name)}"
    )
    # docstrings render as prose, never in a listing
    assert '"""' not in "\n".join(shown)


def test_strip_docstrings_removes_method_docstrings_and_keeps_code():
    code = 'class A:\n    """Doc."""\n\n    def f(self):\n        """More."""\n        return 1\n'
    assert strip_docstrings(code) == "class A:\n    def f(self):\n        return 1\n"


def test_a_layer_calling_an_unchecked_twin_is_shown_with_the_public_name():
    """The package's attention step calls ``_masked_softmax`` (its door has checked); the
    listing shows ``masked_softmax``, which a reader can import."""
    view = VIEWS["ch3_6_multi_head.md", "masked_attention"]
    assert "masked_softmax(attn_scores" in view.body
    assert "_masked_softmax" not in view.text
    assert "from chapter3.masks import masked_softmax" in view.header
    # masked_softmax itself (checks, then its twin) is shown as the twin's computation
    own = VIEWS["masks.md", "masked_softmax"]
    assert (
        own.body.startswith("def masked_softmax(") and "_masked_softmax" not in own.text
    )
    assert "masked_fill(~attend" in own.body and own.hidden_checks == 1


# --- the teaching view: what the pages show, rendered as the build renders it -------------


class _Config:
    source_encoding = "utf-8"


def page_views():
    """{(page, name): Teaching} and {page: [(name, source path, Teaching), ...]} in page order."""
    views, pages = {}, {}
    for page in sorted((ROOT / "docs").rglob("*.md")):
        earlier: set[str] = set()
        for match in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            options = dict(
                re.findall(r"^:([\w-]+):\s*(.*)$", match["options"], flags=re.M)
            )
            if "pyobject" not in options:
                continue
            source = (page.parent / match["path"]).resolve()
            text, _ = LiteralIncludeReader(str(source), options, _Config()).read()
            view = teaching_view(text, source, set(earlier))
            earlier |= defined_names(view.body)
            views[page.name, options["pyobject"]] = view
            pages.setdefault(page.name, []).append((options["pyobject"], source, view))
    return views, pages


VIEWS, PAGES = page_views()


def run_page(page):
    """Execute the page's listings in order, each as pasted: {name: object it defines}."""
    namespace = {"__name__": f"listings_of_{page.removesuffix('.md')}"}
    defined = {}
    for name, _, view in PAGES[page]:
        exec(compile(view.text, f"<{page}: {name}>", "exec"), namespace)
        defined[name] = namespace[name]
    return defined


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_listing_runs_when_copied(page):
    """No NameError: every name a listing uses is imported at its top or defined above."""
    for name, _, view in PAGES[page]:
        missing = [
            n
            for n in free_names(view.text)
            if n not in view.from_earlier and n not in {"__name__"}
        ]
        assert not missing, f"{name} on {page} uses {missing} without importing them"
    run_page(page)


@pytest.mark.parametrize(
    ("page", "name"), sorted(VIEWS), ids=[f"{p}:{n}" for p, n in sorted(VIEWS)]
)
def test_listing_shows_no_statement_that_only_checks(page, name):
    tree = ast.parse(VIEWS[page, name].body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = getattr(func, "id", getattr(func, "attr", ""))
            assert not CHECK_NAME.match(called), f"{name} on {page} shows {called}(...)"
        if isinstance(node, ast.If) and all(
            isinstance(s, ast.Raise) for s in node.body
        ):
            raise AssertionError(f"{name} on {page} shows an `if ...: raise`")


# Modules: constructor arguments, and the inputs of forward (a function, called after seeding).
def _gpt_config():
    from chapter3.gpt import GPTConfig

    return GPTConfig(d_model=32, d_ff=64, num_heads=4)


MODULES = {
    "SelfAttention_v1": (lambda: (3, 2), [lambda: (torch.rand(6, 3),)]),
    "SelfAttention_v2": (lambda: (3, 2, True), [lambda: (torch.rand(6, 3),)]),
    "CausalAttention": (
        lambda: (3, 2, 6, 0.0),
        [lambda: (torch.rand(2, 6, 3),), lambda: (torch.rand(2, 5, 3), _mask(2, 1, 5))],
    ),
    "MultiHeadAttentionWrapper": (
        lambda: (3, 2, 6, 0.0, 2),
        [lambda: (torch.rand(2, 6, 3),), lambda: (torch.rand(2, 6, 3), _mask(2, 1, 6))],
    ),
    "MultiHeadAttention": (
        lambda: (3, 4, 6, 0.0, 2),
        [
            lambda: (torch.rand(2, 6, 3),),
            lambda: (torch.rand(2, 4, 3), _mask(2, 1, 1, 4)),
        ],
    ),
    "FusedMultiHeadAttention": (
        lambda: (4, 4, 6, 0.0, 2, True),
        [
            lambda: (torch.rand(2, 6, 4),),
            lambda: (torch.rand(2, 6, 4), _mask(2, 1, 1, 6)),
        ],
    ),
    "AddNorm": (lambda: (8, 0.0), [lambda: (torch.rand(2, 5, 8), torch.tanh)]),
    "LayerNormWithStd": (lambda: (8,), [lambda: (torch.rand(2, 5, 8),)]),
    "PositionwiseFeedForward": (lambda: (8, 16, 0.0), [lambda: (torch.rand(2, 5, 8),)]),
    "GPTDecoderBlock": (
        lambda: (_gpt_config(),),
        [
            lambda: (torch.rand(2, 7, 32),),
            lambda: (torch.rand(2, 7, 32), _mask(2, 1, 1, 7)),
        ],
    ),
    "GPTDecoder": (
        lambda: (_gpt_config(),),
        [
            lambda: (torch.randint(0, 18, (2, 9)),),
            lambda: (torch.randint(0, 18, (2, 9)), _mask(2, 9)),
        ],
    ),
    "SelfAttentionWithWeights": (lambda: (8,), [lambda: (torch.rand(2, 5, 8),)]),
    "SelfAttention": (lambda: (8,), [lambda: (torch.rand(5, 8),)]),
}


def _mask(*shape):
    mask = torch.rand(*shape) > 0.3
    mask[..., 0] = True  # every query sees at least its first key
    return mask


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _compare_modules(shown, package, name):
    make_args, inputs = MODULES[name]
    torch.manual_seed(0)
    ours = shown(*make_args())
    torch.manual_seed(0)
    theirs = package(*make_args())
    assert _same(dict(ours.state_dict()), dict(theirs.state_dict())), name
    ours.eval(), theirs.eval()
    for make_input in inputs:
        torch.manual_seed(1)
        args = make_input()
        assert _same(ours(*args), theirs(*args)), f"{name} computes something else"


def _small_model():
    from chapter3.gpt import GPTDecoder

    torch.manual_seed(0)
    return GPTDecoder(_gpt_config()).eval()


def _prompts():
    from chapter3.adder.vocab import encode_equation

    return [encode_equation(s)[:6] for s in ("12+34=", "99+01=", "50+50=")]


def _same_calls(shown, package, *args):
    torch.manual_seed(2)
    ours = shown(*args)
    torch.manual_seed(2)
    return _same(ours, package(*args))


def _no_seconds(result):
    """An EvalResult's fields, without the time it took."""
    return {k: v for k, v in vars(result).items() if k != "seconds"}


def _train_epoch_probe(shown, package):
    from chapter3.adder.data import PadCollate, create_add_dataset

    data, _ = create_add_dataset(size=64, seed=5)
    batches = [PadCollate()(data[i : i + 16]) for i in range(0, 64, 16)]
    results = []
    for fn in (shown, package):
        model = _small_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        torch.manual_seed(3)
        loss = fn(model, batches, optimizer)
        results.append((loss, dict(model.state_dict())))
    return _same(results[0], results[1])


def _kv_cache_probe(shown, package):
    caches = [shown(2, max_len=6), package(2, max_len=6)]
    torch.manual_seed(4)
    steps = [(torch.rand(3, 2, n, 4), torch.rand(3, 2, n, 4)) for n in (4, 1, 3)]
    for k, v in steps:
        out = [cache.extend(0, k, v) for cache in caches]
        if not _same(out[0], out[1]):
            return False
        for cache in caches:
            cache.extend(1, k, v)
        if caches[0].length != caches[1].length:
            return False
    rows = torch.tensor([2, 0])
    picked = [cache.select_rows(rows) for cache in caches]
    return _same(picked[0].keys, picked[1].keys) and _same(
        picked[0].values, picked[1].values
    )


# Functions and classes without examples that run in their docstring: how to compare them.
PROBES = {
    "all_attn_scores_by_loop": lambda s, p: _same_calls(s, p, torch.rand(6, 3)),
    "GPTConfig": lambda s, p: s(d_model=64).to_dict() == p(d_model=64).to_dict(),
    "adder_loss": lambda s, p: _same_calls(
        s,
        p,
        torch.randn(2, 5, 18),
        torch.tensor([[16, 16, 3, 4, 14], [16, 1, 2, 14, 16]]),
    ),
    "complete_one": lambda s, p: all(
        _same_calls(s, p, _small_model(), prompt) for prompt in _prompts()
    ),
    "greedy_decode_aligned": lambda s, p: all(
        _same_calls(s, p, _small_model(), torch.stack(_prompts()), 4, cached)
        for cached in (False, True)
    ),
    "evaluate": lambda s, p: all(
        _same_calls(
            lambda *a, f=f: _no_seconds(f(*a)), lambda *a: _no_seconds(p(*a)), *args
        )
        for f in (s,)
        for args in [
            (_small_model(), ["12+34=046", "99+01=100"], c) for c in (True, False)
        ]
    ),
    "KVCache": _kv_cache_probe,
    "train_epoch": _train_epoch_probe,
}


def _docstring_examples(package, module, name, shown):
    """Run the package object's docstring examples against the listing's object."""
    examples = [
        e
        for e in doctest.DocTestParser().get_examples(package.__doc__ or "")
        if not e.exc_msg
    ]
    if not examples:
        return 0
    test = doctest.DocTest(examples, {}, name, None, 0, None)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    mod = sys.modules[module]
    original = getattr(mod, name)
    # the examples' `from chapter3.x import name` gets the listing's
    setattr(mod, name, shown)
    try:
        result = runner.run(test, out=lambda text: failures.append(text))
    finally:
        setattr(mod, name, original)
    assert not result.failed, f"{name}'s examples fail on the listing:\n" + "".join(
        failures
    )
    return result.attempted


failures: list[str] = []


@pytest.mark.parametrize(
    ("page", "name"), sorted(VIEWS), ids=[f"{p}:{n}" for p, n in sorted(VIEWS)]
)
def test_listing_computes_what_the_package_computes(page, name):
    import importlib

    shown = run_page(page)[name]
    source = next(src for n, src, _ in PAGES[page] if n == name)
    module = module_name(source)
    package = getattr(importlib.import_module(module), name)
    assert shown is not package
    checked = 0
    if name in MODULES:
        _compare_modules(shown, package, name)
        checked += 1
    if name in PROBES:
        assert PROBES[name](shown, package), f"{name} on {page} computes something else"
        checked += 1
    failures.clear()
    checked += _docstring_examples(package, module, name, shown)
    assert checked, f"nothing compares {name} on {page} with the package: add a probe"


# At 1280 px a code block of the book holds 90 columns (measured in Chromium; the browser
# test tests/browser/test_reading.py checks every block of the built book). Notebook cells
# and gallery code are held to that here, without a build.
CODE_BLOCK_COLUMNS = 90
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.M | re.S)


def _gallery_code_lines(path: Path):
    """The lines of a gallery script shown as code: not its docstring or text blocks (code
    comments are code)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    doc_end = tree.body[0].end_lineno if ast.get_docstring(tree) else 0
    in_text = False  # a text block: the comment lines that follow a "# %%" line
    hidden = False  # between sphinx_gallery_start_ignore and _end_ignore: not shown
    for number, line in enumerate(text.splitlines(), 1):
        if number <= doc_end:
            continue
        if line.strip() in (
            "# sphinx_gallery_start_ignore",
            "# sphinx_gallery_end_ignore",
        ):
            hidden = line.strip().endswith("start_ignore")
            continue
        if hidden:
            continue
        if line.startswith("# %%"):
            in_text = True
        elif in_text and line.startswith("#"):
            continue
        else:
            in_text = False
            yield number, line


def test_notebook_cells_and_gallery_code_fit_a_code_block():
    wide = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for cell in CELL.finditer(page.read_text(encoding="utf-8")):
            wide += [
                f"{page.name}: {line}"
                for line in cell[1].splitlines()
                if len(line) > CODE_BLOCK_COLUMNS
            ]
    for script in sorted((ROOT / "gallery").rglob("plot_*.py")):
        wide += [
            f"{script.name}:{n}: {line}"
            for n, line in _gallery_code_lines(script)
            if len(line) > CODE_BLOCK_COLUMNS
        ]
    assert not wide, "lines wider than a code block:\n" + "\n".join(wide)
