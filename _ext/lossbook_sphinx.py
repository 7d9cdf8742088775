"""Sphinx glue for the book (loaded through ``sphinx.local_extensions`` in
``_config.yml``): only what no maintained extension does.

1. **Local references in docstrings.** NumPy-style docstrings number their
   references ``[1]_`` and ``.. [1]``. The API page holds every function, so the
   footnote labels would clash ("Duplicate explicit target name: 1"), and MyST
   does not resolve reST footnotes inside ``eval-rst`` anyway. Each docstring's
   ``[1]`` becomes a same-page link to a paragraph with an id named after the
   function, so every function keeps its own [1].

   numpydoc (1.11) was tried for this and does not do the job here: it renames
   each docstring's ``[1]`` to a citation ``[R<hash>-1]`` and relabels the
   citation list "[1]", but inside MyST's ``eval-rst`` the references in the text
   still read "[R22bdff32e275-1]" (checked with myst-parser 3 and Sphinx 7.4 on
   ``sigmoid_focal_loss``). It would also replace napoleon wholesale, and with
   it the type-alias and cross-reference set-up in ``_config.yml`` that the
   nitpicky build relies on.
2. **No dormant Thebe.** With Thebe off, sphinx-thebe's scripts (which name a
   CDN and raise a JavaScript error) and its per-page configuration are left off
   the pages.
3. **Author-year bibliography.** Citations read "Lin et al., 2017"
   (``bibtex_reference_style = author_year``); the pybtex style ``lossbook``
   labels and sorts the bibliography the same way, instead of "[LGG+17]".

What used to live here has moved to maintained tools: links to NumPy, SciPy and
Python go through ``sphinx.ext.intersphinx`` with the committed inventories in
``_ext/inventories/`` (``tools/make_inventories.py``), and the check that every
name in ``lossbook.__all__`` is on the API page is ``tests/test_api_page.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx

_FOOTNOTE_REFERENCE = re.compile(r"\[([A-Za-z0-9][\w.-]*)\]_")
_FOOTNOTE_TARGET = re.compile(r"^(\s*)\.\. \[([A-Za-z0-9][\w.-]*)\](?:\s+(.*))?$")


def _ref_id(prefix: str, label: str) -> str:
    """The HTML id of reference `label` in the docstring of `prefix`."""
    return nodes.make_id(f"{prefix}-ref-{label}")


def localise_footnotes(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Make one docstring's ``[1]_`` / ``.. [1]`` references local to it.

    The reference becomes a link ``[1]`` to ``#lossbook-entropy-ref-1`` and the
    definition a paragraph ``[1] ...`` with that id, so every function on the
    page has its own [1], the links work, and nothing clashes. (MyST does not
    resolve reST footnotes or labels inside ``eval-rst``, so neither is an option.)
    """
    prefix = name.replace(".", "-")
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _FOOTNOTE_TARGET.match(lines[index])
        if match is None:
            out.append(
                _FOOTNOTE_REFERENCE.sub(
                    lambda m: f"`[{m.group(1)}] <#{_ref_id(prefix, m.group(1))}>`__", lines[index]
                )
            )
            index += 1
            continue
        indent, label, first = match.group(1), match.group(2), match.group(3) or ""
        body = [first.strip()] if first.strip() else []
        index += 1
        while (
            index < len(lines)
            and lines[index].strip()
            and (len(lines[index]) - len(lines[index].lstrip()) > len(indent))
        ):
            body.append(lines[index].strip())
            index += 1
        paragraph = f"{indent}[{label}] " + " ".join(body)
        out += [f"{indent}.. _{_ref_id(prefix, label)}:", "", paragraph, ""]
    lines[:] = out


def mark_reference_links_internal(app: Sphinx, doctree: nodes.document) -> None:
    """Render the links made by `localise_footnotes` as same-page links."""
    for reference in doctree.findall(nodes.reference):
        uri = reference.get("refuri", "")
        if uri.startswith("#") and "-ref-" in uri:
            del reference["refuri"]
            reference["refid"] = uri[1:]
            reference["internal"] = True


def drop_disabled_thebe(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Leave sphinx-thebe's scripts and stylesheet off the pages while Thebe is off.

    Jupyter Book always loads sphinx-thebe, which puts an inline script naming
    Thebe's CDN address, ``sphinx-thebe.js`` and ``sphinx-thebe.css`` on every
    page although no Thebe button exists. Without this the browser test fails:
    the inline script is added twice, so every page logs the JavaScript error
    "Identifier 'THEBE_JS_URL' has already been declared". The assets are taken
    out of the page context (``html-page-context`` is Sphinx's public way to
    change what a page renders), not out of Sphinx's private registries.
    """
    launch_buttons = (app.config.html_theme_options or {}).get("launch_buttons", {})
    if launch_buttons.get("thebe"):
        return

    def is_thebe(asset: Any) -> bool:
        body = getattr(asset, "attributes", {}).get("body", "")
        return "thebe" in str(getattr(asset, "filename", asset) or "") or "THEBE_JS_URL" in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not is_thebe(asset)]


def drop_thebe_page_config(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Remove the per-page Thebe configuration that sphinx-thebe appends while Thebe is off.

    It is a ``<script type="text/x-thebe-config">`` naming a placeholder Binder
    repository, and a ``<script>kernelName = ...</script>``; nothing reads them
    without Thebe. Runs after sphinx-thebe's own ``doctree-resolved`` handler.
    """
    launch_buttons = (app.config.html_theme_options or {}).get("launch_buttons", {})
    if launch_buttons.get("thebe"):
        return
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if "x-thebe-config" in text or text.startswith("<script>kernelName ="):
            raw.parent.remove(raw)


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels like the author_year citations: "Shannon, 1948", "Cover and Thomas,
    2006", "Lin et al., 2017"; a letter is appended when two would coincide."""

    def format_labels(self, sorted_entries: Any) -> Iterator[str]:
        labels = [self.format_label(entry) for entry in sorted_entries]
        counts, seen = Counter(labels), Counter[str]()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label

    @staticmethod
    def format_label(entry: Any) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [
            Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")
            for person in people
        ]
        if not names:
            names = [entry.fields.get("organization", entry.key)]
        if len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(UnsrtStyle):
    """pybtex's unsrt entries, labelled author-year and sorted by author, year, title."""

    default_label_style = "lossbook_author_year"
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "lossbook_author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "lossbook", AuthorYearStyle)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.napoleon")
    # After napoleon (priority 500) has turned the NumPy sections into reST.
    app.connect("autodoc-process-docstring", localise_footnotes, priority=600)
    app.connect("doctree-read", mark_reference_links_internal)
    app.connect("html-page-context", drop_disabled_thebe)
    app.connect("doctree-resolved", drop_thebe_page_config, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
