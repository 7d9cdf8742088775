"""The Chinese edition is complete and in step with the English text (issue 23).

The catalogs are ``locales/zh_CN/LC_MESSAGES/**/*.po`` (``tools/translations.py``). This
fails when

* a message is untranslated or fuzzy (the Chinese page would show it in English);
* the catalogs are not those of the current English text: the messages of the English
  build (``_build/.doctrees``, extracted as ``sphinx-build -b gettext`` does) differ from
  the catalogs' (run ``python3 tasks.py translations``, then translate what it lists);
* a translation loses, adds or changes a token that must pass through unchanged: a glue
  key (``{glue:text}`key:fmt` ``), an equation label (``{eq}``), a cross-reference target
  (``{ref}``, ``{numref}``, ``{doc}``, ``{prf:ref}``), a citation key (``{cite}``,
  ``{cite:p}``, ``{cite:t}``), inline math (``$...$``), or a term (``{term}``).

For ``{term}`` the *target* may be the English name or the Chinese name the glossary
gives for the same entry (``{term}`交叉熵 <cross-entropy>` `` and ``{term}`交叉熵` ``
are both a translation of ``{term}`cross-entropy` ``): terms are compared as glossary
entries, not as strings. Everything else is compared as written (a multiset per message).
"""

from __future__ import annotations

import pickle
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = ROOT / "locales" / "zh_CN" / "LC_MESSAGES"
GLOSSARY = ROOT / "book" / "glossary.md"
DOCTREES = ROOT / "_build" / ".doctrees"
UPDATE = "run `python3 tasks.py translations`, then translate the messages it lists"

ROLE = re.compile(r"\{([a-z]+(?::[a-z]+)?)\}`([^`]*)`")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)((?:\\.|[^$\\])+?)\$(?!\$)")
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
EXPLICIT_TARGET = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.DOTALL)
CROSS_REFERENCES = {"ref", "numref", "doc", "eq", "prf:ref"}


def catalogs() -> list[Path]:
    return sorted(CATALOGS.rglob("*.po"))


def read(path: Path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr, fuzzy) of every current (not obsolete) message."""
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        catalog = read_po(handle)
    return [(m.id, m.string if isinstance(m.string, str) else "", m.fuzzy) for m in catalog if m.id]


def glossary_entries() -> dict[str, str]:
    """Every name a glossary entry is listed under (English and Chinese) -> its first name."""
    names: dict[str, str] = {}
    inside, group = False, []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if line.startswith("```{glossary}"):
            inside = True
            continue
        if inside and line.startswith("```"):
            break
        if not inside or line.startswith(":"):
            continue
        if line and not line[0].isspace():
            group.append(line.strip())
        elif group:
            for name in group:
                names[name.casefold()] = group[0]
            group = []
    assert names, f"no glossary entries found in {GLOSSARY}"
    return names


def target(role: str, content: str) -> str:
    """The target of a role: ``text <target>`` -> target, ``~a.b`` -> a.b, glue key as written."""
    if role.startswith("glue"):
        return content.strip()
    match = EXPLICIT_TARGET.match(content)
    return (match.group(2) if match else content).strip().lstrip("~!")


def tokens(text: str, terms: dict[str, str]) -> Counter[str]:
    """The tokens of a message that its translation must keep."""
    found: Counter[str] = Counter()
    for role, content in ROLE.findall(text):
        if role.startswith("glue"):
            found[f"{{{role}}}{target(role, content)}"] += 1
        elif role.startswith("cite"):
            for key in target(role, content).split(","):
                found[f"{{cite}}{key.strip()}"] += 1
        elif role == "term":
            name = target(role, content)
            found[f"{{term}}{terms.get(name.casefold(), '?' + name)}"] += 1
        elif role in CROSS_REFERENCES:
            found[f"{{{role}}}{target(role, content)}"] += 1
    without_code = re.sub(r"`[^`]*`", "", text)
    for math in DISPLAY_MATH.findall(without_code):
        found["$$" + " ".join(math.split())] += 1
    for math in INLINE_MATH.findall(DISPLAY_MATH.sub("", without_code)):
        found["$" + " ".join(math.split())] += 1
    return found


def test_there_are_catalogs() -> None:
    names = {path.relative_to(CATALOGS).as_posix() for path in catalogs()}
    chapters = {f"book/{p.stem}.po" for p in (ROOT / "book").glob("*.ipynb")}
    pages = {f"book/{p.stem}.po" for p in (ROOT / "book").glob("*.md")}
    missing = sorted((chapters | pages) - names)
    assert missing == [], f"no catalog for {missing}: {UPDATE}"


@pytest.mark.parametrize("path", catalogs(), ids=lambda p: p.relative_to(CATALOGS).as_posix())
def test_every_message_is_translated(path: Path) -> None:
    messages = read(path)
    untranslated = [msgid[:70] for msgid, msgstr, _ in messages if not msgstr]
    fuzzy = [msgid[:70] for msgid, msgstr, is_fuzzy in messages if msgstr and is_fuzzy]
    problem = (
        f"{len(untranslated)} untranslated and {len(fuzzy)} fuzzy of {len(messages)} messages "
        f"(untranslated: {untranslated[:3]}, fuzzy: {fuzzy[:3]}): {UPDATE}"
    )
    assert untranslated == [], problem
    assert fuzzy == [], problem


def unclosed_emphasis(text: str) -> bool:
    """Whether `text`, rendered as CommonMark, still shows a literal ``**`` or ``*``.

    CommonMark closes ``**`` only where the delimiter is "right-flanking": after CJK
    punctuation such as 。 it must be followed by a space or punctuation, which Chinese
    text never has, so ``**划分。**十次`` shows its asterisks. Math and code are masked
    first, since their ``*`` is not emphasis.
    """
    from markdown_it import MarkdownIt

    masked = re.sub(r"`[^`]*`", "C", re.sub(r"\$[^$]*\$", "M", text))
    html = MarkdownIt("commonmark").render(masked)
    return "**" in html or re.search(r"(?<![\\\w])\*(?!\s)", html) is not None


@pytest.mark.parametrize("path", catalogs(), ids=lambda p: p.relative_to(CATALOGS).as_posix())
def test_bold_and_italic_render_in_chinese(path: Path) -> None:
    shown = [
        msgstr[:70]
        for msgid, msgstr, _ in read(path)
        if msgstr and unclosed_emphasis(msgstr) and not unclosed_emphasis(msgid)
    ]
    assert shown == [], (
        f"{len(shown)} translations would show literal asterisks (move CJK punctuation "
        f"outside the bold: **划分**。, not **划分。**): {shown[:3]}"
    )


def test_emphasis_check_catches_cjk_punctuation_inside_bold() -> None:
    assert unclosed_emphasis("**划分。**十次")
    assert not unclosed_emphasis("**划分**。十次")
    assert not unclosed_emphasis("$a * b$ 与 `x*y`")


@pytest.mark.parametrize("path", catalogs(), ids=lambda p: p.relative_to(CATALOGS).as_posix())
def test_translations_keep_every_token(path: Path) -> None:
    terms = glossary_entries()
    problems = []
    for msgid, msgstr, _ in read(path):
        if not msgstr:
            continue  # reported by test_every_message_is_translated
        original, translated = tokens(msgid, terms), tokens(msgstr, terms)
        if original != translated:
            lost = sorted((original - translated).elements())
            added = sorted((translated - original).elements())
            problems.append(f"{msgid[:60]!r}: lost {lost}, added {added}")
    assert problems == [], f"{len(problems)} translations change tokens:\n" + "\n".join(
        problems[:20]
    )


# Roles that a translation cannot carry: {glue:md} has no ``notebook::key`` form, and an
# rST role (``:func:`x` ``, from a docstring summary in the API table) is not a role once
# the translation is parsed as MyST Markdown.
UNPARSABLE = re.compile(r"\{glue:md\}|(?<![}\w]):[a-z]+(?::[a-z]+)?:`")


def test_untranslatable_roles_are_left_in_english() -> None:
    """A message holding such a role keeps its English text: Sphinx does not re-parse a
    translation identical to the original, so the role still works."""
    changed = [
        f"{path.name}: {msgid[:60]!r}"
        for path in catalogs()
        for msgid, msgstr, _ in read(path)
        if UNPARSABLE.search(msgid) and msgstr and msgstr != msgid
    ]
    assert changed == [], f"translations that re-parse a {{glue:md}} or rST role: {changed}"


def test_term_targets_are_glossary_entries() -> None:
    """A {term} in a translation names a glossary entry (English or Chinese name)."""
    terms = glossary_entries()
    unknown = sorted(
        {
            target("term", content)
            for path in catalogs()
            for _, msgstr, _ in read(path)
            for role, content in ROLE.findall(msgstr)
            if role == "term" and target("term", content).casefold() not in terms
        }
    )
    assert unknown == [], f"{{term}} targets not in the glossary: {unknown}"


def english_messages() -> dict[str, set[str]]:
    """page -> its messages, extracted from the English build's doctrees as the gettext
    builder does (same nodes, same function)."""
    from docutils import nodes
    from sphinx.util.nodes import extract_messages

    found: dict[str, set[str]] = {}
    for path in sorted((DOCTREES / "book").glob("*.doctree")):
        with path.open("rb") as handle:
            doctree = pickle.load(handle)
        # The gettext builder leaves out images' alt text (not a gettext_additional_target)
        # and sphinx-exercise's "Exercise"/"Solution to" titles (translated by that package).
        found[f"book/{path.stem}.po"] = {
            message
            for node, message in extract_messages(doctree)
            if not isinstance(node, nodes.image)
            and not type(node).__module__.startswith("sphinx_exercise")
        }
    return found


def test_catalogs_follow_the_english_text() -> None:
    """The catalogs hold exactly the messages of the English pages as built."""
    if not (DOCTREES / "book").is_dir():
        pytest.skip("the English book is not built (python3 tasks.py book)")
    stale = []
    for name, english in english_messages().items():
        path = CATALOGS / name
        if name == "book/api.po":
            continue  # docstrings are left out of the catalog (tools/translations.py)
        translated = {msgid for msgid, _, _ in read(path)} if path.is_file() else set()
        new, gone = english - translated, translated - english
        if new or gone:
            stale.append(
                f"{name}: {len(new)} new English messages (e.g. {sorted(new)[:1]}), "
                f"{len(gone)} no longer in the English text"
            )
    assert stale == [], f"the catalogs are behind the English text ({UPDATE}):\n" + "\n".join(stale)


# --- the check itself -----------------------------------------------------------------


def test_tokens_catch_a_changed_translation() -> None:
    terms = glossary_entries()
    english = (
        "The loss {glue:text}`ce_value:.4f` of {eq}`eq-ce` is {term}`cross-entropy` "
        "{cite}`lin2017,guo2017`; see {numref}`fig-ce` and $H(P, Q)$."
    )
    good = (
        "{eq}`eq-ce` 的损失为 {glue:text}`ce_value:.4f`，即{term}`交叉熵 <cross-entropy>` "
        "{cite}`lin2017,guo2017`；见 {numref}`图 %s <fig-ce>` 与 $H(P,  Q)$。"
    )
    assert tokens(english, terms) == tokens(good, terms)
    for broken in (
        good.replace("ce_value:.4f", "ce_value:.2f"),  # glue format changed
        good.replace("{eq}`eq-ce`", "(1)"),  # equation reference lost
        good.replace("lin2017,guo2017", "lin2017"),  # citation lost
        good.replace("<fig-ce>", "<fig-other>"),  # cross-reference retargeted
        good.replace("<cross-entropy>", "<entropy>"),  # another glossary entry
        good.replace("$H(P,  Q)$", "$H(Q, P)$"),  # math changed
    ):
        assert tokens(english, terms) != tokens(broken, terms), broken


def test_glue_keys_are_qualified_at_build_time() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        from lossbook_i18n import qualify_glue
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    text = "{glue:text}`a_b:.4f` 与 {glue}`c` 和 {glue:text}`other.ipynb::d:.1f`，{glue:text}`n`"
    assert qualify_glue(text, "01_x.ipynb") == (
        "{glue:text}`01_x.ipynb::a_b:.4f` 与 {glue}`01_x.ipynb::c` 和 "
        "{glue:text}`other.ipynb::d:.1f`，{glue:text}`01_x.ipynb::n:s`"
    )
