"""The notebooks a reader downloads or opens in Colab/Binder, and the links to them.

The readable copies (``tools/readable_notebooks.py``) are written by the book build into
``_build/html/_sources/book`` (the download button) and committed in ``notebooks/`` (what
the Colab and Binder buttons open on ``main``). These tests check, without executing
anything:

* the copies' shape: the text's MyST is plain Markdown, no code imports myst-nb, every
  other code cell is the book's, gated solutions sit after a "Solutions" heading at the
  end, and every figure has its number and caption in a Markdown cell under it;
* that ``notebooks/`` holds exactly what this build writes (``python3 tasks.py notebooks``
  refreshes it), like the install cell's drift check;
* that every Colab, Binder, download and GitHub file link in the built HTML names a file
  tracked in git at ``HEAD`` on the branch the book is published from.

That the copies run top to bottom as a reader gets them is tested by running them:
``tasks.py package`` (``tools/notebooks_anywhere.py``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pytest
import yaml

from tools import readable_notebooks
from tools.readable_notebooks import GLUE_SHIM, SOLUTIONS_HEADING, leftover_myst, readable

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("LOSSBOOK_SITE", ROOT / "_build" / "html"))
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPOSITORY = urlsplit(CONFIG["repository"]["url"]).path.strip("/")  # "lossbook/lossbook"
BRANCH = CONFIG["repository"]["branch"]
BUILD_BOOK = "run `python3 tasks.py book` (or `test`), which builds it into _build/html"


def needs_site() -> None:
    if (SITE / "index.html").is_file():
        return
    message = f"the built book {SITE} is missing: {BUILD_BOOK}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def text(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


# --- the copies themselves ------------------------------------------------------------


@pytest.fixture(scope="module", params=[path.name for path in CHAPTERS])
def chapter(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the book's notebook, its committed readable copy)."""
    original = load(ROOT / "book" / request.param)
    copy = ROOT / "notebooks" / request.param
    assert copy.is_file(), f"notebooks/{request.param} missing: run `python3 tasks.py notebooks`"
    return original, load(copy)


def test_no_myst_left_in_the_text(chapter) -> None:
    _, copy = chapter
    assert leftover_myst(copy) == []


def test_code_is_the_books_without_myst_nb(chapter) -> None:
    """The book's code cells with their outputs, less the myst-nb import, plus the shim."""
    original, copy = chapter
    imports_myst_nb = re.compile(r"^\s*(?:from|import)\s+myst_nb\b", re.MULTILINE)
    code = [(text(c), c["outputs"]) for c in copy["cells"] if c["cell_type"] == "code"]
    assert not any(imports_myst_nb.search(source) for source, _ in code)
    assert [source for source, _ in code].count(GLUE_SHIM) == 1
    code.remove((GLUE_SHIM, []))
    book = [
        (readable_notebooks.GLUE_IMPORT.sub("", text(c)), c["outputs"])
        for c in original["cells"]
        if c["cell_type"] == "code"
    ]
    assert any(imports_myst_nb.search(text(c)) for c in original["cells"])
    # Same cells with the same outputs; solutions are moved, so compare as multisets.
    key = json.dumps
    assert sorted(map(key, code)) == sorted(map(key, book))


def test_solutions_are_at_the_end(chapter) -> None:
    original, copy = chapter
    cells = copy["cells"]
    headings = [i for i, c in enumerate(cells) if text(c).strip() == SOLUTIONS_HEADING]
    gated = "{solution-start}" in "".join(text(c) for c in original["cells"])
    assert len(headings) == (1 if gated else 0)
    if not gated:
        return
    start = headings[0]
    before = "".join(text(c) for c in cells[:start])
    after = [text(c) for c in cells[start + 1 :] if c["cell_type"] == "markdown"]
    n_gated = "".join(text(c) for c in original["cells"]).count("{solution-start}")
    assert before.count("*Solution: at the end of the notebook (Exercise ") == n_gated
    assert sum(t.startswith("### Solution to Exercise ") for t in after) == n_gated
    # Pure-Markdown solutions stay where they are, collapsed.
    n_inline = "".join(text(c) for c in original["cells"]).count("{solution}")
    assert before.count("<details><summary>Solution</summary>") == n_inline


def test_figures_have_their_number_and_caption_below(chapter) -> None:
    original, copy = chapter
    captions = {
        c["metadata"]["mystnb"]["figure"]["name"]: c["metadata"]["mystnb"]["figure"]["caption"]
        for c in original["cells"]
        if c.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")
    }
    cells = copy["cells"]
    shown = []
    for cell, following in itertools.pairwise(cells):
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if cell["cell_type"] == "code" and figure.get("caption"):
            assert following["cell_type"] == "markdown", figure["name"]
            assert re.match(r"\*\*Figure \d+\.\d+\.\*\* \S", text(following)), text(following)
            shown.append(figure["name"])
    assert sorted(shown) == sorted(captions)


def test_readable_copy_of_a_made_up_chapter() -> None:
    """The conversion on a small notebook, with a resolver, cell by cell."""
    figure = {"mystnb": {"figure": {"caption": "A {term}`logit` curve.", "name": "fig-x"}}}
    code = {"cell_type": "code", "execution_count": 1, "outputs": [], "metadata": {}}
    notebook = {
        "cells": [
            dict(code, id="a", source=["import numpy as np\n", "from myst_nb import glue\n"]),
            dict(code, id="b", source=["plt.show()"], metadata=figure),
            {
                "cell_type": "markdown",
                "id": "c",
                "metadata": {},
                "source": [
                    "```{exercise}\n:label: ex-x\n\nDo it.\n```\n\n"
                    "```{solution-start} ex-x\n:class: dropdown\n```\n\nLike this:\n"
                ],
            },
            dict(code, id="d", source=["answer = 42"]),
            {
                "cell_type": "markdown",
                "id": "e",
                "metadata": {},
                "source": ["It is 42.\n\n```{solution-end}\n```\n\n## Summary\n"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    numbers = {"fig-x": "1.2", "ex-x": "1.1"}
    copy = readable(notebook, lambda role, key: numbers.get(key) if role == "number" else None)
    cells = [(c["cell_type"], text(c)) for c in copy["cells"]]
    assert cells == [
        ("code", "import numpy as np\n"),
        ("code", GLUE_SHIM),
        ("code", "plt.show()"),
        ("markdown", "**Figure 1.2.** A logit curve.\n"),
        (
            "markdown",
            "> **Exercise 1.1.**\n>\n> Do it.\n\n*Solution: at the end of the notebook "
            "(Exercise 1.1).*\n",
        ),
        ("markdown", "## Summary\n"),
        ("markdown", SOLUTIONS_HEADING),
        ("markdown", "### Solution to Exercise 1.1\n\nLike this:\n"),
        ("code", "answer = 42"),
        ("markdown", "It is 42.\n"),
    ]
    assert len({c["id"] for c in copy["cells"]}) == len(copy["cells"])


# --- drift: notebooks/ is this build's ---------------------------------------------------


def test_committed_notebooks_are_the_builds() -> None:
    """notebooks/ (opened by Colab and Binder) == _build/html/_sources/book (downloaded)."""
    needs_site()
    built = SITE / "_sources" / "book"
    assert readable_notebooks.chapters(built), f"no readable notebooks in {built}"
    stale = readable_notebooks.drift(built)
    assert stale == [], (
        f"notebooks/ differs from the build for {stale}: run `python3 tasks.py notebooks` "
        "and commit notebooks/"
    )


# --- every launch URL names a tracked file ---------------------------------------------


def tracked_files() -> set[str]:
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listing.stdout.splitlines())


def launch_target(url: str) -> tuple[str, str] | None:
    """(branch, path in the repository) that a Colab, Binder or GitHub file URL opens."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc == "colab.research.google.com":
        found = re.fullmatch(rf"/github/{REPOSITORY}/blob/([^/]+)/(.+)", path)
        return (found.group(1), found.group(2)) if found else ("?", url)
    if parts.netloc == "mybinder.org":
        found = re.fullmatch(rf"/v2/gh/{REPOSITORY}/([^/]+)/?", path)
        query = parse_qs(parts.query)
        opened = (query.get("urlpath") or query.get("labpath") or query.get("filepath") or [""])[0]
        opened = re.sub(r"^(?:tree|lab/tree|notebooks)/", "", opened)
        return (found.group(1), opened) if found and opened else ("?", url)
    if parts.netloc == "github.com":
        found = re.fullmatch(rf"/{REPOSITORY}/(?:blob|tree|edit|raw)/([^/]+)/(.+)", path)
        return (found.group(1), found.group(2)) if found else None
    return None


def test_launch_target_parsing() -> None:
    base = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/notebooks/01.ipynb"
    assert launch_target(base) == ("main", "notebooks/01.ipynb")
    binder = f"https://mybinder.org/v2/gh/{REPOSITORY}/main?urlpath=tree/notebooks/01.ipynb"
    assert launch_target(binder) == ("main", "notebooks/01.ipynb")
    assert launch_target(f"https://mybinder.org/v2/gh/{REPOSITORY}/main")[0] == "?"
    assert launch_target(f"https://github.com/{REPOSITORY}") is None
    blob = f"https://github.com/{REPOSITORY}/blob/main/book/01_information.ipynb"
    assert launch_target(blob) == ("main", "book/01_information.ipynb")


def test_every_launch_url_opens_a_tracked_file() -> None:
    """Colab, Binder and GitHub file links: on the published branch, tracked at HEAD;
    download links: a file of the site that is the committed readable copy."""
    needs_site()
    tracked = tracked_files()
    problems, launches, downloads = [], 0, 0
    # Both editions (the Chinese one under zh/) show the buttons on every chapter page.
    chapter_pages = {
        f"{edition}book/{path.stem}.html" for path in CHAPTERS for edition in ("", "zh/")
    }
    pages_with_buttons = set()
    for page in sorted(SITE.rglob("*.html")):
        relative = page.relative_to(SITE).as_posix()
        if relative.split("/")[0] in {"_static", "_sources", "_images"}:
            continue
        html = page.read_text(encoding="utf-8")
        for url in re.findall(r'href="([^"]+)"', html):
            url = url.replace("&amp;", "&")
            if url.endswith(".ipynb") and not urlsplit(url).scheme:
                downloads += 1
                target = (page.parent / unquote(urlsplit(url).path)).resolve()
                committed = ROOT / "notebooks" / target.name
                if not target.is_file():
                    problems.append(f"{relative}: download {url} is not in the site")
                elif not committed.is_file() or committed.read_bytes() != target.read_bytes():
                    problems.append(f"{relative}: download {url} is not notebooks/{target.name}")
                continue
            opened = launch_target(urljoin("https://x/", url) if "//" not in url else url)
            if opened is None:
                continue
            launches += 1
            branch, path = opened
            if "colab" in url or "mybinder" in url:
                pages_with_buttons.add(relative)
            if branch != BRANCH:
                problems.append(f"{relative}: {url} opens branch {branch!r}, not {BRANCH!r}")
            elif path not in tracked:
                problems.append(f"{relative}: {url} opens {path}, which git does not track")
    assert launches, "no launch link found in the built HTML"
    assert downloads, "no download link found in the built HTML"
    assert pages_with_buttons == chapter_pages, sorted(chapter_pages ^ pages_with_buttons)
    assert problems == [], "\n".join(problems[:20])
