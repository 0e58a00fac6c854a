"""The package's layout: plain words, one class per concept, no import cycles."""

import ast
import re
from pathlib import Path

import chapter3

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chapter3"

# "seed" means a random seed and nothing else: never the name of a source document.
WORKING_NAMES = re.compile(
    r"seed[ -]?0\d\d|seed notebook|the seed's|seed recipe|--recipe seed|seed-sized",
    re.IGNORECASE,
)
TEXT_SUFFIXES = {".py", ".md", ".txt", ".rst", ".toml", ".cfg", ""}


def project_text_files():
    roots = ["chapter3", "docs", "gallery", "tests", "README.md", "Makefile", "conf.py"]
    for name in roots:
        path = ROOT / name
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for file in files:
            generated = {"auto_gallery", "_build", "__pycache__"} & set(file.parts)
            if file.is_file() and file.suffix in TEXT_SUFFIXES and not generated:
                yield file


def test_no_working_names_for_the_sources():
    this_file = Path(__file__).resolve()
    found = []
    for file in project_text_files():
        if file.resolve() == this_file:
            continue
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if WORKING_NAMES.search(line):
                found.append(f"{file.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_check_can_fail():
    assert WORKING_NAMES.search("as in seed 003") and WORKING_NAMES.search(
        "--recipe seed"
    )
    assert not WORKING_NAMES.search("torch.manual_seed(123)")


def module_name(file: Path) -> str:
    parts = file.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def chapter3_imports(file: Path) -> set[str]:
    """Every chapter3 module that ``file`` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("chapter3"):
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("chapter3")}
    return names


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(f) for f in files}
    graph = {}
    for file in files:
        targets = set()
        for name in chapter3_imports(file):
            # "from chapter3.adder.vocab import X" imports chapter3.adder first, but a
            # package's __init__ importing its own submodules is not a cycle.
            targets.add(name if name in modules else name.rsplit(".", 1)[0])
        graph[module_name(file)] = {t for t in targets if t != module_name(file)}
    return graph


def find_cycle(graph):
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):
                continue  # a package importing its submodules
            if state.get(nxt) == "open":
                return [*path, node, nxt]
            if nxt not in state:
                cycle = visit(nxt, [*path, node])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [])
            if cycle:
                return cycle
    return None


def test_no_import_cycle_in_chapter3():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_one_multihead_attention_class():
    defined = [
        (file.relative_to(ROOT).as_posix(), node.name)
        for file in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.name == "MultiHeadAttention"
    ]
    assert defined == [("chapter3/multihead.py", "MultiHeadAttention")]


def test_the_decoder_uses_the_chapters_multihead_attention():
    from chapter3.gpt import GPTConfig, GPTDecoder
    from chapter3.multihead import MultiHeadAttention

    model = GPTDecoder(GPTConfig())
    assert all(
        type(block.masked_self_attention) is MultiHeadAttention
        for block in model.decoder_blocks
    )


def test_every_section_names_its_module():
    doc = chapter3.__doc__
    for section, module in [
        ("3.3", "simple_attention"),
        ("3.4", "self_attention"),
        ("3.5", "causal"),
        ("3.6", "multihead"),
    ]:
        assert re.search(rf"{module}.*\({re.escape(section)}\)", doc), section


# --- a library that is only the library ---------------------------------------------------
def _wheel_sources(target: Path) -> None:
    """Copy what setuptools may package into ``target``: the project files and every
    top-level folder that is a Python package (``chapter3``, ``bench``, ...)."""
    import shutil

    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for folder in sorted(ROOT.iterdir()):
        if (folder / "__init__.py").is_file():
            shutil.copytree(folder, target / folder.name, ignore=ignore)


def test_the_wheel_holds_the_book_code_and_no_tools(tmp_path):
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "src"
    source.mkdir()
    _wheel_sources(source)
    assert (source / "bench" / "run.py").is_file()  # the tools are there to be left out
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
    ]
    command += [
        "--no-index",
        "--quiet",
        "--wheel-dir",
        str(tmp_path / "dist"),
        str(source),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("chapter3-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        modules = [n for n in names if n.endswith(".py")]
        text = "\n".join(archive.read(n).decode("utf-8") for n in modules)
    assert "chapter3/gpt.py" in modules and "chapter3/adder/decoding.py" in modules
    tools = [
        n
        for n in modules
        if n.split("/")[0] != "chapter3" or "bench" in n or "plot" in n
    ]
    assert not tools, f"the wheel ships tools: {tools}"
    # the book's dark-mode figure styling stays in docs/_ext (figure_style.py)
    for name in ("def restyle_for_dark", "def light_dark_html", "def bench_attention"):
        assert name not in text, f"the wheel holds {name!r}"


# --- comments on their own line -------------------------------------------------------------
HANGING = re.compile(r"^\s*[)\]}]+[,;]?\s*#(?!\s*fmt:)")


def hanging_comments(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), 1) if HANGING.match(line)]


def python_files():
    for name in ("chapter3", "bench", "docs", "gallery", "tests", "conf.py"):
        path = ROOT / name
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            if not {"auto_gallery", "_build", "__pycache__"} & set(file.parts):
                yield file


def test_no_comment_hangs_after_a_closing_bracket():
    found = {
        file.relative_to(ROOT).as_posix(): lines
        for file in python_files()
        if (lines := hanging_comments(file.read_text(encoding="utf-8")))
    }
    assert not found, f"comments after a lone ) or ]: {found}"


def test_the_hanging_comment_check_can_fail():
    assert hanging_comments("x = f(\n    1\n)  # a comment\n") == [3]
    assert hanging_comments("x = f(1)  # a comment\n)  # fmt: skip\n") == []
