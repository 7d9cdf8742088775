"""Glued and printed numbers carry no more digits than a reader sees.

The last digits of a float depend on the CPU: OpenBLAS picks a kernel per CPU, NumPy a
SIMD loop, and each sums in its own order. Strict nbval compares outputs as text, so a
glued ``0.000612424211524`` fails on the next machine where it is ``...523``, although
the page shows ``0.0006``. The book's rule: glue a number rounded to the precision its
text shows (``round(x, 4)`` for ``{glue:text}`name:.4f```, ``float(format(x, ".2e"))``
for ``:.2e``) and print at reader precision; keep the exact comparisons in asserts.

For every chapter this test reads each ``{glue:text}`` display (name and format) and the
glued values in the committed outputs, and fails for a glued float that

* is shown with a format and carries more digits than every one of its formats shows
  (``format(value, spec)`` read back as a float must be the value);
* is shown only unformatted (the page prints its repr) with more than
  ``UNFORMATTED_DIGITS`` significant digits;
* is not shown by the chapter at all and carries more than ``UNFORMATTED_DIGITS``
  significant digits (it is still an output that nbval compares).

It also fails for a float printed in an output (stdout, or a result's text) with
``PRINTED_DIGITS`` or more significant digits: a full-precision print.

That the rounded numbers really are the same on another CPU is tested by running the
notebooks there: ``tasks.py package`` runs them under ``OPENBLAS_CORETYPE=Prescott`` with
NumPy's SIMD loops disabled and compares every output (``tools/notebooks_anywhere.py``).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tools.readable_notebooks import glue_values

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
UNFORMATTED_DIGITS = 6
PRINTED_DIGITS = 12
_ROLE = re.compile(r"\{glue(?::text)?\}`([^`]*)`")
# A decimal number in printed text: 1.2345, -0.5, 1.5e-07 (not part of a name).
_NUMBER = re.compile(r"(?<![\w.])[-+]?(\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)(?![\w.])")
_PRINTED = ("text/plain", "text/markdown", "text/latex")


def displays(notebook: dict[str, Any]) -> dict[str, list[str]]:
    """glue name -> the format specs it is shown with ('' for unformatted)."""
    shown: dict[str, list[str]] = defaultdict(list)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for content in _ROLE.findall("".join(cell["source"])):
            name, _, spec = content.partition(":")
            shown[name.strip()].append(spec.strip())
    return shown


def shows_every_digit(value: float, spec: str) -> bool:
    """Whether ``format(value, spec)``, read back as a float, is `value` itself."""
    text = format(value, spec).replace(",", "").replace("_", "")
    shown = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    return float(shown) == value


def significant_digits(text: str) -> int:
    """Digits of a decimal number between its first and last non-zero digit."""
    mantissa = re.split(r"[eE]", text.lstrip("+-"))[0].replace(".", "")
    return len(mantissa.strip("0"))


def glue_problems(notebook: dict[str, Any]) -> list[str]:
    shown = displays(notebook)
    problems = []
    for name, data in glue_values(notebook).items():
        try:
            value = ast.literal_eval(data.get("text/plain", ""))
        except (ValueError, SyntaxError):
            continue  # not a number (a string, an array, a figure, Markdown)
        if not isinstance(value, float) or not math.isfinite(value):
            continue
        specs = shown.get(name, [])
        formatted = [spec for spec in specs if spec]
        if not specs:
            # Not in the text, but still an output nbval compares on every CPU.
            if significant_digits(repr(value)) > UNFORMATTED_DIGITS:
                problems.append(f"{name} = {value!r} is glued (never shown) with all its digits")
        elif formatted and not any(shows_every_digit(value, spec) for spec in formatted):
            wanted = ", ".join(f":{spec}" for spec in formatted)
            problems.append(f"{name} = {value!r} carries more digits than its displays ({wanted})")
        elif not formatted and significant_digits(repr(value)) > UNFORMATTED_DIGITS:
            problems.append(f"{name} = {value!r} is shown unformatted with all its digits")
    return problems


def printed_problems(notebook: dict[str, Any]) -> list[str]:
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            texts = ["".join(output.get("text", ""))]
            data = output.get("data", {})
            texts += ["".join(data[mime]) for mime in _PRINTED if mime in data]
            for text in texts:
                for number in _NUMBER.findall(text):
                    if significant_digits(number) >= PRINTED_DIGITS:
                        problems.append(f"cell {index} prints {number}")
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_glued_numbers_have_reader_precision(path: Path) -> None:
    problems = glue_problems(json.loads(path.read_text(encoding="utf-8")))
    assert problems == [], (
        f"{path.name}: {len(problems)} glued floats with more digits than the text shows "
        "(glue round(x, n) for :.nf, float(format(x, spec)) for e/g formats):\n  "
        + "\n  ".join(problems)
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_printed_numbers_have_reader_precision(path: Path) -> None:
    problems = printed_problems(json.loads(path.read_text(encoding="utf-8")))
    assert problems == [], (
        f"{path.name}: full-precision floats in outputs (print them at reader precision):\n  "
        + "\n  ".join(problems)
    )


def _chapter(value: Any, markdown: str, printed: str = "") -> dict[str, Any]:
    glued = {
        "output_type": "display_data",
        "data": {"application/papermill.record/text/plain": repr(value)},
        "metadata": {"scrapbook": {"name": "x", "mime_prefix": "application/papermill.record/"}},
    }
    stream = {"output_type": "stream", "name": "stdout", "text": printed}
    return {
        "cells": [
            {"cell_type": "code", "source": "", "outputs": [glued, stream]},
            {"cell_type": "markdown", "source": markdown},
        ]
    }


@pytest.mark.parametrize(
    ("value", "markdown", "fails"),
    [
        (0.000612424211524, "{glue:text}`x:.4f`", True),  # issue 19's failing cell
        (0.0006, "{glue:text}`x:.4f`", False),
        (0.1235, "{glue:text}`x:.3f` and {glue:text}`x:.4f`", False),  # the finest display
        (0.1235, "{glue:text}`x:.3f`", True),
        (0.078, "{glue:text}`x:.1%`", False),
        (0.0783, "{glue:text}`x:.1%`", True),
        (2.2e-16, "{glue:text}`x:.1e`", False),
        (2.220446049250313e-16, "{glue:text}`x:.1e`", True),
        (1234.5, "{glue:text}`x:,.1f`", False),
        (5e-324, "{glue:text}`x:.4g`", False),  # 4.941e-324 is that float
        (0.1, "{glue:text}`x:.0%`", False),
        (0.25, "{glue}`x`", False),
        (0.9660595071696715, "{glue:text}`x`", True),
        (0.5, "no display", False),  # a short value glued for a table or a later cell
        (0.9660595071696715, "no display", True),
        (3, "{glue:text}`x:.2f`", False),  # an int has no hidden digits
    ],
)
def test_the_glue_check_fails_where_it_should(value: Any, markdown: str, fails: bool) -> None:
    assert bool(glue_problems(_chapter(value, markdown))) == fails


@pytest.mark.parametrize(
    ("printed", "fails"),
    [
        ("0.000612424211524\n", True),
        ("loss 3.700439718141092 bits\n", True),
        ("4.248354255291589e-18", True),
        ("[0.66524096 0.24472847 0.09003057]", False),
        ("0.30000000000", False),
        ("step 1000000000000: 1.5", False),
    ],
)
def test_the_print_check_fails_where_it_should(printed: str, fails: bool) -> None:
    assert bool(printed_problems(_chapter(1, "{glue:text}`x`", printed))) == fails
