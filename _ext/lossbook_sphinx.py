"""Sphinx glue for the book (loaded through ``sphinx.local_extensions`` in
``_config.yml``). Five small jobs, none of which needs the network:

1. **Local references in docstrings.** NumPy-style docstrings number their
   references ``[1]_`` and ``.. [1]``. The API page holds every function, so the
   footnote labels would clash ("Duplicate explicit target name: 1"), and MyST
   does not resolve reST footnotes inside ``eval-rst`` anyway. Each docstring's
   ``[1]`` becomes a same-page link to a paragraph with an id named after the
   function, so every function keeps its own [1].
2. **Offline external references.** Intersphinx cannot download the NumPy,
   SciPy or Python inventories at build time, so the few such names that appear
   in docstrings and type hints (``numpy.ndarray``, ``numpy.typing.ArrayLike``,
   ``scipy.special.expit``, ``callable``...) are resolved here to plain links into
   their documentation. Anything else that does not resolve still warns in
   nitpicky mode.
3. **Completeness.** Every name in ``lossbook.__all__`` must be documented in the
   book; a missing one is a warning, which fails the ``-W`` build.
4. **No dormant Thebe.** With Thebe disabled, sphinx-thebe's scripts (which name
   a CDN) are not added to the pages.
5. **Author-year bibliography.** Citations read "Lin et al., 2017"
   (``bibtex_reference_style = author_year``); the pybtex style ``lossbook``
   labels and sorts the bibliography the same way, instead of "[LGG+17]".
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
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

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
            out.append(_FOOTNOTE_REFERENCE.sub(
                lambda m: f"`[{m.group(1)}] <#{_ref_id(prefix, m.group(1))}>`__", lines[index]
            ))
            index += 1
            continue
        indent, label, first = match.group(1), match.group(2), match.group(3) or ""
        body = [first.strip()] if first.strip() else []
        index += 1
        while index < len(lines) and lines[index].strip() and (
            len(lines[index]) - len(lines[index].lstrip()) > len(indent)
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


_NUMPY = "https://numpy.org/doc/stable/reference/"
_SCIPY = "https://docs.scipy.org/doc/scipy/reference/generated/"
_EXTERNAL = {
    "numpy.ndarray": _NUMPY + "generated/numpy.ndarray.html",
    "numpy.dtype": _NUMPY + "generated/numpy.dtype.html",
    "numpy.generic": _NUMPY + "arrays.scalars.html",
    "numpy.floating": _NUMPY + "arrays.scalars.html#numpy.floating",
    "numpy.float16": _NUMPY + "arrays.scalars.html#numpy.float16",
    "numpy.float32": _NUMPY + "arrays.scalars.html#numpy.float32",
    "numpy.float64": _NUMPY + "arrays.scalars.html#numpy.float64",
    "numpy.typing.ArrayLike": _NUMPY + "typing.html#numpy.typing.ArrayLike",
    "numpy.typing.NDArray": _NUMPY + "typing.html#numpy.typing.NDArray",
    "callable": "https://docs.python.org/3/library/functions.html#callable",
}
# SciPy functions named in "See Also" sections each have a generated page.
_SCIPY_NAME = re.compile(r"^scipy\.(special|stats)\.[a-z_][a-z0-9_]*$")


def resolve_external(
    app: Sphinx, env: BuildEnvironment, node: nodes.Element, contnode: nodes.Element
) -> nodes.reference | None:
    """Turn a known NumPy/SciPy/Python cross-reference into a link to its docs."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    target = {"np.ndarray": "numpy.ndarray"}.get(target, target)
    if target in _EXTERNAL:
        uri = _EXTERNAL[target]
    elif _SCIPY_NAME.match(target):
        uri = f"{_SCIPY}{target}.html"
    else:
        return None
    reference = nodes.reference("", "", internal=False, refuri=uri, reftitle=target)
    reference += contnode
    return reference


API_DOCNAME = "book/api"


def check_api_complete(app: Sphinx, env: BuildEnvironment) -> None:
    """Warn for every public lossbook name that the API page does not document.

    Skipped when the API page is not part of the build (a chapter author's
    private table of contents), so that only the full book enforces it.
    """
    import lossbook

    if API_DOCNAME not in env.all_docs:
        return
    documented = set(env.get_domain("py").objects)  # type: ignore[attr-defined]
    for name in lossbook.__all__:
        if f"lossbook.{name}" not in documented:
            logger.warning(
                "lossbook.%s is in lossbook.__all__ but not documented: add it to book/api.md",
                name,
                type="lossbook",
                subtype="api",
            )


def drop_disabled_thebe(app: Sphinx, config: Any) -> None:
    """Unhook sphinx-thebe when launch_buttons.thebe is off (as here).

    Jupyter Book always loads sphinx-thebe, which then puts a script naming
    Thebe's CDN address, sphinx-thebe.js and a Binder kernel config on every
    page even though no Thebe button exists. None of it is used, so none of it is
    written: the site stays free of third-party addresses except plain links.
    """
    launch_buttons = (config.html_theme_options or {}).get("launch_buttons", {})
    if launch_buttons.get("thebe") or "sphinx_thebe" not in config.extensions:
        return
    for listeners in app.events.listeners.values():
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "") == "sphinx_thebe":
                app.disconnect(listener.id)
    app.registry.css_files = [
        entry for entry in app.registry.css_files if entry[0] != "sphinx-thebe.css"
    ]


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
    app.connect("config-inited", drop_disabled_thebe)
    app.connect("doctree-read", mark_reference_links_internal)
    app.connect("missing-reference", resolve_external)
    app.connect("env-check-consistency", check_api_complete)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
