"""Every chapter notebook starts with the current install cell (tools/sync_notebooks.py).

That the cell really installs lossbook outside the repository is tested by walking through
the door: ``tasks.py package`` runs every readable notebook from the built wheel in an
empty directory (``tools/notebooks_anywhere.py``). These tests are the fast checks.
"""

from __future__ import annotations

import json
import re

from packaging.requirements import Requirement

from tools import sync_notebooks


def test_every_notebook_has_the_current_install_cell() -> None:
    stale = [path.name for path in sync_notebooks.out_of_sync()]
    assert stale == [], (
        f"install cell out of date in {stale}: run `python3 tasks.py sync-notebooks`"
    )


def test_install_cell_asks_pip_for_a_valid_requirement() -> None:
    """The string ``%pip`` receives, after IPython expands ``{LOSSBOOK_VERSION}``, is a
    PEP 508 requirement: lossbook with the notebooks extra at exactly this version
    (``lossbook==0.2.0[notebooks]`` is not; pip rejects it)."""
    import lossbook

    version = sync_notebooks.package_version()
    header = sync_notebooks.header_source(version)
    assert f'LOSSBOOK_VERSION = "{version}"' in header
    assert version == lossbook.__version__
    installs = re.findall(r'^\s*%pip install (?:--\S+ )*"([^"]+)"\s*$', header, re.MULTILINE)
    assert installs == [sync_notebooks.REQUIREMENT], installs
    expanded = installs[0].replace("{LOSSBOOK_VERSION}", version)
    assert expanded == sync_notebooks.requirement(version)
    parsed = Requirement(expanded)
    assert parsed.name == "lossbook"
    assert parsed.extras == {"notebooks"}
    assert str(parsed.specifier) == f"=={version}"


def test_install_cell_reads_no_project_variable() -> None:
    """Only pip's own settings (PIP_INDEX_URL, PIP_FIND_LINKS, ...) may redirect it."""
    header = sync_notebooks.header_source(sync_notebooks.package_version())
    assert "os.environ" not in header
    assert "LOSSBOOK_" not in header.replace("LOSSBOOK_VERSION", "")


def test_the_notebooks_extra_needs_no_myst_nb() -> None:
    """A reader's notebook shows the glued numbers already; myst-nb is the book's tool."""
    import tomllib

    pyproject = tomllib.loads((sync_notebooks.ROOT / "pyproject.toml").read_text("utf-8"))
    extra = pyproject["project"]["optional-dependencies"]["notebooks"]
    names = {Requirement(item).name for item in extra}
    assert {"matplotlib", "sympy"} <= names
    assert "myst-nb" not in names
    assert "myst_nb" not in sync_notebooks.NOTEBOOK_MODULES


def test_the_check_fails_on_a_drifted_header(tmp_path, monkeypatch) -> None:
    book = tmp_path / "book"
    book.mkdir()
    source = sorted(sync_notebooks.BOOK.glob("*.ipynb"))[0]
    notebook = json.loads(source.read_text(encoding="utf-8"))
    sync_notebooks.first_code_cell(notebook)["source"] = ["%pip install lossbook\n"]
    (book / source.name).write_text(json.dumps(notebook), encoding="utf-8")
    monkeypatch.setattr(sync_notebooks, "BOOK", book)
    assert [p.name for p in sync_notebooks.out_of_sync()] == [source.name]
    assert [p.name for p in sync_notebooks.sync()] == [source.name]
    assert sync_notebooks.out_of_sync() == []
    assert sync_notebooks.sync() == []  # idempotent
