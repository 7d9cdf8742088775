"""The Chinese edition as a reader meets it (issue 23).

The Chinese edition is built into ``_build/html/zh`` (``python3 tasks.py book``), inside
the English site. ``test_chinese_page`` loads each of its pages in Chromium through the
same checks as the English ones (``tests/test_site.check_page``: math typeset, images, no
external request, internal links, axe-core, phone navigation); ``tasks.py test`` runs this
file in a process of its own beside ``tests/test_site.py``. Then what is particular to
having two editions:

* every Chinese page says ``<html lang="zh-Hans">``;
* every page of each edition links to the same page of the other (the header's
  English/中文 switch, and ``<link rel="alternate" hreflang>``);
* the Chinese edition has every page of the English one, and its own PDF, linked from its
  landing page, with the CJK font embedded.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.test_site import (
    BUILD_BOOK,
    ENGLISH_PAGES,
    PAGES,
    SITE,
    SKIPPED_PAGES,
    ZH,
    assert_few_equations_scroll,
    base_url,  # noqa: F401  (a fixture: pytest finds it in this module's namespace)
    browser_context,  # noqa: F401
    check_page,
    redirect_target,
    unavailable,
)

ENGLISH = ENGLISH_PAGES
# test_site.site_pages leaves out theme files and the print page at the top level only.
CHINESE = [
    page
    for page in PAGES
    if page.startswith(ZH)
    and page.split("/")[1] not in {"_static", "_sources", "_images"}
    and page.removeprefix(ZH) not in SKIPPED_PAGES
]
# Pages with no language switch: meta-refresh redirects (index.html).
SWITCH = re.compile(
    r'<a class="btn btn-sm lossbook-language-switch" href="([^"]+)"\s+hreflang="([^"]+)"'
)


# Code cells are the English notebooks' in both editions (test_code_is_the_same_in_both_
# editions): axe-core has checked them on the English pages, and leaving them out here
# takes a third off the Chinese pages' axe time. Their outputs (captions are translated)
# are checked.
SAME_AS_ENGLISH = ("div.cell_input",)
HIGHLIGHTED_CODE = re.compile(r'<div class="highlight[^"]*"><pre>.*?</pre>', re.S)


@pytest.mark.parametrize("page_path", CHINESE or ["<the Chinese edition is missing>"])
def test_chinese_page(
    page_path: str,
    base_url: str,  # noqa: F811
    browser_context: Any,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    """Every page of the Chinese edition through test_site's browser checks."""
    check_page(page_path, base_url, browser_context, request, axe_exclude=SAME_AS_ENGLISH)


def test_few_equations_scroll_on_a_phone_in_chinese() -> None:
    """As in the English edition (test_site.test_few_equations_scroll_on_a_phone)."""
    assert_few_equations_scroll(CHINESE)


def test_code_is_the_same_in_both_editions() -> None:
    """Both editions show the same code, highlighted the same way (one set of notebooks)."""
    built()
    different = [
        page
        for page in ENGLISH
        if page.endswith(".html")
        and page not in SKIPPED_PAGES
        and HIGHLIGHTED_CODE.findall((SITE / page).read_text(encoding="utf-8"))
        != HIGHLIGHTED_CODE.findall((SITE / ZH / page).read_text(encoding="utf-8"))
    ]
    assert different == [], f"pages whose code differs between the editions: {different}"


def built() -> None:
    if not ENGLISH:
        unavailable(f"the built book {SITE} is missing", BUILD_BOOK)
    if not CHINESE:
        pytest.fail(f"the Chinese edition {SITE / 'zh'} is missing: {BUILD_BOOK}", pytrace=False)


def test_chinese_edition_has_every_page() -> None:
    built()
    missing = sorted(set(ENGLISH) - {page.removeprefix(ZH) for page in CHINESE})
    assert missing == [], f"pages of the English edition missing from the Chinese: {missing}"


def test_chinese_pages_say_zh_hans() -> None:
    built()
    wrong = []
    for page in CHINESE:
        html = (SITE / page).read_text(encoding="utf-8")
        match = re.search(r"<html[^>]*\slang=\"([^\"]*)\"", html)
        if redirect_target(SITE / page) is None and (match is None or match.group(1) != "zh-Hans"):
            wrong.append(f"{page}: {match.group(1) if match else 'no lang'}")
    assert wrong == [], f'Chinese pages without <html lang="zh-Hans">: {wrong}'


@pytest.mark.parametrize("edition", ["English", "Chinese"])
def test_every_page_links_to_the_other_edition(edition: str) -> None:
    built()
    pages = ENGLISH if edition == "English" else CHINESE
    other_lang = "zh-Hans" if edition == "English" else "en"
    problems = []
    for page in pages:
        path = SITE / page
        if redirect_target(path) is not None:
            continue
        html = path.read_text(encoding="utf-8")
        match = SWITCH.search(html)
        if match is None:
            problems.append(f"{page}: no language switch")
            continue
        href, lang = match.groups()
        target = (path.parent / href).resolve()
        counterpart = SITE / (page.removeprefix(ZH) if page.startswith(ZH) else ZH + page)
        if lang != other_lang or target != counterpart.resolve():
            problems.append(f"{page}: switch to {href} ({lang}), expected {counterpart}")
        if f'<link rel="alternate" hreflang="{other_lang}" href="{href}"' not in html:
            problems.append(f"{page}: no <link rel=alternate hreflang={other_lang}>")
    assert problems == [], "\n".join(problems)


def test_chinese_landing_page_links_its_pdf() -> None:
    built()
    landing = redirect_target(SITE / "zh" / "index.html") or "zh/index.html"
    html = (SITE / landing).read_text(encoding="utf-8")
    match = re.search(r'<a[^>]+class="[^"]*lossbook-pdf[^"]*"[^>]+href="([^"]+)"', html)
    assert match, f"{landing} has no link to the PDF"
    pdf = ((SITE / landing).parent / match.group(1)).resolve()
    assert pdf == (SITE / "zh" / "lossbook.pdf").resolve(), pdf
    assert pdf.is_file(), f"the Chinese PDF is missing: {pdf} (run `python3 tasks.py book`)"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    chapters = len(list((Path(__file__).parents[1] / "book").glob("[0-9][0-9]_*.ipynb")))
    assert pages >= 3 * chapters, f"the Chinese PDF has {pages} pages for {chapters} chapters"
    fonts = set(re.findall(rb"/FontName\s*/([\w+-]+)", data))
    assert any(b"CJK" in font or b"Han" in font or b"WenQuanYi" in font for font in fonts), (
        f"no CJK font embedded in the Chinese PDF (fonts: {sorted(fonts)[:10]})"
    )


def test_chinese_pages_show_every_glued_number() -> None:
    """Translated text pastes the same glued values as the English (none lost or empty)."""
    built()
    short = []
    for notebook in sorted((Path(__file__).parents[1] / "book").glob("[0-9][0-9]_*.ipynb")):
        page = f"book/{notebook.stem}.html"
        english = (SITE / page).read_text(encoding="utf-8")
        chinese = (SITE / ZH / page).read_text(encoding="utf-8")
        pasted = re.compile(r'<span class="pasted-text">([^<]*)</span>')
        en, zh = sorted(pasted.findall(english)), sorted(pasted.findall(chinese))
        # An empty value is legitimate when the English pastes it too (a conditional clause
        # such as chapter 10's exceptions to "in 9 of 9 comparisons"); a translated glue that
        # renders empty shows up as a difference between the two lists.
        if en != zh:
            missing = sorted((Counter(en) - Counter(zh)).elements())
            extra = sorted((Counter(zh) - Counter(en)).elements())
            short.append(f"{page}: in English only {missing}, in Chinese only {extra}")
    assert short == [], "\n".join(short)
