"""Print the whole book to ``_build/html/lossbook.pdf``, offline.

The book build writes ``book/print.html`` (every page of the table of contents in one
page, ``_ext/lossbook_site.py``). This serves ``_build/html`` from 127.0.0.1, opens that
page in headless Chromium (Debian's ``chromium``, through Playwright), waits for MathJax
and the images, and prints it with the print stylesheet (code wraps instead of being cut).
Requests to any other host are blocked.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    from playwright.sync_api import sync_playwright

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
            page.pdf(
                path=str(site / PDF),
                format="A4",
                print_background=True,
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                display_header_footer=True,
                header_template="<span></span>",
                footer_template='<div style="font-size:8px;width:100%;text-align:center">'
                '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
            )
            instance.close()
    finally:
        server.shutdown()
        server.server_close()
    print(f"wrote {site / PDF} ({(site / PDF).stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(arg) for arg in sys.argv[1:2])))
