"""Show package code as teaching listings that run when copied.

The book includes classes and functions from ``chapter3`` with
``literalinclude ... :pyobject: Name``. What a reader sees there is the *teaching view* of the
object, made by :func:`teaching_view` from its source:

- every docstring is left out (they are reST written for autodoc; the API page renders them);
- input validation is left out: a statement that only calls a check helper (a name such as
  ``check_tensor``, ``_check_pair``, ``_require``, ``validate_x``), and an ``if ...: raise``
  with nothing else in it. Where a check's *result* is used (``nn.Dropout(check_dropout(p))``,
  ``self.head_dim = check_attention_args(...)``), the call is replaced by the expression the
  helper returns, with the call's arguments put in for its parameters (``p``,
  ``d_out // num_heads``); a method left empty goes altogether. All of this is read from the
  syntax tree (:mod:`ast`), never by matching text;
- the listing opens with the imports its names need (``import torch``, ``from torch import
  nn``, ``from dataclasses import dataclass``, ``from chapter3.masks import masked_softmax``),
  taken from the imports of the module it comes from. A name that an earlier listing on the
  same page defines is not imported: a comment names those listings instead, and a reader
  copies the listings of a page in order;
- a one-line note under the listing says what was left out and links to the object on the API
  page, whose ``[source]`` link shows the full code with its checks.

The copy button copies the block as shown. ``tests/test_listings.py`` calls
:func:`teaching_view` on every listing of every page, runs each one on its own with only the
imports it shows (plus the page's earlier listings), and checks that it computes what the
package's object computes.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import inspect
import io
import posixpath
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.directives.code import LiteralInclude

# A call to one of these is validation: check_x, _check_x, _check, require_x, _require, ...
CHECK_NAME = re.compile(r"^_?(check|require|validate)(_\w+)?$")
# Casts a check may apply to the value it returns; the teaching view keeps the bare value.
CASTS = {"float", "int", "bool", "operator.index"}
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Teaching:
    """The teaching view of one object: what a reader sees, and what it leaves out."""

    header: list[str]  # import lines (and a comment on names from earlier listings)
    body: str  # the object, without docstrings and checks
    hidden_checks: int = 0  # statements of input validation left out
    hidden_docstrings: int = 0
    # names earlier listings define
    from_earlier: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        head = "\n".join(self.header)
        return f"{head}\n\n\n{self.body}" if head else self.body

    @property
    def note(self) -> str:
        left_out = []
        if self.hidden_docstrings:
            left_out.append("docstrings")
        if self.hidden_checks:
            left_out.append("input checks")
        return " and ".join(left_out)


def is_check_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return bool(CHECK_NAME.match(name))


def _docstring(node: ast.AST) -> ast.Expr | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        first = node.body[0] if node.body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            return first
    return None


def _statements(fn: ast.FunctionDef) -> list[ast.stmt]:
    """The statements of ``fn``'s body after its docstring."""
    return fn.body[1 if _docstring(fn) is not None else 0 :]


def strip_docstrings(code: str) -> str:
    """``code`` (one class or function, possibly indented) without any docstring in it."""
    tree = ast.parse(textwrap.dedent(code))
    drop: set[int] = set()  # 1-based line numbers
    for node in ast.walk(tree):
        first = _docstring(node)
        if first is not None:
            drop.update(range(first.lineno, first.end_lineno + 1))
    return _rebuild(code.splitlines(), drop, {}) + ("\n" if code.endswith("\n") else "")


def _rebuild(lines: list[str], drop: set[int], rewrite: dict[int, list[str]]) -> str:
    """The lines left after ``drop``, with ``rewrite[first_line]`` put in for a statement;
    no blank line at the start of a block, never two blank lines in a row inside one."""
    out: list[str] = []
    for i, line in enumerate(lines, 1):
        if i in rewrite:
            out.extend(rewrite[i])
        elif i not in drop:
            out.append(line)
    tidy: list[str] = []
    for j, line in enumerate(out):
        if not line.strip():
            prev = tidy[-1] if tidy else ""
            nxt = next((x for x in out[j + 1 :] if x.strip()), "")
            indent = len(nxt) - len(nxt.lstrip())
            if not tidy or not prev.strip() or prev.rstrip().endswith(":"):
                continue  # at the start of a block, or a second blank line
            if prev and indent > len(prev) - len(prev.lstrip()):
                continue
        tidy.append(line)
    while tidy and not tidy[-1].strip():
        tidy.pop()
    return "\n".join(tidy)


class _Inline(ast.NodeTransformer):
    """Put the value a check helper returns in place of a call to it."""

    def __init__(self, resolve):
        self.resolve = resolve  # name -> the helper function, or None
        self.failed = False

    def visit_Call(self, node):
        self.generic_visit(node)
        if not is_check_call(node):
            return node
        helper = self.resolve(_call_name(node))
        value = _returned_value(helper, node)
        if value is not None and any(is_check_call(n) for n in ast.walk(value)):
            # the helper returns other checks' values: follow them in its own module
            inner = _Inline(lambda name: _function(helper.__globals__.get(name)))
            value = inner.visit(value)
            self.failed |= inner.failed
        if value is None:
            self.failed = True
            return node
        return value


def _function(obj):
    return obj if inspect.isfunction(obj) else None


def _call_name(node: ast.Call) -> str:
    return node.func.id if isinstance(node.func, ast.Name) else node.func.attr


def _returned_value(helper, call: ast.Call) -> ast.expr | None:
    """The helper's one ``return <expr>``, with the call's arguments for its parameters."""
    if helper is None:
        return None
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(helper)))
    except (OSError, TypeError):
        return None
    fn = tree.body[0]
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    # one return, and every other way out of a check raises
    if len(returns) != 1 or returns[0].value is None:
        return None
    params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    defaults = dict(
        zip(
            params[len(params) - len(fn.args.defaults) :], fn.args.defaults, strict=True
        )
    )
    given = dict(zip(params, call.args, strict=False))
    given.update({k.arg: k.value for k in call.keywords if k.arg})
    args = {p: given.get(p, defaults.get(p)) for p in params}
    value = copy.deepcopy(returns[0].value)
    if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
        func = ast.unparse(value.func)
        if func in CASTS:
            value = value.args[0]  # float(p) -> p
    if isinstance(value, ast.Name) and value.id in args and args[value.id] is not None:
        return copy.deepcopy(args[value.id])

    class Put(ast.NodeTransformer):
        ok = True

        def visit_Call(self, call):
            if is_check_call(call):  # followed later, in the helper's own module
                call.args = [self.visit(a) for a in call.args]
                call.keywords = [self.visit(k) for k in call.keywords]
                return call
            return self.generic_visit(call)

        def visit_Name(self, name):
            if args.get(name.id) is None:
                Put.ok = False
                return name
            return copy.deepcopy(args[name.id])

    value = Put().visit(value)
    return value if Put.ok else None


def _comments(lines: list[str], first: int, last: int) -> list[str]:
    """The ``# ...`` comments on lines first..last (1-based)."""
    src = "\n".join(lines[first - 1 : last]) + "\n"
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(textwrap.dedent(src)).readline):
            if tok.type == tokenize.COMMENT:
                found.append(tok.string)
    except (tokenize.TokenError, IndentationError):
        pass
    return found


def _inline(node: ast.expr, resolve) -> ast.expr | None:
    """``node`` with every check call in it replaced by the value the check returns."""
    inline = _Inline(resolve)
    new = inline.visit(copy.deepcopy(node))
    return None if inline.failed else new


def _splice_checks(lines: list[str], stmt: ast.stmt, resolve) -> list[str] | None:
    """The lines of ``stmt`` with each outermost check call replaced in the text itself, so
    that the rest of the statement keeps its layout and comments; None if one cannot be."""
    first, last = stmt.lineno, stmt.end_lineno
    # offsets are in bytes
    raw = [lines[i - 1].encode() for i in range(first, last + 1)]
    starts = [0]
    for line in raw:
        starts.append(starts[-1] + len(line) + 1)
    text = b"\n".join(raw)
    calls = []
    for node in ast.walk(stmt):
        if is_check_call(node):
            inside = any(c is not node and node in set(ast.walk(c)) for c in calls)
            if not inside:
                calls.append(node)
    parents = {id(c): p for p in ast.walk(stmt) for c in ast.iter_child_nodes(p)}
    edits = []
    for call in calls:
        value = _inline(call, resolve)
        if value is None:
            return None
        code = ast.unparse(value)
        parent = parents.get(id(call))
        bare = isinstance(parent, (ast.Assign, ast.AnnAssign, ast.Return, ast.keyword))
        bare = bare or (isinstance(parent, ast.Call) and call in parent.args)
        if isinstance(value, ast.Tuple) and isinstance(parent, ast.Assign):
            code = code[1:-1] if code.startswith("(") else code
        elif not bare and not isinstance(
            value, (ast.Name, ast.Attribute, ast.Call, ast.Constant, ast.Subscript)
        ):
            code = f"({code})"
        begin = starts[call.lineno - first] + call.col_offset
        end = starts[call.end_lineno - first] + call.end_col_offset
        edits.append((begin, end, code.encode()))
    for begin, end, code in sorted(edits, reverse=True):
        text = text[:begin] + code + text[end:]
    return _one_line_if_it_fits(text.decode().split("\n"))


def _one_line_if_it_fits(lines: list[str], width: int = 88) -> list[str]:
    """A statement that the splice made short goes back on one line, as the formatter would
    put it, when it has no comment and fits: brackets closed up, redundant ones dropped."""
    if len(lines) == 1 or any(_comments(lines, 1, len(lines))):
        return lines
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    joined = " ".join(line.strip() for line in lines)
    joined = re.sub(r"([(\[{]) ", r"\1", joined)
    joined = re.sub(r",? ([)\]}])", r"\1", joined)
    m = re.fullmatch(r"(.+? = )\((.*)\)", joined)
    if m:  # x = (value): the parentheses only carried the line break
        try:
            same = ast.dump(ast.parse(joined)) == ast.dump(ast.parse(m[1] + m[2]))
        except SyntaxError:
            same = False
        if same:
            joined = m[1] + m[2]
    try:
        ast.parse(joined)
    except SyntaxError:
        return lines
    return [indent + joined] if len(indent + joined) <= width else lines


def _is_self_assignment(code: str) -> bool:
    try:
        node = ast.parse(textwrap.dedent(code)).body[0]
    except SyntaxError:
        return False
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and ast.unparse(node.targets[0]) == ast.unparse(node.value)
    )


def _hide_checks(code: str, resolve) -> tuple[str, int]:
    """``code`` without its input validation, and how many statements were left out."""
    lines = code.splitlines()
    tree = ast.parse(code)
    drop: set[int] = set()
    rewrite: dict[int, list[str]] = {}
    hidden = 0

    def span(stmt) -> set[int]:
        first = min(
            [stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))]
        )
        lines_ = set(range(first, stmt.end_lineno + 1))
        # a comment on its own line right above a hidden statement explains it: it goes too
        above = first - 1
        while above >= 1 and lines[above - 1].strip().startswith("#"):
            lines_.add(above)
            above -= 1
        return lines_

    def is_validation(stmt) -> bool:
        if isinstance(stmt, ast.Expr) and is_check_call(stmt.value):
            return True
        return (
            isinstance(stmt, ast.If)
            and not stmt.orelse
            and all(isinstance(s, ast.Raise) for s in stmt.body)
        )

    def visit(body) -> bool:
        """Hide validation in ``body``; True when nothing of it is left."""
        nonlocal hidden
        left = 0
        for stmt in body:
            if is_validation(stmt):
                drop.update(span(stmt))
                hidden += 1
                continue
            inner = [
                getattr(stmt, name)
                for name in ("body", "orelse", "finalbody")
                if isinstance(getattr(stmt, name, None), list)
            ]
            if inner:
                empty = [visit(b) for b in inner]
                if (
                    isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and empty[0]
                ):
                    drop.update(span(stmt))  # a method that only checked: gone
                    continue
                left += 1
                continue
            if any(is_check_call(n) for n in ast.walk(stmt)):
                new = _splice_checks(lines, stmt, resolve)
                if new is None:  # a check whose value cannot be written out: kept
                    left += 1
                    continue
                hidden += 1
                drop.update(range(stmt.lineno, stmt.end_lineno + 1))
                if not _is_self_assignment("\n".join(new)):
                    rewrite[stmt.lineno] = new
                    left += 1
                else:  # x = check(x) became x = x: gone, with its comments above
                    drop.update(span(stmt))
                continue
            left += 1
        return left == 0

    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            visit(node.body)
    return _rebuild(lines, drop, rewrite), hidden


def _bound_and_loaded(tree: ast.AST) -> tuple[set[str], set[str]]:
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, loaded


def free_names(code: str) -> list[str]:
    """Names ``code`` uses but neither defines nor gets from Python's builtins."""
    bound, loaded = _bound_and_loaded(ast.parse(code))
    return sorted(loaded - bound - set(dir(builtins)))


def module_name(path: Path) -> str:
    rel = path.resolve().relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_of(source: str, module: str) -> dict[str, str]:
    """For each top-level name of ``module``: the import line that gives it to a reader."""
    found: dict[str, str] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = f"import {alias.name} as {alias.asname}"
                else:
                    found[alias.name.split(".")[0]] = (
                        f"import {alias.name.split('.')[0]}"
                    )
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            origin = node.module or ""
            if node.level:
                origin = ".".join(
                    package.split(".")[: 1 - node.level] + [origin]
                ).strip(".")
            for alias in node.names:
                name = alias.asname or alias.name
                line = f"from {origin} import {alias.name}"
                found[name] = line + (f" as {alias.asname}" if alias.asname else "")
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = f"from {module} import {node.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    found[t.id] = f"from {module} import {t.id}"
    return found


def _sorted_imports(lines: list[str]) -> list[str]:
    """Import lines grouped as ruff's isort does: stdlib, then third party, then chapter3;
    ``from m import a`` and ``from m import b`` merged into one line."""
    merged: dict[str, list[str]] = {}
    plain: list[str] = []
    for line in dict.fromkeys(lines):
        m = re.fullmatch(r"from (\S+) import (.+)", line)
        if m:
            merged.setdefault(m[1], []).append(m[2])
        else:
            plain.append(line)

    def group(mod: str) -> int:
        top = mod.split(".")[0]
        if top == "chapter3":
            return 2
        return 1 if top in {"torch", "numpy", "tqdm", "matplotlib"} else 0

    entries = [(group(line.split()[1]), line.split()[1], line) for line in plain]
    for mod, names in merged.items():
        joined = ", ".join(
            sorted(names, key=lambda n: (not n[:1].isupper(), n.lower()))
        )
        entries.append((group(mod), mod, f"from {mod} import {joined}"))
    out: list[str] = []
    last = None
    for g, _mod, line in sorted(
        entries, key=lambda e: (e[0], e[2].startswith("from"), e[1])
    ):
        if last is not None and g != last:
            out.append("")
        out.append(line)
        last = g
    return out


def teaching_view(
    code: str, source_path: Path, earlier: set[str] = frozenset()
) -> Teaching:
    """The teaching view of ``code``, one class or function from ``source_path``.

    ``earlier``: names that listings above this one on the same page define.
    """
    code = textwrap.dedent(code)
    tree = ast.parse(code)
    docstrings = sum(_docstring(n) is not None for n in ast.walk(tree))
    module = module_name(source_path)
    mod = importlib.import_module(module)
    code, checks = _twin_body(code, tree, mod)
    body = strip_docstrings(code).rstrip("\n")

    def resolve(name):
        return _function(getattr(mod, name, None))

    body, hidden = _hide_checks(body, resolve)
    hidden += checks
    imports = _imports_of(source_path.read_text(encoding="utf-8"), module)
    body = _checked_twins(body, imports)
    header, from_earlier = [], []
    for name in free_names(body):
        if name in earlier:
            from_earlier.append(name)
        elif name in imports:
            header.append(imports[name])
    header = _sorted_imports(header)
    body = _quote_forward_references(body)
    if from_earlier:
        names = ", ".join(from_earlier)
        where = "the listings above" if len(from_earlier) > 1 else "a listing above"
        header += [*([""] if header else []), f"# {names}: from {where} on this page"]
    return Teaching(header, body + "\n", hidden, docstrings, from_earlier)


def _checks_then_twin(fn: ast.FunctionDef) -> str | None:
    """The name ``_x`` when ``fn``'s body is its docstring, check calls and
    ``return _x(...)``; else None."""
    body = _statements(fn)
    if not body or not isinstance(body[-1], ast.Return):
        return None
    value = body[-1].value
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
        return None
    checks = all(isinstance(n, ast.Expr) and is_check_call(n.value) for n in body[:-1])
    private = value.func.id
    return private if checks and private == "_" + fn.name else None


def _twin_body(code: str, tree: ast.Module, mod) -> tuple[str, int]:
    """A public function that checks its arguments and returns its unchecked twin's result
    (``masked_softmax`` → ``_masked_softmax``) is shown as the twin's code under the public
    name: the computation, which is what the listing is for. Returns the code and the number
    of checks left out."""
    fn = tree.body[0] if len(tree.body) == 1 else None
    if not isinstance(fn, ast.FunctionDef):
        return code, 0
    private = _checks_then_twin(fn)
    twin = _function(getattr(mod, private, None)) if private else None
    if twin is None:
        return code, 0
    twin_code = textwrap.dedent(inspect.getsource(twin))
    twin_code = re.sub(rf"^def {private}\(", f"def {fn.name}(", twin_code, count=1)
    body = _statements(fn)
    return twin_code, len(body) - 1


def _checked_twins(code: str, imports: dict[str, str]) -> str:
    """A call to an imported ``_name`` whose module also has ``name`` that checks its
    arguments and then returns ``_name(...)`` (e.g. ``_masked_softmax``, which a
    layer calls because its door has already checked) is shown as the public ``name``:
    the same numbers, and a name the reader can import and look up."""
    for private in free_names(code):
        line = imports.get(private, "")
        m = re.fullmatch(rf"from ([\w.]+) import {private}", line)
        if not (private.startswith("_") and m):
            continue
        public = private[1:]
        twin = _function(getattr(importlib.import_module(m.group(1)), public, None))
        if twin is None:
            continue
        fn = ast.parse(textwrap.dedent(inspect.getsource(twin))).body[0]
        if _checks_then_twin(fn) != private:
            continue
        code = re.sub(rf"\b{private}\(", f"{public}(", code)
        imports[public] = f"from {m.group(1)} import {public}"
    return code


def _quote_forward_references(code: str) -> str:
    """``-> KVCache`` inside class KVCache becomes ``-> "KVCache"``.

    The package's modules use ``from __future__ import annotations``; a listing pasted on its
    own would evaluate an annotation that names the class being defined before it exists.
    """
    names = defined_names(code)
    tree = ast.parse(code)
    notes = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            notes.append(node.returns)
        elif isinstance(node, ast.arg):
            notes.append(node.annotation)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
    lines = [line.encode() for line in code.split("\n")]
    edits = []
    for note in filter(None, notes):
        if note.lineno != note.end_lineno or isinstance(note, ast.Constant):
            continue
        if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(note)):
            edits.append((note.lineno, note.col_offset, note.end_col_offset))
    for lineno, begin, end in sorted(edits, reverse=True):
        line = lines[lineno - 1]
        lines[lineno - 1] = line[:begin] + b'"' + line[begin:end] + b'"' + line[end:]
    return b"\n".join(lines).decode()


def defined_names(code: str) -> set[str]:
    """The top-level names a listing defines."""
    return {
        n.name
        for n in ast.parse(code).body
        if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    }


class TeachingLiteralInclude(LiteralInclude):
    """``literalinclude`` that shows the teaching view of ``:pyobject:`` listings."""

    def run(self):
        result = super().run()
        if "pyobject" not in self.options:
            return result
        env = self.state.document.settings.env
        shown = env.temp_data.setdefault("teaching_listings_shown", set())
        _, path = env.relfn2path(self.arguments[0])
        path = Path(path)
        target = f"{module_name(path)}.{self.options['pyobject']}"
        out = []
        for node in result:
            for block in node.findall(nodes.literal_block):
                view = teaching_view(block.astext(), path, shown)
                shown.update(defined_names(view.body))
                block.rawsource = view.text
                block.children = [nodes.Text(view.text)]
            out.append(node)
        out.append(self.note(view, path, target, env.docname))
        return out

    @staticmethod
    def note(view: Teaching, path: Path, target: str, docname: str) -> nodes.paragraph:
        """What the listing leaves out; links to its full source and to its API entry."""
        note = nodes.paragraph(classes=["listing-note"])
        left_out = view.note
        note += nodes.Text(f"Shown without its {left_out}. " if left_out else "")
        # sphinx.ext.viewcode's page of the module; its anchor is the object's qualname
        qualname = target.removeprefix(module_name(path) + ".")
        page = "_modules/" + module_name(path).replace(".", "/") + ".html"
        uri = posixpath.relpath(page, posixpath.dirname(docname) or ".")
        note += nodes.Text("Full source, checks included: ")
        source = nodes.reference(
            "", "", refuri=f"{uri}#{qualname}", classes=["listing-source"]
        )
        source += nodes.literal(path.name, path.name)
        note += source
        note += nodes.Text(" · API: ")
        xref = addnodes.pending_xref(
            "",
            refdomain="py",
            reftype="obj",
            reftarget=target,
            refexplicit=True,
            refwarn=True,
        )
        xref += nodes.literal(target, target, classes=["xref", "py", "py-obj"])
        note += xref
        note += nodes.Text(".")
        return note


def setup(app):
    app.add_directive("literalinclude", TeachingLiteralInclude, override=True)
    app.setup_extension("sphinx.ext.viewcode")
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}
