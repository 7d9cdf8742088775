"""The doors readers use: phones, accessibility, Chinese terms, PDF, downloaded notebooks.

Loaded through ``sphinx.local_extensions`` in ``_config.yml`` (issue 15). No network:

1. **Phone navigation.** pydata-sphinx-theme 0.17 defaults ``navbar_persistent`` to a
   search field, which makes it render a top navbar with a second ``.primary-toggle``
   and ``.secondary-toggle``; its script binds the first of each (the navbar's, hidden
   under sphinx-book-theme), so the visible "menu" and "Contents" buttons do nothing on
   narrow screens and desktop shows a second search box (pydata-sphinx-theme#2451,
   sphinx-book-theme#988). sphinx-book-theme 1.4, the first release after 1.3.0, needs
   Sphinx >= 8.2 (Jupyter Book 1.x is on Sphinx 7) and pins pydata-sphinx-theme 0.20,
   which still renders the navbar toggles. Setting ``navbar_persistent = []`` (the value
   sphinx-book-theme intends) restores its single header. Remove when upgrading past a
   release that fixes it.
2. **Accessibility.** Two theme components are overridden in ``_ext/site_templates`` so
   that buttons' accessible names contain their visible text; CSS darkens links in tinted
   boxes to WCAG AA contrast.
3. **Chinese terms** (``lang="zh-Hans"``): every run of CJK characters in the text is
   wrapped in ``<span lang="zh-Hans">``, so browsers pick Simplified Chinese glyphs; the
   CSS lists common system CJK fonts (none is shipped).
4. **Site chrome.** A favicon, CSS for phones (wrapping inline code and signatures),
   figures in dark mode and print; search summaries taken from the article text. The
   theme's 1.5 MB ``fontawesome.js`` is not loaded: its stylesheet already draws the icons
   from web fonts (``_ext/site_templates/static/webpack-macros.html``).
5. **Trimmed MathJax.** sphinx-mathjax-offline copies all of MathJax 3 (24 MB); only the
   CHTML TeX component, its web fonts and the accessibility extensions its menu loads are
   kept.
6. **Whole-book PDF.** ``book/print.html`` concatenates every page of the table of
   contents into one page (printed to ``lossbook.pdf`` by ``tools/print_pdf.py``), with a
   title for each part, headings one level down inside parts (``aria-level``, from which
   Chromium builds the PDF's bookmarks and tags) and a contents list whose page numbers
   the printer fills in; the landing page links to the PDF.
7. **Readable notebooks.** The downloadable ``_sources/book/*.ipynb`` are replaced by
   copies with glued numbers and resolved references (``tools/readable_notebooks.py``),
   and the Colab/Binder buttons open the same copies, committed in ``notebooks/`` on the
   repository branch (``lossbook_notebooks_dir``; ``python3 tasks.py notebooks``).
"""

from __future__ import annotations

import json
import posixpath
import re
import sys
from html import escape as html_escape
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STATIC = HERE / "site_static"
TEMPLATES = HERE / "site_templates"
PDF_NAME = "lossbook.pdf"
PRINT_PAGE = "book/print.html"

logger = logging.getLogger(__name__)

# CJK ideographs, radicals, CJK punctuation and full-width forms.
CJK_RUN = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+"
)
# MathJax files kept (relative to _static/mathjax): the component the pages load, its
# fonts, and the accessibility extensions (explorer, speech) that its menu loads on demand.
# English speech rules only (the other languages' rule sets are 3.5 MB).
MATHJAX_KEEP = (
    "tex-chtml.js",
    "output/chtml/fonts/woff-v2/",
    "a11y/",
    "sre/mathmaps/base.json",
    "sre/mathmaps/en.json",
    "sre/mathmaps/nemeth.json",
)


# --- 1. configuration ---------------------------------------------------------------


def configure(app: Sphinx, config: Any) -> None:
    options = dict(config.html_theme_options or {})
    options.setdefault("navbar_persistent", [])
    config.html_theme_options = options
    config.html_static_path = [*config.html_static_path, str(STATIC)]
    config.templates_path = [str(TEMPLATES), *config.templates_path]
    if not config.html_favicon:
        config.html_favicon = str(STATIC / "favicon.svg")


# --- 3. Chinese terms ---------------------------------------------------------------


class chinese(nodes.inline):
    """Text in Simplified Chinese."""


def visit_chinese(translator: Any, node: chinese) -> None:
    translator.body.append(translator.starttag(node, "span", "", lang="zh-Hans"))


def depart_chinese(translator: Any, node: chinese) -> None:
    translator.body.append("</span>")


_NO_MARKUP = (nodes.FixedTextElement, nodes.literal, nodes.math, nodes.raw, nodes.comment, chinese)


def mark_chinese(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html":
        return
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or isinstance(parent, _NO_MARKUP) or not CJK_RUN.search(text):
            continue
        if any(isinstance(a, _NO_MARKUP) for a in _ancestors(parent)):
            continue
        source, pieces, position = str(text), [], 0
        for match in CJK_RUN.finditer(source):
            if match.start() > position:
                pieces.append(nodes.Text(source[position : match.start()]))
            pieces.append(chinese("", match.group()))
            position = match.end()
        if position < len(source):
            pieces.append(nodes.Text(source[position:]))
        parent.replace(text, pieces)


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


# --- bibliography order ------------------------------------------------------------


def alphabetical_key(text: str) -> str:
    """Sort key that files "Müller" under "Mu" and ignores case."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def sort_bibliography(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Bibliography entries in alphabetical order of their labels.

    The pybtex style sorts by the author field, so an entry with an organisation but no
    author ("PyTorch Contributors") lands last and accented names after unaccented ones.
    """
    parents = {id(c.parent): c.parent for c in doctree.findall(nodes.citation) if c.parent}
    for parent in parents.values():
        citations = [child for child in parent.children if isinstance(child, nodes.citation)]
        if len(citations) < 2:
            continue
        positions = [parent.index(child) for child in citations]
        ordered = sorted(
            citations,
            key=lambda c: alphabetical_key(
                c.next_node(nodes.label).astext() if c.next_node(nodes.label) else c.astext()
            ),
        )
        for position, child in zip(positions, ordered, strict=True):
            parent.children[position] = child


# --- 6. PDF link on the landing page ------------------------------------------------


def link_pdf(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.format != "html" or docname != app.config.root_doc:
        return
    sections = list(doctree.findall(nodes.section))
    if not sections:
        return
    href = posixpath.relpath(PDF_NAME, posixpath.dirname(docname) or ".")
    paragraph = nodes.paragraph(classes=["lossbook-pdf-link"])
    paragraph += nodes.Text("The whole book is also one PDF file: ")
    paragraph += nodes.reference(
        "", "download lossbook.pdf", refuri=href, internal=False, classes=["lossbook-pdf"]
    )
    paragraph += nodes.Text(" (built with the site, for reading offline or printing).")
    first = sections[0]
    # After the first paragraph (the book's one-line summary), or at the top.
    index = next(
        (i + 1 for i, child in enumerate(first.children) if isinstance(child, nodes.paragraph)), 1
    )
    first.insert(index, paragraph)


def fix_aria(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Two ARIA slips of the generated HTML, fixed in each page's body.

    docutils lists citations as ``role="list"`` of ``role="doc-biblioentry"`` items, a role
    DPUB-ARIA 1.1 deprecated and that a list does not accept (axe: aria-required-children,
    critical); each entry becomes a ``listitem``."""
    body = context.get("body")
    if isinstance(body, str):
        body = body.replace('role="doc-biblioentry"', 'role="listitem"')
        # myst-nb labels the "Show code cell source" toggle "Toggle hidden content", so its
        # name hides its visible text (axe: label-content-name-mismatch): let the text name it.
        body = body.replace('<summary aria-label="Toggle hidden content">', "<summary>")
        context["body"] = body


# --- 7. launch buttons ----------------------------------------------------------------


def point_launch_buttons(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Colab and Binder open the readable copy committed in ``notebooks/`` on the branch.

    The theme points them at the MyST source (``book/NN.ipynb``), whose placeholders
    Jupyter shows raw; ``notebooks/NN.ipynb`` is the readable copy of this build
    (``python3 tasks.py notebooks`` writes it, ``tests/test_readable_notebooks.py``
    checks that it is current and that every launch URL names a tracked file)."""
    folder = app.config.lossbook_notebooks_dir
    if not folder or not pagename.startswith("book/"):
        return
    source = f"{pagename}.ipynb"
    target = f"{folder}/{posixpath.basename(pagename)}.ipynb"

    def rewrite(buttons: list[dict[str, Any]]) -> None:
        for button in buttons:
            url = button.get("url", "")
            if "colab.research.google.com" in url:
                button["url"] = url.replace(f"/{source}", f"/{target}")
            elif "/v2/gh/" in url:
                button["url"] = url.replace(f"urlpath=tree/{source}", f"urlpath=tree/{target}")
            rewrite(button.get("buttons", []))

    rewrite(context.get("header_buttons", []))


# --- build-finished: MathJax, readable notebooks, print page --------------------------


def trim_mathjax(outdir: Path) -> None:
    mathjax = outdir / "_static" / "mathjax"
    if not (mathjax / "tex-chtml.js").is_file():
        return
    for path in sorted(mathjax.rglob("*"), reverse=True):
        relative = path.relative_to(mathjax).as_posix()
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
            continue
        if not any(relative == keep or relative.startswith(keep) for keep in MATHJAX_KEEP):
            path.unlink()


def drop_source_maps(outdir: Path) -> None:
    """The theme's .js.map/.css.map files (3 MB) only serve browser developer tools."""
    for path in (outdir / "_static").rglob("*.map"):
        path.unlink()
    # Not loaded by any page (_ext/site_templates/static/webpack-macros.html): icons are web fonts.
    for name in ("fontawesome.js", "fontawesome.js.LICENSE.txt"):
        (outdir / "_static" / "scripts" / name).unlink(missing_ok=True)
    for path in [*(outdir / "_static").rglob("*.js"), *(outdir / "_static").rglob("*.css")]:
        if "mathjax" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        stripped = re.sub(r"\n?/[/*][#@] sourceMappingURL=[^\n]*", "", text)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8", errors="surrogateescape")


def _resolver(app: Sphinx, docname: str) -> Any:
    env = app.env
    std = env.get_domain("std")
    labels = std.labels  # type: ignore[attr-defined]
    math = env.get_domain("math")
    fignumbers = env.toc_fignumbers
    bibtex = _bibliography_labels(app)

    def number(doc: str, kind: str, node_id: str) -> str | None:
        found = fignumbers.get(doc, {}).get(kind, {}).get(node_id)
        return ".".join(map(str, found)) if found else None

    def numbered(target: str) -> tuple[str, str] | None:
        """(kind, "3.1") of a numbered label: figure, exercise, definition, ..."""
        for kinds in fignumbers.values():
            for kind, ids in kinds.items():
                if target in ids:
                    return kind, ".".join(map(str, ids[target]))
        return None

    def resolve(role: str, target: str) -> str | None:
        if role == "number":  # tools/readable_notebooks.py: "3.1" for a label
            found = numbered(target)
            return found[1] if found else None
        if role == "numref" and numbered(target):
            kind, shown = numbered(target)  # type: ignore[misc]
            return f"{NUMBERED_KINDS.get(kind, kind.capitalize())} {shown}"
        if role == "eq":
            equation = math.equations.get(target)  # type: ignore[attr-defined]
            if equation:
                shown = number(equation[0], "displaymath", f"equation-{target}")
                return f"({shown or equation[1]})"
        if role in {"ref", "numref"} and target in labels:
            doc, label_id, title = labels[target]
            if role == "numref":
                shown = number(doc, "figure", label_id) or number(doc, "table", label_id)
                if shown:
                    return f"Figure {shown}"
            return title or target
        if role in {"doc"}:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(docname), target))
            return env.titles[path].astext() if path in env.titles else target
        if role.startswith("cite"):
            keys = [key.strip() for key in target.split(",")]
            names = [bibtex.get(key, key) for key in keys]
            if role == "cite:t":
                return "; ".join(_textual(name) for name in names)
            return "(" + "; ".join(names) + ")"
        if role == "prf:ref":
            return _proof_titles(app).get(target)
        return None

    return resolve


NUMBERED_KINDS = {"figure": "Figure", "table": "Table", "code-block": "Listing"}


def _textual(label: str) -> str:
    who, _, year = label.rpartition(", ")
    return f"{who} ({year})" if who else label


def _bibliography_labels(app: Sphinx) -> dict[str, str]:
    """citation key -> "Lin et al., 2017", from the bibliography files."""
    from pybtex.database import parse_file

    labels: dict[str, str] = {}
    for name in app.config.bibtex_bibfiles:
        path = Path(app.srcdir) / name
        if not path.is_file():
            continue
        for key, entry in parse_file(str(path)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
            who = (
                last[0]
                if len(last) == 1
                else f"{last[0]} and {last[1]}"
                if len(last) == 2
                else f"{last[0]} et al."
                if last
                else key
            )
            labels[key] = f"{who}, {entry.fields.get('year', 'n.d.')}"
    return labels


_PROOF = re.compile(r"^[`:]{3,}\{prf:([a-z]+)\}\s*(.*?)\s*\n:label:\s*(\S+)", re.MULTILINE)


def _proof_titles(app: Sphinx) -> dict[str, str]:
    """prf label -> "Definition (Entropy)", from the chapters' sources."""
    cached = getattr(app, "_lossbook_proofs", None)
    if cached is not None:
        return cached
    titles: dict[str, str] = {}
    for path in sorted(Path(app.srcdir, "book").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for kind, title, label in _PROOF.findall("".join(cell["source"])):
                name = kind.capitalize()
                titles[label] = f"{name} ({title})" if title else name
    app._lossbook_proofs = titles  # type: ignore[attr-defined]
    return titles


def write_readable_notebooks(app: Sphinx) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from tools.readable_notebooks import readable
    finally:
        sys.path.remove(str(ROOT))
    outdir = Path(app.outdir)
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix != ".ipynb":
            continue
        notebook = json.loads(source.read_text(encoding="utf-8"))
        converted = readable(notebook, _resolver(app, docname))
        text = json.dumps(converted, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        target = outdir / "_sources" / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


_ARTICLE = re.compile(r'(<article class="bd-article"[^>]*>)(.*?)(</article>)', re.DOTALL)


def write_print_page(app: Sphinx) -> None:
    """book/print.html: every page of the table of contents, in order, in one page."""
    env, outdir = app.env, Path(app.outdir)
    order: list[str] = []

    def walk(docname: str) -> None:
        if docname in order:
            return
        order.append(docname)
        for child in env.toctree_includes.get(docname, []):
            walk(child)

    walk(app.config.root_doc)
    pages = [doc for doc in order if (outdir / f"{doc}.html").is_file()]
    if not pages or any(posixpath.dirname(doc) != "book" for doc in pages):
        logger.warning(
            "print page not written: the pages are not all in book/",
            type="lossbook",
            subtype="print",
        )
        return
    included = {posixpath.basename(doc) for doc in pages}
    parts = _parts(app)
    articles = []
    for doc in pages:
        html = (outdir / f"{doc}.html").read_text(encoding="utf-8")
        match = _ARTICLE.search(html)
        if match is None:
            continue
        body = match.group(2)
        # Links between included pages become links within the print page.
        body = re.sub(
            r'href="([\w.-]+)\.html(#[^"]*)?"',
            lambda m: (
                f'href="{m.group(2) or "#page-" + m.group(1)}"'
                if m.group(1) in included
                else m.group(0)
            ),
            body,
        )
        name = posixpath.basename(doc)
        # Headings one level down inside a part (Part > Chapter > Section), for the PDF's
        # bookmarks and tags, which Chromium takes from the accessibility tree's levels.
        shift = 1 if doc in parts else 0
        body = re.sub(
            r"<h([1-6])(?=[\s>])",
            lambda m, shift=shift: f'<h{m.group(1)} aria-level="{min(int(m.group(1)) + shift, 6)}"',
            body,
        )
        part = parts.get(doc)
        heading = (
            f'<h1 class="lossbook-print-part">{html_escape(part)}</h1>'
            if part and next(d for d in pages if parts.get(d) == part) == doc
            else ""
        )
        articles.append(
            f'<section class="lossbook-print-chapter" id="page-{name}">{heading}{body}</section>'
        )
    template = (outdir / f"{pages[0]}.html").read_text(encoding="utf-8")
    match = _ARTICLE.search(template)
    assert match is not None
    page = template[: match.start(2)] + "\n".join(articles) + template[match.end(2) :]
    page = re.sub(r'<html lang="([^"]*)"', r'<html lang="\1" class="lossbook-print"', page, count=1)
    # The print-only contents of the template list one page's sections: list the book's,
    # by part, with a page number that tools/print_pdf.py fills in after a first printing
    # (the placeholder keeps the same width, so the numbers do not move the pages).
    entries, current = [], None
    for doc in pages:
        part = parts.get(doc)
        if part != current and part is not None:
            entries.append(f'<li class="lossbook-toc-part">{html_escape(part)}</li>')
        current = part
        number = env.toc_secnumbers.get(doc, {}).get("")
        prefix = ".".join(map(str, number)) + ". " if number else ""
        title = env.titles[doc].astext() if doc in env.titles else doc
        name = posixpath.basename(doc)
        entries.append(
            f'<li class="toc-h2 nav-item toc-entry"><a class="reference internal nav-link" '
            f'href="#page-{name}"><span class="lossbook-toc-title">{html_escape(prefix + title)}'
            f'</span><span class="lossbook-toc-page" data-target="page-{name}">000</span></a></li>'
        )
    toc = (
        '<nav aria-label="Book" class="lossbook-print-toc"><ul class="nav section-nav flex-column">'
    )
    toc += "".join(entries) + "</ul></nav>"
    start = page.find('<div id="jb-print-toc">')
    if start != -1:
        nav_start = page.find('<nav aria-label="Page">', start)
        nav_end = page.find("</nav>", nav_start)
        if nav_start != -1 and nav_end != -1:
            page = page[:nav_start] + toc + page[nav_end + len("</nav>") :]
    # The template's print-only title repeats the first page's heading: in the PDF it is the
    # title page, a top-level bookmark like "Contents" (an h2 of the template).
    page = page.replace(
        '<div id="jb-print-docs-body" class="onlyprint">\n    <h1>',
        '<div id="jb-print-docs-body" class="onlyprint">\n    <h1 class="lossbook-print-title">',
        1,
    )
    page = page.replace("<h2> Contents </h2>", '<h2 aria-level="1">Contents</h2>', 1)
    (outdir / PRINT_PAGE).write_text(page, encoding="utf-8")


def _parts(app: Sphinx) -> dict[str, str]:
    """docname -> caption of the part (a captioned toctree of the root page) it is in."""
    from sphinx import addnodes

    found: dict[str, str] = {}
    for toctree in app.env.get_doctree(app.config.root_doc).findall(addnodes.toctree):
        caption = toctree.get("caption")
        if caption:
            for _title, doc in toctree.get("entries", []):
                found.setdefault(doc, caption)
    return found


_SEARCH_SCRIPTS = re.compile(
    r'\s*<script src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js)"'
    r"></script>"
)


def drop_idle_search_scripts(app: Sphinx, outdir: Path) -> None:
    """pydata-sphinx-theme loads Sphinx's search code and the whole index (110 kB, three
    requests) on every page for search-as-you-type; with that option off (its default, and
    ours) the search box only opens search.html, so the other pages do not need them."""
    if (app.config.html_theme_options or {}).get("search_as_you_type"):
        return
    for path in outdir.rglob("*.html"):
        if path.name == "search.html" or path.parts[len(outdir.parts)] in {"_static", "_sources"}:
            continue
        text = path.read_text(encoding="utf-8")
        stripped = _SEARCH_SCRIPTS.sub("", text)
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")


def finish(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    trim_mathjax(outdir)
    drop_source_maps(outdir)
    write_readable_notebooks(app)
    if app.builder.name == "html":
        write_print_page(app)
        drop_idle_search_scripts(app, outdir)


def setup(app: Sphinx) -> dict[str, Any]:
    # Where the readable notebooks are committed (tools/readable_notebooks.py).
    app.add_config_value("lossbook_notebooks_dir", "notebooks", "html")
    app.connect("config-inited", configure)
    app.add_node(chinese, html=(visit_chinese, depart_chinese))
    app.connect("doctree-resolved", mark_chinese)
    app.connect("doctree-resolved", link_pdf)
    app.connect("doctree-resolved", sort_bibliography)
    app.connect("html-page-context", point_launch_buttons, priority=900)
    app.connect("html-page-context", fix_aria)
    app.connect("build-finished", finish, priority=900)
    app.add_css_file("lossbook-site.css")
    app.add_js_file("lossbook-site.js")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
