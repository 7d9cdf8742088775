"""tools/notebook_metadata.py strips exactly the metadata that changes run to run."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "notebook_metadata.py"
_spec = importlib.util.spec_from_file_location("notebook_metadata", SCRIPT)
assert _spec is not None
assert _spec.loader is not None
notebook_metadata = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(notebook_metadata)


def fresh_run() -> dict[str, Any]:
    """A notebook as a Jupyter run writes it, with content and volatile metadata."""
    content_metadata = {
        "tags": ["hide-input"],
        "mystnb": {"figure": {"caption": "A curve.", "name": "fig-x"}},
    }
    return {
        "cells": [
            {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": "# Title"},
            {
                "cell_type": "code",
                "id": "b2",
                "execution_count": 1,
                "metadata": {
                    **content_metadata,
                    "execution": {"iopub.execute_input": "2026-11-30T22:00:00.000Z"},
                    "ExecuteTime": {"end_time": "2026-11-30T22:00:01.000Z"},
                    "scrolled": True,
                },
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
                "source": "print(1)",
            },
        ],
        "metadata": {
            "kernelspec": {"display_name": ".venv", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def test_volatile_metadata_is_removed_and_content_kept() -> None:
    notebook = fresh_run()
    found = notebook_metadata.clean(notebook)
    assert len(found) == 6, found  # execution, ExecuteTime, scrolled, version, kernel, widgets
    code = notebook["cells"][1]
    assert set(code["metadata"]) == {"tags", "mystnb"}
    assert code["outputs"] == fresh_run()["cells"][1]["outputs"]
    assert code["execution_count"] == 1
    assert code["id"] == "b2"
    assert notebook["metadata"] == {
        "kernelspec": notebook_metadata.KERNELSPEC,
        "language_info": {"name": "python"},
    }


def test_clean_notebook_is_left_alone() -> None:
    notebook = fresh_run()
    notebook_metadata.clean(notebook)
    cleaned = copy.deepcopy(notebook)
    assert notebook_metadata.clean(notebook) == []
    assert notebook == cleaned


def test_check_fails_and_fix_repairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "chapter.ipynb"
    path.write_text(json.dumps(fresh_run()), encoding="utf-8")
    assert notebook_metadata.main([str(path)]) == 1
    assert "language_info.version" in capsys.readouterr().out
    assert notebook_metadata.main(["--fix", str(path)]) == 0
    assert notebook_metadata.main([str(path)]) == 0
    assert "ExecuteTime" not in path.read_text(encoding="utf-8")
