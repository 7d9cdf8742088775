"""Readable copies of the chapter notebooks: numbers in the text, plain Markdown.

The chapters are written in MyST: ``{glue:text}`name:.3f``` placeholders, ``{term}``,
``{cite}``, ``{eq}`` roles and ``{prf:definition}`` directives. Jupyter and Colab show
them raw. :func:`readable` rewrites each Markdown cell into CommonMark that Jupyter
renders: glued values are substituted from the notebook's own (committed, nbval-checked)
outputs, roles become their text (cross-references resolved by the caller, for example
from the Sphinx environment), directives become block quotes or ``<details>`` blocks,
labelled equations get their number as ``\\tag``. Code cells are untouched, so the first
cell still installs lossbook outside the repository.

The book build (``_ext/lossbook_site.py``) writes these copies over the downloadable
``_build/html/_sources/book/*.ipynb``; the release workflow publishes the same files on
the ``notebooks`` branch that the Colab and Binder buttons open.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

Notebook = dict[str, Any]
# (role, target) -> text, e.g. ("eq", "eq-entropy-definition") -> "(2.1)".
Resolver = Callable[[str, str], "str | None"]

_ROLE = re.compile(r"\{([a-z][a-z:-]*)\}`([^`]*)`")
_EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.DOTALL)
_FENCE_OPEN = re.compile(r"^(\s*)(`{3,}|:{3,})\{([a-z][a-z:-]*)\}\s*(.*)$")
_LABEL_LINE = re.compile(r"^\s*\(([^()\s]+)\)=\s*$")
_MATH_LABEL = re.compile(r"^(\s*)\$\$\s*\(([^()\s]+)\)\s*$")

TITLES = {
    "prf:definition": "Definition",
    "prf:theorem": "Theorem",
    "prf:proof": "Proof",
    "prf:axiom": "Axiom",
    "prf:lemma": "Lemma",
    "prf:corollary": "Corollary",
    "prf:example": "Example",
    "prf:remark": "Remark",
    "exercise": "Exercise",
    "solution": "Solution",
    "note": "Note",
    "tip": "Tip",
    "warning": "Warning",
    "important": "Important",
}


def glue_values(notebook: Notebook) -> dict[str, dict[str, str]]:
    """name -> {mime type: text} for every ``myst_nb.glue`` output of the notebook."""
    values: dict[str, dict[str, str]] = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook")
            if not scrap:
                continue
            prefix = scrap.get("mime_prefix", "")
            values[scrap["name"]] = {
                mime[len(prefix) :]: "".join(data) if isinstance(data, list) else str(data)
                for mime, data in output.get("data", {}).items()
                if mime.startswith(prefix)
            }
    return values


def format_glue(values: Mapping[str, Mapping[str, str]], spec: str) -> str | None:
    """The text of ``{glue:text}`name:format``` (myst-nb formats the plain-text value)."""
    name, _, fmt = spec.partition(":")
    value = values.get(name.strip(), {}).get("text/plain")
    if value is None:
        return None
    if not fmt:
        return value
    try:
        return format(ast.literal_eval(value), fmt)
    except (ValueError, SyntaxError, TypeError):
        return value


def _role_text(
    role: str, content: str, values: Mapping[str, Mapping[str, str]], resolve: Resolver
) -> str:
    if role in {"glue:text", "glue", "glue:"}:
        return format_glue(values, content) or content
    if role == "glue:math":
        return f"${values.get(content, {}).get('text/latex', content).strip('$')}$"
    explicit = _EXPLICIT.match(content)
    if explicit:
        text, target = explicit.group(1), explicit.group(2)
        if role in {"term", "ref", "doc", "prf:ref", "numref", "download"}:
            return text
    else:
        text, target = content, content
    resolved = resolve(role, target)
    if resolved is not None:
        return resolved
    if role in {"math"}:
        return f"${content}$"
    if role in {"code", "literal"}:
        return f"`{content}`"
    return text


def replace_roles(text: str, values: Mapping[str, Mapping[str, str]], resolve: Resolver) -> str:
    return _ROLE.sub(lambda m: _role_text(m.group(1), m.group(2), values, resolve), text)


def _quote(lines: list[str]) -> list[str]:
    return [f"> {line}" if line.strip() else ">" for line in lines]


def _render_directive(
    name: str, argument: str, body: list[str], values: Mapping[str, Mapping[str, str]]
) -> list[str]:
    options = {}
    while body and re.match(r"^\s*:[\w-]+:", body[0]):
        key, _, value = body.pop(0).strip()[1:].partition(":")
        options[key] = value.strip()
    while body and not body[0].strip():
        body.pop(0)
    if name == "glue:md" or name == "glue":
        data = values.get(argument.strip(), {})
        return [data.get("text/markdown", data.get("text/plain", ""))]
    if name in {"solution-start"}:
        return ["**Solution.**", ""]
    if name in {"solution-end"}:
        return ["", "---"]
    if name in {"math"}:
        return ["$$", *body, "$$"]
    if name in {"code-block", "code"}:
        return [f"```{argument}", *body, "```"]
    if name == "solution":
        return ["<details><summary>Solution</summary>", "", *body, "", "</details>"]
    kind = TITLES.get(name, name.split(":")[-1].capitalize())
    if name == "admonition":
        heading = f"**{argument}**" if argument else ""
    else:
        heading = f"**{kind} ({argument}).**" if argument else f"**{kind}.**"
    return _quote([heading, "", *body] if heading else body)


def convert_markdown(
    source: str, values: Mapping[str, Mapping[str, str]], resolve: Resolver
) -> str:
    """One Markdown cell, MyST to CommonMark."""
    out: list[str] = []
    # Stack of open directives: (fence, name, argument, lines so far, indent).
    stack: list[tuple[str, str, str, list[str], str]] = []
    in_math = False
    for line in source.split("\n"):
        target = stack[-1][3] if stack else out
        opened = _FENCE_OPEN.match(line)
        if opened and not in_math:
            indent, fence, name, argument = opened.groups()
            stack.append((fence, name, argument.strip(), [], indent))
            continue
        if stack and line.strip() == stack[-1][0]:
            fence, name, argument, body, indent = stack.pop()
            rendered = _render_directive(name, argument, body, values)
            (stack[-1][3] if stack else out).extend(indent + part for part in rendered)
            continue
        if _LABEL_LINE.match(line):
            continue
        math_label = _MATH_LABEL.match(line)
        if math_label and in_math:
            number = resolve("eq", math_label.group(2))
            if number:
                target.append(f"{math_label.group(1)}\\tag{{{number.strip('()')}}}")
            target.append(f"{math_label.group(1)}$$")
            in_math = False
            continue
        if line.strip() == "$$" or (
            line.strip().startswith("$$") and not line.strip().endswith("$$")
        ):
            in_math = not in_math
        elif (
            line.strip().startswith("$$") and line.strip().endswith("$$") and len(line.strip()) > 2
        ):
            pass
        target.append(line if in_math else replace_roles(line, values, resolve))
    while stack:  # an unclosed fence: keep its text
        fence, name, argument, body, indent = stack.pop()
        (stack[-1][3] if stack else out).extend(body)
    return "\n".join(out)


def readable(notebook: Notebook, resolve: Resolver | None = None) -> Notebook:
    """A copy of `notebook` whose Markdown cells Jupyter renders as the book does."""
    resolve = resolve or (lambda role, target: None)
    values = glue_values(notebook)
    result = copy.deepcopy(notebook)
    for cell in result["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = convert_markdown("".join(cell["source"]), values, resolve)
        cell["source"] = text.splitlines(keepends=True)
    return result


def leftover_myst(notebook: Notebook) -> list[str]:
    """MyST roles or directives still present in the Markdown cells (for tests)."""
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"])
            found += [m.group(0) for m in _ROLE.finditer(text)]
            found += [
                m.group(0) for m in re.finditer(r"(?m)^\s*(`{3,}|:{3,})\{[a-z:-]+\}.*$", text)
            ]
    return found
