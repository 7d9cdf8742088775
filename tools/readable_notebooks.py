"""Readable copies of the chapter notebooks: numbers in the text, plain Markdown.

The chapters are written in MyST: ``{glue:text}`name:.3f``` placeholders, ``{term}``,
``{cite}``, ``{eq}`` roles and ``{prf:definition}`` directives. Jupyter and Colab show
them raw. :func:`readable` rewrites each Markdown cell into CommonMark that Jupyter
renders: glued values are substituted from the notebook's own (committed, nbval-checked)
outputs, roles become their text (cross-references resolved by the caller, for example
from the Sphinx environment), directives become block quotes or ``<details>`` blocks,
labelled equations get their number as ``\\tag``. As a reader gets the notebook:

* **No myst-nb needed.** The text already shows the glued numbers, so the line
  ``from myst_nb import glue`` is replaced by a cell defining :data:`GLUE_SHIM`, a local
  ``glue`` that records a value exactly as ``myst_nb.glue`` does (same output, so a
  reader's run reproduces the committed outputs and nbval can compare them). Every other
  code cell is unchanged, so the first cell still installs lossbook outside the repository.
* **Solutions at the end.** The cells of each gated solution (``solution-start`` ...
  ``solution-end``, code included) move to a "Solutions" section at the end, under
  "Solution to Exercise N"; the exercise says where its solution is. Pure-Markdown
  ``{solution}`` blocks are collapsed in ``<details>`` where they are.
* **Figures numbered and captioned** under the figure, in a Markdown cell (the book
  keeps the caption in the cell's ``mystnb`` metadata, which Jupyter does not show).

The book build (``_ext/lossbook_site.py``) writes these copies over the downloadable
``_build/html/_sources/book/*.ipynb``; ``python3 tasks.py notebooks`` copies them to
``notebooks/``, committed on ``main``, which the Colab and Binder buttons open (a test
fails when the committed copies drift from the build).
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The readable copies, committed on main: the Colab and Binder buttons open them.
COMMITTED = ROOT / "notebooks"
# Where the book build writes them (the download button's files).
BUILT = ROOT / "_build" / "html" / "_sources" / "book"

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


# Replaces ``from myst_nb import glue`` in a reader's notebook. It does what myst_nb.glue
# does (myst_nb/ext/glue/__init__.py): display the value's mime bundle, hidden under the
# papermill prefix unless `display`, with the name in the output's metadata.
GLUE_IMPORT = re.compile(r"^from myst_nb import glue[ \t]*\n?", re.MULTILINE)
GLUE_SHIM = """\
# The book pastes the values recorded by `glue` into its text; here the text already
# shows them. This `glue` records a value as the book's does (the one of MyST-NB), so
# the notebook needs nothing more than IPython.
from IPython.core.formatters import format_display_data
from IPython.display import display as display_output


def glue(name, variable, display=True):
    bundle, metadata = format_display_data(variable)
    prefix = "" if display else "application/papermill.record/"
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    display_output({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)"""

_SOLUTION_FENCE = re.compile(
    r"^(?P<fence>`{3,}|:{3,})\{solution-(?P<kind>start|end)\}[ \t]*(?P<label>\S*)[^\n]*\n"
    r"(?:[ \t]*:[\w-]+:[^\n]*\n)*(?P=fence)[ \t]*$\n?",
    re.MULTILINE,
)
SOLUTIONS_HEADING = "## Solutions"
POINTER = "*Solution: at the end of the notebook "


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
    try:  # as myst-nb does: the Python value, so a glued string shows without its quotes
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    if not fmt:
        return str(parsed)
    try:
        return format(parsed, fmt)
    except (ValueError, TypeError):
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
    name: str,
    argument: str,
    body: list[str],
    values: Mapping[str, Mapping[str, str]],
    resolve: Resolver,
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
    number = resolve("number", options["label"]) if "label" in options else None
    if number:
        kind = f"{kind} {number}"
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
            rendered = _render_directive(name, argument, body, values, resolve)
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


def _markdown_cell(text: str, cell_id: str) -> dict[str, Any]:
    return {
        "cell_type": "markdown",
        "id": cell_id,
        "metadata": {},
        "source": text.splitlines(keepends=True),
    }


def caption_figures(cells: list[dict[str, Any]], resolve: Resolver) -> list[dict[str, Any]]:
    """After each code cell with a ``mystnb.figure`` caption, a Markdown cell showing it."""
    result = []
    for cell in cells:
        result.append(cell)
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if cell["cell_type"] != "code" or not figure.get("caption"):
            continue
        number = resolve("number", figure["name"]) if figure.get("name") else None
        title = f"Figure {number}." if number else "Figure."
        cell_id = f"{cell.get('id', 'figure')}-caption"
        result.append(_markdown_cell(f"**{title}** {figure['caption'].strip()}", cell_id))
    return result


def move_solutions(cells: list[dict[str, Any]], resolve: Resolver) -> list[dict[str, Any]]:
    """Gated solutions (``solution-start`` ... ``solution-end``) moved to the end.

    A Markdown cell is cut at each fence; each solution starts a cell of its own."""
    main: list[dict[str, Any]] = []
    solutions: list[dict[str, Any]] = []
    current: str | None = None  # the exercise label of the open solution
    for cell in cells:
        if cell["cell_type"] != "markdown":
            (solutions if current is not None else main).append(cell)
            continue
        text = "".join(cell["source"])
        # (in a solution, text); a new piece starts at every fence.
        pieces: list[tuple[bool, str]] = []
        position = 0
        for fence in _SOLUTION_FENCE.finditer(text):
            pieces.append((current is not None, text[position : fence.start()]))
            position = fence.end()
            if fence.group("kind") == "start":
                current = fence.group("label")
                number = resolve("number", current)
                name = f"Exercise {number}" if number else "this exercise"
                pieces.append((False, f"{POINTER}({name}).*"))
                pieces.append((True, f"### Solution to {name}"))
            else:
                current = None
        pieces.append((current is not None, text[position:]))
        merged: list[tuple[bool, str]] = []
        for in_solution, piece in pieces:
            heading = piece.startswith("### Solution to ")
            if merged and merged[-1][0] == in_solution and piece.startswith(POINTER):
                merged[-1] = (in_solution, merged[-1][1].rstrip() + "\n\n" + piece)
            elif merged and merged[-1][0] == in_solution and not heading:
                previous = merged[-1][1]
                if previous.startswith("### Solution to ") and "\n" not in previous:
                    previous, piece = previous + "\n\n", piece.lstrip("\n")
                merged[-1] = (in_solution, previous + piece)
            else:
                merged.append((in_solution, piece))
        parts = [(flag, piece.strip()) for flag, piece in merged if piece.strip()]
        for index, (in_solution, part) in enumerate(parts):
            cell_id = cell.get("id", "cell") + (f"-{index}" if len(parts) > 1 else "")
            new = dict(cell, id=cell_id, source=(part + "\n").splitlines(keepends=True))
            (solutions if in_solution else main).append(new)
    if not solutions:
        return main
    return [*main, _markdown_cell(SOLUTIONS_HEADING, "solutions"), *solutions]


def replace_glue_import(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``from myst_nb import glue`` replaced by :data:`GLUE_SHIM` in a cell of its own."""
    result = []
    for cell in cells:
        text = "".join(cell["source"])
        if cell["cell_type"] != "code" or not GLUE_IMPORT.search(text):
            result.append(cell)
            continue
        result.append(dict(cell, source=GLUE_IMPORT.sub("", text).splitlines(keepends=True)))
        result.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "glue-without-myst-nb",
                "metadata": {},
                "outputs": [],
                "source": GLUE_SHIM.splitlines(keepends=True),
            }
        )
    return result


def readable(notebook: Notebook, resolve: Resolver | None = None) -> Notebook:
    """A copy of `notebook` as a reader gets it (see the module's docstring)."""
    resolve = resolve or (lambda role, target: None)
    values = glue_values(notebook)
    result = copy.deepcopy(notebook)
    cells = caption_figures(result["cells"], resolve)
    cells = move_solutions(cells, resolve)
    cells = replace_glue_import(cells)
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = convert_markdown("".join(cell["source"]), values, resolve)
        cell["source"] = text.splitlines(keepends=True)
    result["cells"] = cells
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


def chapters(folder: Path) -> dict[str, bytes]:
    """name -> content of the chapter notebooks (``NN_*.ipynb``) in `folder`."""
    return {path.name: path.read_bytes() for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}


def drift(built: Path = BUILT, committed: Path = COMMITTED) -> list[str]:
    """The readable notebooks that differ between the build and ``notebooks/``."""
    new, old = chapters(built), chapters(committed)
    return sorted(name for name in new.keys() | old.keys() if new.get(name) != old.get(name))


def commit_copies(built: Path = BUILT, committed: Path = COMMITTED) -> list[str]:
    """Make ``notebooks/`` hold exactly the built readable chapters; return those changed."""
    changed = drift(built, committed)
    committed.mkdir(exist_ok=True)
    for name in changed:
        source, target = built / name, committed / name
        if source.is_file():
            target.write_bytes(source.read_bytes())
        else:
            target.unlink()
    return changed
