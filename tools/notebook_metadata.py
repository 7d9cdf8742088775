#!/usr/bin/env python3
"""Check (or with ``--fix`` remove) metadata in notebooks that changes run to run.

    python3 tools/notebook_metadata.py [--fix] [NOTEBOOK ...]   # default: book/*.ipynb

A committed notebook should differ from a fresh top-to-bottom run only where its
content does, so that a re-execution shows as a diff of outputs, not of timing.
Volatile metadata is:

* per cell: ``execution`` (nbclient's iopub timestamps), ``ExecuteTime``
  (jupyterlab-execute-time), ``collapsed``/``scrolled`` (view state);
* per notebook: ``language_info.version`` (the executing Python's patch release),
  a kernel display name other than ipykernel's default (it names a developer's
  venv or conda environment), and editor state (``widgets``, ``vscode``,
  ``colab``, ``toc``, ``varInspector``, ``interpreter``).

Tags, myst-nb figure metadata, ids, execution counts and outputs are content and
are kept. Exit status: 0 when nothing is (or, with ``--fix``, remains) volatile,
1 when ``--fix`` was not given and something is. Standard library only, so it
runs from pre-commit and before ``.venv`` exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VOLATILE_CELL_KEYS = ("execution", "ExecuteTime", "collapsed", "scrolled")
VOLATILE_NOTEBOOK_KEYS = ("widgets", "vscode", "colab", "toc", "varInspector", "interpreter")
# ipykernel's default kernel spec: what `jupyter nbconvert --execute` and a fresh
# Jupyter install record, so every developer's run writes the same value.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def clean(notebook: dict[str, Any]) -> list[str]:
    """Remove the volatile metadata from `notebook` in place; say what was removed."""
    found: list[str] = []
    metadata = notebook.setdefault("metadata", {})
    for key in VOLATILE_NOTEBOOK_KEYS:
        if key in metadata:
            del metadata[key]
            found.append(f"notebook metadata {key!r}")
    if metadata.get("kernelspec") != KERNELSPEC:
        found.append(f"kernelspec {metadata.get('kernelspec')!r} (expected {KERNELSPEC!r})")
        metadata["kernelspec"] = dict(KERNELSPEC)
    if "version" in metadata.get("language_info", {}):
        del metadata["language_info"]["version"]
        found.append("language_info.version")
    for index, cell in enumerate(notebook.get("cells", [])):
        cell_metadata = cell.get("metadata", {})
        for key in VOLATILE_CELL_KEYS:
            if key in cell_metadata:
                del cell_metadata[key]
                found.append(f"cell {index} metadata {key!r}")
    return found


def dumps(notebook: dict[str, Any]) -> str:
    """Serialise like Jupyter and nbformat do (1-space indent, sorted keys, no ASCII escapes)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def process(path: Path, fix: bool) -> list[str]:
    text = path.read_text(encoding="utf-8")
    notebook = json.loads(text)
    found = clean(notebook)
    if fix and found:
        path.write_text(dumps(notebook), encoding="utf-8")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fix", action="store_true", help="remove the metadata in place")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    dirty = 0
    for path in notebooks:
        found = process(path, args.fix)
        if found:
            dirty += 1
            verb = "removed" if args.fix else "volatile"
            more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
            print(f"{path}: {verb}: {'; '.join(found[:5])}{more}")
    if dirty and not args.fix:
        print(f"{dirty} notebook(s) carry volatile metadata: run {Path(__file__).name} --fix")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
