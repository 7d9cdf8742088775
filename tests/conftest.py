"""Shared pytest hooks for the lossbook tests."""

from __future__ import annotations

import pytest

# Set by tests/test_site.py: the pages the browser test has loaded.
PAGES_CHECKED = pytest.StashKey[list[str]]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    pages = config.stash.get(PAGES_CHECKED, None)
    if pages:
        terminalreporter.write_sep(
            "-", f"browser test: {len(pages)} pages of _build/html checked in Chromium"
        )


# The Chinese edition is built into _build/html/zh (tools/translations.py), so the browser
# test of tests/test_site.py loads its pages too; the same pages as in the English edition
# are left out (test_site.site_pages: theme files, the whole-book print page, the index).
ZH_SKIPPED = ("[zh/_static/", "[zh/_sources/", "[zh/_images/")
ZH_SKIPPED_PAGES = ("[zh/book/print.html]", "[zh/genindex.html]")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skipped = [
        item
        for item in items
        if any(part in item.nodeid for part in ZH_SKIPPED) or item.nodeid.endswith(ZH_SKIPPED_PAGES)
    ]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if item not in skipped]
