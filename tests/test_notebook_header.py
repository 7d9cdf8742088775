"""Every chapter notebook starts with the current install cell (tools/sync_notebooks.py)."""

from __future__ import annotations

import json

from tools import sync_notebooks


def test_every_notebook_has_the_current_install_cell() -> None:
    stale = [path.name for path in sync_notebooks.out_of_sync()]
    assert stale == [], (
        f"install cell out of date in {stale}: run `python3 tasks.py sync-notebooks`"
    )


def test_install_cell_pins_the_package_version() -> None:
    import lossbook

    header = sync_notebooks.header_source(sync_notebooks.package_version())
    assert f'LOSSBOOK_VERSION = "{lossbook.__version__}"' in header
    assert 'os.environ.get("LOSSBOOK_WHEEL")' in header


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
