"""Give every chapter notebook the same first code cell: the install cell.

``python3 tasks.py sync-notebooks`` (or ``python3 -m tools.sync_notebooks``) rewrites
the first code cell of every ``book/*.ipynb`` to :func:`header_source`; with
``--check`` it only lists the notebooks that differ and exits 1 if any does. It is
idempotent, touches nothing but that one cell, and keeps the file in nbformat's own
layout, so re-running it after a merge changes only headers that drifted.

The cell is tagged ``remove-cell`` (the book does not show it) and ``nbval-ignore-output``
(what it prints depends on the environment: nothing where all is installed, pip's notes
where it installs). It does two things:

* **Installs the lossbook release the chapter was written for** when the notebook runs
  somewhere that lacks it (a downloaded notebook in a fresh Jupyter, Colab, Binder):
  the pip requirement ``lossbook[notebooks]==<version>``, where the ``notebooks`` extra
  brings Matplotlib and SymPy. Pip finds it on the package index, or wherever pip's own
  settings point (``PIP_FIND_LINKS``: the wheel test, ``tools/notebooks_anywhere.py``).
  In the repository's own environment everything is present at the right version and
  the cell installs nothing and prints nothing.
* **Draws figures at twice their pixel density** (IPython's ``retina`` PNG format:
  twice the pixels, displayed at the same size), so they stay sharp on phones and
  high-density screens.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TAG = "remove-cell"
# nbval compares no output of the cell: it depends on what the environment already has.
IGNORE_OUTPUT = "nbval-ignore-output"
TAGS = (TAG, IGNORE_OUTPUT)
# Imported by the chapters but not by lossbook itself.
NOTEBOOK_MODULES = ("lossbook", "matplotlib", "sympy")
# The pip requirement the cell installs; {LOSSBOOK_VERSION} is expanded by IPython's %pip.
REQUIREMENT = "lossbook[notebooks]=={LOSSBOOK_VERSION}"


def package_version() -> str:
    """``lossbook.__version__``, read without importing the package."""
    tree = ast.parse((ROOT / "lossbook" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return str(node.value.value)
    raise SystemExit("lossbook/__init__.py defines no __version__ = '...'")


def header_source(version: str) -> str:
    """The install cell for lossbook `version`."""
    modules = ", ".join(f'"{name}"' for name in NOTEBOOK_MODULES)
    return f'''\
# Outside the repository (a downloaded notebook, Colab, Binder) this installs the lossbook
# release this chapter was written for, with what the chapters import. Where all is
# present it installs nothing.
import importlib.metadata
import importlib.util

LOSSBOOK_VERSION = "{version}"
NEEDED = ({modules})
if any(importlib.util.find_spec(name) is None for name in NEEDED) or (
    importlib.metadata.version("lossbook") != LOSSBOOK_VERSION
):
    %pip install --quiet "{REQUIREMENT}"
    importlib.invalidate_caches()

# Figures at twice the pixel density (same size on the page), sharp on high-density screens.
%config InlineBackend.figure_formats = ["retina"]'''


def requirement(version: str) -> str:
    """The pip requirement the install cell of lossbook `version` passes to ``%pip``."""
    return REQUIREMENT.replace("{LOSSBOOK_VERSION}", version)


def source_lines(text: str) -> list[str]:
    """Split cell text the way nbformat stores it: lines that keep their newline."""
    return text.splitlines(keepends=True)


def notebooks() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def first_code_cell(notebook: dict) -> dict:  # type: ignore[type-arg]
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            return cell  # type: ignore[no-any-return]
    raise ValueError("the notebook has no code cell")


def is_synced(cell: dict, header: str) -> bool:  # type: ignore[type-arg]
    return (
        "".join(cell["source"]) == header
        and all(tag in cell.get("metadata", {}).get("tags", []) for tag in TAGS)
        and not cell.get("outputs")
    )


def dump(notebook: dict) -> str:  # type: ignore[type-arg]
    """nbformat's layout (``nbformat.write``): sorted keys, one-space indent, UTF-8."""
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def out_of_sync(version: str | None = None) -> list[Path]:
    """The notebooks whose first code cell is not the current install cell."""
    header = header_source(version or package_version())
    stale = []
    for path in notebooks():
        cell = first_code_cell(json.loads(path.read_text(encoding="utf-8")))
        if not is_synced(cell, header):
            stale.append(path)
    return stale


def sync(version: str | None = None) -> list[Path]:
    """Rewrite the install cell of every notebook that differs; return those rewritten."""
    header = header_source(version or package_version())
    changed = []
    for path in notebooks():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cell = first_code_cell(notebook)
        if is_synced(cell, header):
            continue
        cell["source"] = source_lines(header)
        cell["outputs"] = []
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        tags.extend(tag for tag in TAGS if tag not in tags)
        path.write_text(dump(notebook), encoding="utf-8")
        changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        stale = out_of_sync()
        for path in stale:
            print(f"{path.relative_to(ROOT)}: install cell out of date")
        if stale:
            print("run `python3 tasks.py sync-notebooks` and re-execute those notebooks")
        return 1 if stale else 0
    if argv:
        print(__doc__)
        return 2
    for path in sync():
        print(f"rewrote the install cell of {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
