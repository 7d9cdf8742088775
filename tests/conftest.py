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
