"""Run every chapter as a reader would outside the repository, from a built wheel.

    python -m tools.notebooks_anywhere dist/lossbook-<version>-py3-none-any.whl

For a fresh virtual environment in an empty temporary directory, with only a Jupyter
kernel and the notebook runner in it (``ipykernel``, ``nbclient``), each chapter is
copied alone into that directory and executed top to bottom with ``LOSSBOOK_WHEEL``
pointing at the wheel: the notebook's own first cell (``tools/sync_notebooks.py``) must
install lossbook and what the chapters import. The first chapter installs; the later
ones find everything present, as on a reader's second notebook. Nothing from the
repository is importable there (the working directory is empty, ``PYTHONPATH`` unset).

Pip takes the same pinned versions as the book (``requirements.txt`` as constraints).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = r"""
import sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
notebook = nbformat.read(path, as_version=4)
NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=False,
               resources={"metadata": {"path": "."}}).execute()
installed = any("pip install" in "".join(c.get("source", "")) and c.get("outputs")
                for c in notebook.cells[:3])
print("ok", "(installed)" if installed else "")
"""


def constraints(directory: Path) -> Path:
    """requirements.txt without its editable line, usable as a pip constraints file."""
    lines = [
        line
        for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith(("#", "-e"))
    ]
    path = directory / "constraints.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].endswith(".whl"):
        print(__doc__)
        return 2
    wheel = Path(argv[0]).resolve()
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="lossbook-anywhere-") as scratch:
        scratch_path = Path(scratch)
        tools = scratch_path / "tools"
        tools.mkdir()
        empty = scratch_path / "reader"
        empty.mkdir()
        venv = tools / "venv"
        python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
        }
        env.update(
            PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
            PIP_CONSTRAINT=str(constraints(tools)),
            LOSSBOOK_WHEEL=str(wheel),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "ipykernel", "nbclient", "nbformat"],
            check=True,
            env=env,
            cwd=empty,
        )
        check = subprocess.run(
            [python, "-c", "import lossbook"], env=env, cwd=empty, capture_output=True
        )
        if check.returncode == 0:
            print("lossbook is importable before any notebook ran: the test would prove nothing")
            return 1
        failures = []
        for chapter in chapters:
            copy = empty / chapter.name
            copy.write_bytes(chapter.read_bytes())
            started = time.perf_counter()
            result = subprocess.run(
                [python, "-c", RUNNER, copy.name],
                env=env,
                cwd=empty,
                capture_output=True,
                text=True,
            )
            took = time.perf_counter() - started
            copy.unlink()
            status = result.stdout.strip().splitlines()[-1] if result.returncode == 0 else "FAILED"
            print(f"{chapter.name}: {status} ({took:.1f} s)", flush=True)
            if result.returncode != 0:
                failures.append(chapter.name)
                print(result.stderr[-3000:], file=sys.stderr)
    if failures:
        print(
            f"{len(failures)} of {len(chapters)} chapters failed outside the repository: {failures}"
        )
        return 1
    print(f"all {len(chapters)} chapters ran from {wheel.name} in an empty directory")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
