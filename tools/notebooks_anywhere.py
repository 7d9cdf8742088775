"""Run every readable notebook as a reader gets it, from the built wheel, on another CPU.

    python -m tools.notebooks_anywhere dist/lossbook-<version>-py3-none-any.whl

The door: a reader downloads a chapter (or Colab/Binder opens it) and runs it top to
bottom in a Python that has Jupyter, NumPy, Matplotlib and SymPy but not lossbook; the
notebook's own first cell (``tools/sync_notebooks.py``) installs
``lossbook[notebooks]==<version>``. This tool walks through it:

* A fresh virtual environment in an empty temporary directory gets Jupyter's kernel and
  runner (``ipykernel``, ``jupyter_client``), NumPy, Matplotlib and SymPy at the book's
  pinned versions (``requirements.txt`` as constraints) and nbval, which executes the
  notebooks and compares their outputs. Neither lossbook nor myst-nb is importable there.
* Each committed readable notebook (``notebooks/NN_*.ipynb``, the files the Colab and
  Binder buttons open and the download button serves) is copied unchanged, alone, into
  an empty directory and run there by nbval. The wheel is offered to pip only through
  pip's own settings: ``PIP_FIND_LINKS`` names a directory holding just the wheel and
  ``PIP_NO_INDEX`` keeps pip off the package index, so the install cell must get lossbook
  from the wheel and everything its ``notebooks`` extra needs from what a reader has. No
  variable of the project's is set. The first chapter installs; the later ones find it
  installed, as on a reader's second notebook, and run two at a time (each in its own
  empty folder).
* **A second CPU.** The notebooks run under ``OPENBLAS_CORETYPE=Prescott`` (OpenBLAS's
  oldest x86-64 kernels, which every x86-64 CPU runs) and ``NPY_DISABLE_CPU_FEATURES``
  naming every SIMD extension NumPy dispatches to (NumPy's baseline loops, as on an old
  CPU), while ``tasks.py test`` runs the book's notebooks under nbval on this machine's
  own kernels. nbval compares every output with the committed one, with the book's
  sanitizers (``book/sanitize.cfg``), so a printed or glued number that depends on the
  BLAS kernel or the SIMD path fails here. This run is the notebooks' second execution in
  ``.ci/run``; there is no third.

Exit status 1 if any chapter fails, with the tail of nbval's report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = ROOT / "book" / "sanitize.cfg"
# What a reader's Python has (Colab, a fresh Jupyter): Jupyter's kernel and client,
# NumPy, Matplotlib, SymPy. pytest and nbval are the test's own runner and comparison.
READER_PACKAGES = ["ipykernel", "jupyter_client", "numpy", "matplotlib", "sympy"]
RUNNER_PACKAGES = ["pytest", "nbval"]
# OpenBLAS's generic x86-64 (SSE3) kernels: a different BLAS path than this CPU's own.
CORETYPE = "Prescott"
# Notebooks run at once after the first: two, one per core of the 2-core machine .ci/run has.
WORKERS = 2
NUMPY_DISPATCH = (
    "from numpy._core._multiarray_umath import __cpu_dispatch__; print(' '.join(__cpu_dispatch__))"
)
SHOW_CPU = """
from numpy._core._multiarray_umath import __cpu_features__ as f, __cpu_dispatch__ as d
print("NumPy SIMD extensions in use:", [k for k in d if f.get(k)] or "none beyond its baseline")
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


def importable(python: Path, module: str, env: dict[str, str], cwd: Path) -> bool:
    check = subprocess.run(
        [python, "-c", f"import {module}"], env=env, cwd=cwd, capture_output=True
    )
    return check.returncode == 0


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].endswith(".whl"):
        print(__doc__)
        return 2
    wheel = Path(argv[0]).resolve()
    chapters = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        print(f"no readable notebooks in {NOTEBOOKS}: run `python3 tasks.py notebooks`")
        return 1
    with tempfile.TemporaryDirectory(prefix="lossbook-anywhere-") as scratch:
        scratch_path = Path(scratch)
        tools = scratch_path / "tools"
        wheels = scratch_path / "wheels"
        reader = scratch_path / "reader"
        for directory in (tools, wheels, reader):
            directory.mkdir()
        shutil.copy2(wheel, wheels / wheel.name)
        (tools / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        venv = tools / "venv"
        python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        base = {
            key: value
            for key, value in os.environ.items()
            if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
            and not key.startswith(("LOSSBOOK_", "OPENBLAS_", "NPY_"))
        }
        base.update(
            PATH=f"{python.parent}{os.pathsep}{base.get('PATH', '')}",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PYDEVD_DISABLE_FILE_VALIDATION="1",
        )
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        pip_install: list[str | Path] = [python, "-m", "pip", "install", "--quiet", "--no-compile"]
        subprocess.run(
            # --no-compile: Python compiles what the notebooks import, not all of SymPy.
            [*pip_install, *READER_PACKAGES, *RUNNER_PACKAGES],
            check=True,
            env=dict(base, PIP_CONSTRAINT=str(constraints(tools))),
            cwd=reader,
        )
        print(f"reader's Python ready ({time.perf_counter() - started:.1f} s)", flush=True)
        for module in ("lossbook", "myst_nb"):
            if importable(python, module, base, reader):
                print(f"{module} is importable before any notebook ran: the test proves nothing")
                return 1
        dispatch = subprocess.run(
            [python, "-c", NUMPY_DISPATCH], env=base, capture_output=True, text=True, check=False
        ).stdout.strip()
        env = dict(
            base,
            PIP_FIND_LINKS=str(wheels),
            PIP_NO_INDEX="1",
            OPENBLAS_CORETYPE=CORETYPE,
            NPY_DISABLE_CPU_FEATURES=dispatch,
        )
        print(f"OPENBLAS_CORETYPE={CORETYPE}, NPY_DISABLE_CPU_FEATURES={dispatch!r}", flush=True)
        subprocess.run([python, "-c", SHOW_CPU], env=env, cwd=reader, check=False)
        failures = []

        def run_notebook(chapter: Path) -> None:
            """Run one notebook in an empty folder of its own, as a reader would."""
            folder = reader / chapter.stem
            folder.mkdir()
            copy = folder / chapter.name
            copy.write_bytes(chapter.read_bytes())
            started = time.perf_counter()
            result = subprocess.run(
                [
                    python,
                    *("-m", "pytest", "-p", "no:cacheprovider", "-q", "-c", tools / "pytest.ini"),
                    *("--rootdir", folder, "--nbval", "--nbval-current-env"),
                    *("--nbval-sanitize-with", SANITIZE, copy.name),
                ],
                env=env,
                cwd=folder,
                capture_output=True,
                text=True,
            )
            took = time.perf_counter() - started
            copy.unlink()
            leftovers = sorted(path.name for path in folder.iterdir())
            status = "ok" if result.returncode == 0 else "FAILED"
            print(f"{chapter.name}: {status} ({took:.1f} s)", flush=True)
            if result.returncode != 0:
                failures.append(chapter.name)
                print(result.stdout[-4000:], result.stderr[-2000:], file=sys.stderr)
            if leftovers:
                print(f"  (left in the reader's folder: {leftovers})")
            shutil.rmtree(folder)

        # The first notebook's install cell installs lossbook from the wheel; the others,
        # which find it installed, then run two at a time, the longest first (the other
        # stream of `tasks.py test` ends earlier, and its core would otherwise idle).
        run_notebook(chapters[0])
        longest_first = sorted(chapters[1:], key=lambda path: -path.stat().st_size)
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(run_notebook, longest_first))
        installed = subprocess.run(
            [python, "-m", "pip", "show", "lossbook"], env=base, capture_output=True, text=True
        ).stdout
        version = next(
            (ln.split()[-1] for ln in installed.splitlines() if ln.startswith("Version")), None
        )
        expected = wheel.name.split("-")[1]
        if version != expected:
            failures.append(f"lossbook {version} installed, not {expected} from the wheel")
        if importable(python, "myst_nb", base, reader):
            failures.append("the notebooks extra installed myst-nb")
    if failures:
        print(f"{len(failures)} failures outside the repository: {failures}")
        return 1
    print(
        f"all {len(chapters)} readable notebooks ran unchanged from {wheel.name} in an empty "
        f"directory and matched their committed outputs (OPENBLAS_CORETYPE={CORETYPE}, "
        f"NPY_DISABLE_CPU_FEATURES={dispatch!r})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
