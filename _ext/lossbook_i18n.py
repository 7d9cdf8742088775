"""The Chinese edition (issue 23): one source, two languages, through Sphinx's gettext.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``. The English edition is the
ordinary build (``_build/html``); the Chinese edition is the same sources built with
``language = "zh_CN"`` into ``_build/html/zh`` (``tools/translations.py build``, run by
``python3 tasks.py book``). The prose comes from ``locales/zh_CN/LC_MESSAGES/**/*.po``;
code, outputs, figures and glued numbers are the committed notebooks', so both editions
show the same numbers.

1. **Glue keys in translated text.** MyST-NB resolves ``{glue:text}`key` `` from the
   notebook being parsed, but Sphinx parses a translated message as a separate little
   document without the notebook, so the role renders nothing (and fails ``-W``). The
   form ``{glue:text}`NN_chapter.ipynb::key` `` is resolved later from the build
   environment and works. The committed catalogs keep the English form (so a test can
   compare the glue keys of every message with its translation); at build time they are
   copied to ``_build/.locales`` with every bare key qualified by its notebook, and
   ``locale_dirs`` points there.
2. **Language of the page.** ``<html lang="zh-Hans">`` on the Chinese edition (Sphinx
   would write the locale name ``zh_CN``, which is not a BCP 47 tag), and
   ``<link rel="alternate" hreflang>`` to the other edition in every page's head.
3. **Language switch.** Every page's header links to the same page in the other edition
   (``_ext/i18n_templates/lossbook-language-switch.html``).
4. **Outputs are not messages.** Text that a code cell prints (a Markdown table of results)
   is marked untranslatable before extraction, so computed numbers never enter a catalog.
5. **Chinese chrome.** The landing page's PDF link and a note on the figures (their labels
   are the English edition's images) in Chinese.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEMPLATES = HERE / "i18n_templates"
LOCALES = "locales"
BUILD_LOCALES = "_build/.locales"
SWITCH_TEMPLATE = "lossbook-language-switch.html"

# language (Sphinx's config value) -> (folder of that edition in the site, BCP 47 tag, name)
EDITIONS = {
    "en": ("", "en", "English"),
    "zh_CN": ("zh", "zh-Hans", "中文"),
}

# {glue}`key`, {glue:any}`key`, {glue:text}`key:.4f` without a "doc::" part. ({glue:md} has
# no "doc::" form: a message with one is left identical to the English, which Sphinx then
# does not re-parse; tests/test_translations.py checks that.)
GLUE_ROLE = re.compile(r"\{(glue(?::any|:text)?)\}`(?![^`]*::)([^`]+)`")


def edition(language: str | None) -> str:
    return language if language in EDITIONS else "en"


def qualify_glue(text: str, notebook: str) -> str:
    """``{glue:text}`key` `` -> ``{glue:text}`notebook::key` `` (keys already qualified stay).

    ``{glue:text}`` splits its content at the last colon for the format, so a qualified key
    without a format would lose its name: it gets ``:s``, the role's default format."""

    def qualified(match: re.Match[str]) -> str:
        role, content = match.groups()
        if role == "glue:text" and ":" not in content:
            content += ":s"
        return f"{{{role}}}`{notebook}::{content}`"

    return GLUE_ROLE.sub(qualified, text)


def rewrite_catalog(source: Path, target: Path, notebook: str) -> None:
    """Copy one .po file, qualifying the glue keys of its translations (msgstr only)."""
    from babel.messages.pofile import read_po, write_po

    with source.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        # A translation identical to the English is not re-parsed by Sphinx: leave it so.
        if message.id and isinstance(message.string, str) and message.string != message.id:
            message.string = qualify_glue(message.string, notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, catalog, width=0)


def prepare_catalogs(srcdir: Path, language: str) -> Path:
    """Write the build's copy of the catalogs of `language`; return its locale directory."""
    source = srcdir / LOCALES / language / "LC_MESSAGES"
    built = srcdir / BUILD_LOCALES
    target = built / language / "LC_MESSAGES"
    for po in sorted(source.rglob("*.po")):
        relative = po.relative_to(source)
        notebook = relative.with_suffix(".ipynb").name
        copy = target / relative
        newest = max(po.stat().st_mtime, Path(__file__).stat().st_mtime)
        if copy.is_file() and copy.stat().st_mtime >= newest:
            continue  # unchanged since the last build (Sphinx recompiles the .mo by mtime)
        rewrite_catalog(po, copy, notebook)
    return built


def configure(app: Sphinx, config: Any) -> None:
    config.templates_path = [str(TEMPLATES), *config.templates_path]
    options = dict(config.html_theme_options or {})
    end = options.get("article_header_end") or ["article-header-buttons.html"]
    if isinstance(end, str):
        end = [item.strip() for item in end.split(",") if item.strip()]
    if SWITCH_TEMPLATE not in end:
        end = [*end, SWITCH_TEMPLATE]
    options["article_header_end"] = end
    config.html_theme_options = options
    if edition(config.language) != "en":
        built = prepare_catalogs(Path(app.srcdir), config.language)
        config.locale_dirs = [str(built)]


def other_edition(language: str | None) -> tuple[str, str, str]:
    own = edition(language)
    return EDITIONS["zh_CN" if own == "en" else "en"]


def edition_href(pagename: str, language: str | None) -> str:
    """Relative URL of the same page in the other edition."""
    own_folder = EDITIONS[edition(language)][0]
    other_folder = other_edition(language)[0]
    depth = pagename.count("/") + (1 if own_folder else 0)
    site_root = "../" * depth
    return site_root + posixpath.join(other_folder, pagename + ".html").lstrip("/")


def page_context(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    own = EDITIONS[edition(app.config.language)]
    other = other_edition(app.config.language)
    href = edition_href(pagename, app.config.language)
    # pydata-sphinx-theme writes <html lang="{{ language }}">.
    context["language"] = own[1]
    context["lossbook_edition"] = {"href": href, "lang": other[1], "name": other[2]}
    alternate = f'<link rel="alternate" hreflang="{other[1]}" href="{href}" />'
    context["metatags"] = context.get("metatags", "") + "\n" + alternate


PDF_LINK_ZH = (
    "整本书也是一个 PDF 文件：",
    "下载 lossbook.pdf",
    "（与网站一同构建，便于离线阅读或打印）。",
)
FIGURE_NOTE_ZH = (
    "中文版与英文版共用同一套笔记本：代码、输出、图和正文中的数字完全相同，"
    "因此图中的坐标轴标签和图例仍是英文；图题和正文已译成中文。"
)


def localize_landing_page(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """The landing page's PDF link (added by lossbook_site) and a note on figures, in Chinese."""
    if app.builder.format != "html" or edition(app.config.language) == "en":
        return
    if docname != app.config.root_doc:
        return
    for paragraph in list(doctree.findall(nodes.paragraph)):
        if "lossbook-pdf-link" not in paragraph.get("classes", []):
            continue
        reference = paragraph.next_node(nodes.reference)
        if reference is None:
            continue
        reference.children = [nodes.Text(PDF_LINK_ZH[1])]
        paragraph.children = [nodes.Text(PDF_LINK_ZH[0]), reference, nodes.Text(PDF_LINK_ZH[2])]
        note = nodes.note("", nodes.paragraph("", FIGURE_NOTE_ZH), classes=["lossbook-figure-note"])
        parent = paragraph.parent
        parent.insert(parent.index(paragraph) + 1, note)
        break


class KeepOutputsUntranslated(SphinxTransform):
    """Text printed by a code cell (a Markdown table from ``display(Markdown(...))``, say) is
    a computed output, shared by both editions: not a message to translate. Figure captions
    inside outputs (from the cell's ``mystnb.figure`` metadata) stay translatable."""

    default_priority = 10  # before sphinx.transforms.i18n.Locale (20) and the extraction

    def apply(self, **kwargs: Any) -> None:
        for container in self.document.findall(nodes.container):
            if "cell_output" not in container.get("classes", []):
                continue
            for node in container.findall(nodes.TextElement):
                if not any(isinstance(a, nodes.caption) for a in _lineage(node, container)):
                    node["translatable"] = False


def _lineage(node: nodes.Node, stop: nodes.Node) -> list[nodes.Node]:
    found = [node]
    while node is not stop and node.parent is not None:
        node = node.parent
        found.append(node)
    return found


class _Terms(set[str]):
    """A set with the ``extend`` of the list it replaces."""

    def extend(self, terms: list[str]) -> None:
        self.update(terms)


def fast_chinese_search_index(app: Sphinx) -> None:
    """Sphinx 7.4's Chinese search indexer keeps every Latin word it has seen in a list (a
    class attribute that only grows) and tests membership in it for each word it stems:
    quadratic, about 15 of the Chinese build's CPU seconds. A set gives the same index."""
    if edition(app.config.language) == "en":
        return
    from sphinx.search import zh

    if isinstance(zh.SearchChinese.latin_terms, list):
        zh.SearchChinese.latin_terms = _Terms(zh.SearchChinese.latin_terms)  # type: ignore[assignment]


def detach_message_documents(app: Sphinx, doctree: nodes.document) -> None:
    """Point translated nodes at the page's document instead of the scratch document of
    their message.

    Sphinx parses each translated message as a little document of its own and moves its
    nodes into the page; they keep a reference to that scratch document, whose settings hold
    the whole build environment, so every page's pickled doctree carried a copy of it
    (3.7 MB each instead of 0.3 MB). Unpickling those copies was most of the Chinese
    build's time (28 of its 77 CPU seconds, measured with cProfile).
    """
    for node in doctree.findall():
        if vars(node).get("_document") not in (None, doctree):
            node.document = doctree


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_transform(KeepOutputsUntranslated)
    app.connect("doctree-read", detach_message_documents)
    app.connect("builder-inited", fast_chinese_search_index)
    app.connect("config-inited", configure)
    # Before pydata-sphinx-theme drops header templates that render empty (priority 500).
    app.connect("html-page-context", page_context, priority=400)
    # After lossbook_site's link_pdf (default priority 500).
    app.connect("doctree-resolved", localize_landing_page, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
