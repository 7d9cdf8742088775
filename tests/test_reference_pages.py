"""The rounded constants typed on the book's reference pages, recomputed.

Chapters glue every number they quote; the glossary, notation and introduction are
plain Markdown and cannot. Each constant they quote is listed here with the
computation that produces it, so a wrong or stale constant fails the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"


def page_text(name: str) -> str:
    """The page with every run of whitespace collapsed, so wrapped lines still match."""
    return re.sub(r"\s+", " ", (BOOK / name).read_text(encoding="utf-8"))


def epsilon_mantissa(dtype: type[np.floating], power: int) -> str:
    return f"{float(np.finfo(dtype).eps) / 10.0**power:.1f}"


def overflow_threshold(dtype: type[np.floating]) -> str:
    return f"{np.log(float(np.finfo(dtype).max)):.2f}"


CONSTANTS = [
    ("glossary.md", r"\ln 2 \approx {}", f"{np.log(2):.3f}"),
    ("intro.md", r"\ln 2 \approx {}", f"{np.log(2):.3f}"),
    ("glossary.md", r"\log_2 10 \approx {}", f"{np.log2(10):.3f}"),
    ("glossary.md", r"1 / \ln 2 \approx {}", f"{1 / np.log(2):.3f}"),
    (
        "glossary.md",
        r"2^{{-52}} \approx {} \times 10^{{-16}}",
        epsilon_mantissa(np.float64, -16),
    ),
    (
        "glossary.md",
        r"2^{{-23}} \approx {} \times 10^{{-7}}",
        epsilon_mantissa(np.float32, -7),
    ),
    (
        "glossary.md",
        r"2^{{-10}} \approx {} \times 10^{{-4}}",
        epsilon_mantissa(np.float16, -4),
    ),
    ("glossary.md", "about {} in float16", overflow_threshold(np.float16)),
    ("glossary.md", "{} in float32", overflow_threshold(np.float32)),
    ("glossary.md", "{} in float64", overflow_threshold(np.float64)),
]


@pytest.mark.parametrize(("page", "template", "value"), CONSTANTS)
def test_quoted_constant_matches_its_computation(page: str, template: str, value: str) -> None:
    assert template.format(value) in page_text(page)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_overflow_thresholds_are_where_exp_overflows(dtype: type[np.floating]) -> None:
    threshold = np.log(float(np.finfo(dtype).max))
    with np.errstate(over="ignore"):
        assert np.isfinite(np.exp(dtype(threshold * (1 - 1e-3))))
        assert np.isinf(np.exp(dtype(threshold * (1 + 1e-3))))


def test_underflow_and_modulating_factor_examples() -> None:
    glossary = page_text("glossary.md")
    assert "$e^{-750}$ is 0 in float64" in glossary
    assert np.exp(-750.0) == 0.0
    assert "$p_t = 0.9$ keeps only $1/100$ of its loss" in glossary
    assert np.isclose((1 - 0.9) ** 2, 1 / 100)
