"""Run notebooks and scripts as a reader would; executed by the *reader's* Python.

Usage: python run_notebooks.py OUT_DIR FILE...   (FILE: a .ipynb or a .py)

Each notebook is executed with nbclient in its own folder and written to OUT_DIR under the same
name; a final cell, removed afterwards, records which Python the kernel ran on
(``kernel-python.txt`` in OUT_DIR gets one line per notebook: its name, ``sys.prefix`` and
where ``chapter3`` was imported from). Each script is run with this
Python in its own folder; its stdout goes to OUT_DIR/<name>.out. Only nbclient, nbformat and
ipykernel from this interpreter's environment are used.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat


def run_notebook(path: Path, out: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "import sys, chapter3\nprint(sys.prefix, chapter3.__file__, sep='\\t')",
            id="kernel-python",
        )
    )
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    probe = notebook.cells.pop()
    prefix = "".join(o.get("text", "") for o in probe.outputs).strip()
    with open(out / "kernel-python.txt", "a", encoding="utf-8") as log:
        log.write(f"{path.name}\t{prefix}\n")
    nbformat.write(notebook, out / path.name)


def run_script(path: Path, out: Path) -> None:
    result = subprocess.run(
        [sys.executable, path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    (out / f"{path.stem}.out").write_text(result.stdout, encoding="utf-8")
    if result.returncode != 0:
        raise RuntimeError(f"the script failed:\n{result.stdout}\n{result.stderr}")


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in sys.argv[2:]:
        path = Path(name).resolve()
        try:
            if path.suffix == ".ipynb":
                run_notebook(path, out)
            else:
                run_script(path, out)
        except Exception as error:  # report every file, then fail
            failed.append(f"{path.name}: {error}")
    if failed:
        sys.exit("\n\n".join(failed))


if __name__ == "__main__":
    main()
