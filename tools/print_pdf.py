"""Print the whole book to ``_build/html/lossbook.pdf``, offline.

The book build writes ``book/print.html`` (every page of the table of contents in one
page, ``_ext/lossbook_site.py``). This serves ``_build/html`` from 127.0.0.1, opens that
page in headless Chromium (Debian's ``chromium``, through Playwright), waits for MathJax
and the images, and prints it with the print stylesheet (code wraps instead of being cut).
Requests to any other host are blocked.

The PDF is tagged (accessible) and has a bookmark outline taken from the headings (parts,
chapters, sections: ``book/print.html`` sets their levels). The contents list gets its
page numbers from a first printing: the page on which each chapter's named destination
lands, read with pypdf, is written into the list and the page is printed again (the
placeholder has the same width, so nothing moves).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# pypdf warns about harmless quirks of Chromium's PDFs ("Object count ... exceeds defined
# trailer size").
logging.getLogger("pypdf").setLevel(logging.ERROR)

ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("LOSSBOOK_SITE", ROOT / "_build" / "html"))
PRINT_PAGE = "book/print.html"
PDF = "lossbook.pdf"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def chromium() -> str | None:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


PDF_OPTIONS: dict[str, Any] = {
    "format": "A4",
    "print_background": True,
    "margin": {"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
    "display_header_footer": True,
    "header_template": "<span></span>",
    "footer_template": '<div style="font-size:8px;width:100%;text-align:center">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
    "tagged": True,
    "outline": True,
}

# Writes each page number into the contents list; returns the entries it found none for.
FILL_PAGE_NUMBERS = """(numbers) => {
  const missing = [];
  for (const span of document.querySelectorAll(".lossbook-toc-page[data-target]")) {
    const number = numbers[span.dataset.target];
    if (number === undefined) missing.push(span.dataset.target);
    else span.textContent = String(number);
  }
  return missing;
}"""


# Takes the chapters out of the layout, leaving the title page and the contents.
HIDE_CHAPTERS = """() => {
  for (const chapter of document.querySelectorAll(".lossbook-print-chapter")) {
    chapter.style.display = "none";
  }
}"""


def chapter_pages(reader: Any) -> dict[str, int]:
    """Named destination ("page-01_information") -> 1-based page number, in a printed PDF
    (a pypdf ``PdfReader``)."""
    found = {}
    for name, destination in reader.named_destinations.items():
        if name.startswith("/page-"):
            page = reader.get_destination_page_number(destination)
            if page is not None and page >= 0:
                found[name[1:]] = page + 1
    return found


# The printed headings' text, in document order: one per bookmark. Chromium's bookmark
# titles repeat a heading's text when the heading moved to the next page (break-after:
# avoid) and drop the spaces at its line breaks and its mathematics ("A shortcut when  is").
PRINTED_HEADINGS = """() => [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
  .filter((h) => h.getClientRects().length > 0 && getComputedStyle(h).visibility !== "hidden")
  .map((h) => {
    const copy = h.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach((el) => el.remove());
    copy.querySelectorAll("mjx-container").forEach((math) => {
      const spoken = math.querySelector("mjx-assistive-mml");
      math.replaceWith(spoken ? spoken.textContent : "");
    });
    return copy.textContent.replace(/\\s+/g, " ").trim();
  })"""


def finish(book: Any, front_pages: bytes, count: int, headings: list[str]) -> bytes:
    """`book` (the first printing, read by pypdf's ``PdfReader``) with the drawing of its
    first `count` pages taken from `front_pages`, and its bookmarks titled with `headings`.

    The page objects stay, and with them everything that points at them (bookmarks,
    named destinations, link annotations, the tag tree): both printings come from the same
    layout, and the page numbers written into the contents have the placeholder's width.
    """
    import io

    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, TextStringObject

    # An incremental update: the printed file stays as it is and only the changed objects
    # are appended (rewriting all 27 MB took 12 s).
    writer = PdfWriter(book, incremental=True)
    patch = PdfReader(io.BytesIO(front_pages))
    if len(patch.pages) != count:
        raise RuntimeError(f"reprinted {len(patch.pages)} front pages, expected {count}")
    for index in range(count):
        source, target = patch.pages[index], writer.pages[index]
        for key in ("/Contents", "/Resources"):
            target[NameObject(key)] = source.raw_get(key).clone(writer)
    items = list(_outline_items(writer))
    if len(items) != len(headings):
        raise RuntimeError(f"{len(items)} bookmarks for {len(headings)} printed headings")
    for item, title in zip(items, headings, strict=True):
        item[NameObject("/Title")] = TextStringObject(title)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _outline_items(writer: Any) -> Iterator[Any]:
    """The bookmark dictionaries of a PDF, in document order (depth first)."""
    outlines = writer.root_object.get("/Outlines")
    stack = [outlines.get_object()["/First"].get_object()] if outlines else []
    while stack:
        item = stack.pop()
        yield item
        if "/Next" in item:
            stack.append(item["/Next"].get_object())
        if "/First" in item:
            stack.append(item["/First"].get_object())


def main(site: Path = SITE) -> int:
    """Print `site`/book/print.html to `site`/lossbook.pdf (the Chinese edition: _build/html/zh)."""
    if not (site / PRINT_PAGE).is_file():
        print(f"{site / PRINT_PAGE} is missing: build the book first", file=sys.stderr)
        return 1
    browser = chromium()
    if browser is None:
        message = "Chromium not found: the whole-book PDF is not built (apt-get install chromium)"
        print(message, file=sys.stderr)
        return 1 if os.environ.get("CI") == "true" else 0
    import io

    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright:
            instance = playwright.chromium.launch(
                executable_path=browser, args=["--no-sandbox", "--disable-gpu", "--disable-quic"]
            )
            page = instance.new_page()
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}
                    else route.abort("blockedbyclient")
                ),
            )
            page.emulate_media(media="print", color_scheme="light")
            page.goto(base + PRINT_PAGE, wait_until="load", timeout=180_000)
            page.evaluate("""async () => {
              if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
              for (const img of document.images) img.loading = "eager";
              await Promise.all([...document.images].map((img) => img.complete ? null :
                new Promise((done) => { img.onload = img.onerror = done; })));
              await document.fonts.ready;
            }""")
            printed = PdfReader(io.BytesIO(page.pdf(**PDF_OPTIONS)))
            numbers = chapter_pages(printed)
            missing = page.evaluate(FILL_PAGE_NUMBERS, numbers)
            if missing:
                print(f"contents entries without a page: {missing}", file=sys.stderr)
                return 1
            headings = page.evaluate(PRINTED_HEADINGS)
            # Only the front pages (title and contents) changed: print just those again, with
            # the chapters out of the layout (a page range alone still lays out every page
            # of the book: 20 s) and the footer's page total written in.
            front = min(numbers.values()) - 1
            page.evaluate(HIDE_CHAPTERS)
            footer = PDF_OPTIONS["footer_template"].replace(
                '<span class="totalPages"></span>', str(len(printed.pages))
            )
            contents = page.pdf(**{**PDF_OPTIONS, "footer_template": footer})
            instance.close()
        (site / PDF).write_bytes(finish(printed, contents, front, headings))
    finally:
        server.shutdown()
        server.server_close()
    print(f"wrote {site / PDF} ({(site / PDF).stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(arg) for arg in sys.argv[1:2])))
