"""The Chinese edition's catalogs and build (issue 23).

    python -m tools.translations update   # extract the English messages, merge them into
                                          # locales/zh_CN/LC_MESSAGES/**/*.po, print counts
    python -m tools.translations status   # per-file counts of untranslated and fuzzy messages
    python -m tools.translations build    # the Chinese edition into _build/html/zh

(``python3 tasks.py translations`` runs ``update``; ``python3 tasks.py book`` runs
``build`` after the English build.)

``update`` is Sphinx's gettext route: ``sphinx-build -b gettext`` (through Jupyter Book's
configuration, as ``jupyter-book build`` does) writes one ``.pot`` per page into
``_build/gettext``; ``sphinx-intl update`` merges each into its ``.po``: unchanged
messages keep their translation, a changed paragraph comes back *fuzzy* with the old
translation as a starting point, a new one comes back empty (a message with no prose in
it, such as a math block or a table cell of numbers, is copied as it is). Fuzzy and empty messages
show in English in the Chinese edition, and ``tests/test_translations.py`` fails until
they are translated.

Two things are left out of the catalogs on purpose:

* the API reference's docstrings (``book/api.md`` pulls them in with autodoc): they are
  the package's own documentation, which ``help()`` shows in English and which changes
  with the code; the Chinese edition shows them in English (the page's own text is
  translated);
* source locations (``#: file:line``): a notebook's line numbers change whenever a cell is
  added above, which would touch every message of a page in every diff.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
LOCALE_DIR = ROOT / "locales"
CATALOGS = LOCALE_DIR / LANGUAGE / "LC_MESSAGES"
GETTEXT = ROOT / "_build" / "gettext"
SITE = ROOT / "_build" / "html"
# The Chinese edition's folder inside the site: every page links to its counterpart by a
# relative URL, so the two editions are published together (…/book/x.html and …/zh/book/x.html).
ZH_SITE = SITE / "zh"
ZH_BUILD = ROOT / "_build" / "zh"
DOCSTRING = "docstring of "


def _build(builder: str, outdir: Path, doctrees: Path, overrides: dict[str, Any]) -> int:
    """What ``jupyter-book build . -W -n --keep-going [--builder ...]`` does, with overrides."""
    from jupyter_book.sphinx import build_sphinx  # type: ignore[import-untyped]

    result = build_sphinx(
        ROOT,
        outdir,
        noconfig=True,
        path_config=str(ROOT / "_config.yml"),
        confoverrides={
            "external_toc_path": (ROOT / "_toc.yml").as_posix(),
            "latex_individualpages": False,
            "nitpicky": True,
            **overrides,
        },
        builder=builder,
        doctreedir=doctrees,
        warningiserror=True,
        keep_going=True,
    )
    if isinstance(result, Exception):
        raise result
    return int(result)


def extract() -> None:
    """English messages -> _build/gettext/**/*.pot (docstrings and locations dropped)."""
    from babel.messages.pofile import read_po, write_po

    status = _build(
        "gettext", GETTEXT, ROOT / "_build" / ".doctrees-gettext", {"gettext_location": True}
    )
    if status:
        sys.exit(f"the gettext build failed ({status})")
    for pot in sorted(GETTEXT.rglob("*.pot")):
        docstrings = _docstring_messages(pot.read_text(encoding="utf-8"))
        with pot.open("rb") as handle:
            catalog = read_po(handle)
        for message in list(catalog):
            if message.id in docstrings:
                del catalog[message.id]
            else:
                message.locations = []
        with pot.open("wb") as handle:
            write_po(handle, catalog, width=0, omit_header=False)


def _docstring_messages(text: str) -> set[str]:
    """The msgids of a .pot whose every location is a docstring (``path:docstring of x``).

    Read from the text: babel splits location comments at spaces, which breaks these."""
    from babel.messages.pofile import denormalize

    found = set()
    for entry in text.split("\n\n"):
        lines = entry.strip().splitlines()
        where = [line for line in lines if line.startswith("#:")]
        start = next((i for i, line in enumerate(lines) if line.startswith("msgid ")), None)
        if not where or start is None or not all(DOCSTRING in line for line in where):
            continue
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith('"')), None)
        quoted = [lines[start][len("msgid ") :], *lines[start + 1 : end]]
        found.add(denormalize("\n".join(quoted)))
    return found


def update() -> None:
    """Extract, then merge into the .po files (sphinx-intl update), then print the counts."""
    extract()
    subprocess.run(
        [
            Path(sys.executable).parent / "sphinx-intl",
            "update",
            "--pot-dir",
            GETTEXT,
            "--locale-dir",
            LOCALE_DIR,
            "--language",
            LANGUAGE,
            "--line-width",
            "-1",
            "--jobs",
            "1",
            # A changed paragraph comes back fuzzy with its old translation; a deleted one
            # is dropped rather than kept as an obsolete "#~" entry.
            "--no-obsolete",
        ],
        cwd=ROOT,
        check=True,
    )
    print(f"{prefill()} messages without prose (math, references, numbers) copied as they are")
    status()


_MARKUP = re.compile(
    r"\$\$.*?\$\$|\$[^$]*\$|\{[a-z:]+\}`[^`]*`|:[a-z:]+:`[^`]*`|``.*?``|`[^`]*`", re.DOTALL
)


# Numbers as tables print them (2.6e-04, inf) and NumPy dtype names.
_NUMBERS = re.compile(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)\b|\b(?:float|int)(?:16|32|64)\b")


def needs_no_translation(msgid: str) -> bool:
    """A message without prose: a math block, or only math, roles, code and numbers."""
    if msgid.startswith(("\n", "\\displaystyle")):
        return True
    return not re.search(r"[^\W\d_]", _NUMBERS.sub("", _MARKUP.sub("", msgid)))


def prefill() -> int:
    """Copy every message without prose (math, references, numbers) to its translation."""
    from babel.messages.pofile import read_po, write_po

    copied = 0
    for po in sorted(CATALOGS.rglob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle)
        changed = False
        for message in catalog:
            if not message.id or not isinstance(message.id, str):
                continue
            if (not message.string or message.fuzzy) and needs_no_translation(message.id):
                message.string = message.id
                message.flags.discard("fuzzy")
                changed = True
                copied += 1
        if changed:
            with po.open("wb") as handle:
                write_po(handle, catalog, width=0)
    return copied


def counts() -> dict[str, tuple[int, int, int]]:
    """catalog (relative path) -> (messages, untranslated, fuzzy); obsolete ones not counted."""
    from babel.messages.pofile import read_po

    found = {}
    for po in sorted(CATALOGS.rglob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle)
        messages = [m for m in catalog if m.id]
        untranslated = sum(not m.string for m in messages)
        fuzzy = sum(bool(m.string) and m.fuzzy for m in messages)
        found[po.relative_to(CATALOGS).as_posix()] = (len(messages), untranslated, fuzzy)
    return found


def status() -> int:
    """Print per-file counts; return the number of messages still to translate."""
    table = counts()
    width = max((len(name) for name in table), default=10)
    print(f"{'catalog':<{width}}  messages  translated  untranslated  fuzzy")
    total = [0, 0, 0]
    for name, (messages, untranslated, fuzzy) in table.items():
        done = messages - untranslated - fuzzy
        print(f"{name:<{width}}  {messages:8}  {done:10}  {untranslated:12}  {fuzzy:5}")
        total = [total[0] + messages, total[1] + untranslated, total[2] + fuzzy]
    done = total[0] - total[1] - total[2]
    print(f"{'total':<{width}}  {total[0]:8}  {done:10}  {total[1]:12}  {total[2]:5}")
    return total[1] + total[2]


def _static_templates(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name.endswith(".html")} if "_static" in folder else set()


def build() -> None:
    """The Chinese edition: the same sources with language zh_CN, into _build/html/zh."""
    import os

    # The figures are the committed outputs (not re-rendered); the variable is for
    # anything that runs under this build and wants to know the edition.
    os.environ["LOSSBOOK_LANGUAGE"] = LANGUAGE
    started = time.perf_counter()
    # Built in a folder of its own (myst-nb writes the outputs' images beside the output
    # folder, <outdir>/../jupyter_execute, which would land inside the English site), then
    # copied into the site.
    status = _build("html", ZH_BUILD / "html", ZH_BUILD / ".doctrees", {"language": LANGUAGE})
    if status:
        sys.exit(f"the Chinese edition's build failed ({status})")
    shutil.rmtree(ZH_SITE, ignore_errors=True)
    # Not the theme's Jinja macro files that Sphinx copies into _static (no page loads them):
    # inside the site they would be taken for pages of the Chinese edition.
    shutil.copytree(ZH_BUILD / "html", ZH_SITE, ignore=_static_templates)
    # One set of notebooks (English code and text, as Colab and Binder open them from
    # notebooks/): the download button of a Chinese page gives the same readable copy.
    english_sources = ZH_SITE.parent / "_sources" / "book"
    for notebook in english_sources.glob("*.ipynb"):
        shutil.copyfile(notebook, ZH_SITE / "_sources" / "book" / notebook.name)
    seconds = time.perf_counter() - started
    print(f"The Chinese edition is in {ZH_SITE / 'index.html'} ({seconds:.0f} s)")


def main(argv: list[str]) -> int:
    commands = {
        "update": update,
        "status": status,
        "build": build,
        "extract": extract,
        "prefill": prefill,
    }
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
