"""Every public name of lossbook is documented on the API page, and nothing else is.

This replaces a check that ran inside the Sphinx build: as a test it runs in the
fast loop (``python3 tasks.py unit``) without building the book.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import lossbook

API_PAGE = Path(__file__).resolve().parents[1] / "book" / "api.md"
# ".. autofunction:: softmax" (or autoclass, autodata, ...) inside an eval-rst block,
# in the module set by ".. py:module:: lossbook"; a name may be written in full.
DOCUMENTED = re.compile(r"^\.\. auto(?:function|class|data|exception)::\s+(?:lossbook\.)?(\w+)\s*$")


def documented_names() -> list[str]:
    text = API_PAGE.read_text(encoding="utf-8")
    return [m.group(1) for line in text.splitlines() if (m := DOCUMENTED.match(line.strip()))]


def test_every_public_name_is_documented() -> None:
    missing = sorted(set(lossbook.__all__) - set(documented_names()))
    assert missing == [], f"in lossbook.__all__ but not on book/api.md: add them there: {missing}"


def test_only_public_names_are_documented() -> None:
    extra = sorted(set(documented_names()) - set(lossbook.__all__))
    assert extra == [], f"documented on book/api.md but not in lossbook.__all__: {extra}"


def test_each_name_is_documented_once() -> None:
    twice = sorted(name for name, count in Counter(documented_names()).items() if count > 1)
    assert twice == [], f"documented more than once on book/api.md: {twice}"
