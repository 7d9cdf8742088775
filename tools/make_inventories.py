#!/usr/bin/env python3
"""Write the intersphinx inventories in ``_ext/inventories/`` (run after editing the lists).

The book build has no network, so intersphinx cannot download
``https://numpy.org/doc/stable/objects.inv`` and friends; ``_config.yml`` points
intersphinx at these committed files instead. The projects' own inventories are
not available offline either (neither wheels nor Debian's packages ship NumPy's),
so each file here lists just the names the API page refers to, in the format of
Sphinx's ``objects.inv`` (version 2), with the real addresses in those projects'
documentation. A docstring or type hint that names anything else fails the
nitpicky build with "reference target not found": add the name below, rerun this
script and commit the result.

Two entries deliberately differ from the projects' own inventories: NumPy files
``numpy.typing.ArrayLike``/``NDArray`` and the scalar aliases as data and
attributes, but Sphinx renders every name in a type annotation as ``:py:class:``,
so they are listed under both roles.
"""

from __future__ import annotations

import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "_ext" / "inventories"

NUMPY_SCALARS = "reference/arrays.scalars.html#"
INVENTORIES: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    # file: (project, version, [(name, domain:role, address relative to the docs root)])
    "numpy.inv": (
        "NumPy",
        "2",
        [
            ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
            ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html#$"),
            ("numpy.generic", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.number", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.integer", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.floating", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.float16", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.float32", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.float64", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.intp", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.bool", "py:class", NUMPY_SCALARS + "$"),
            ("numpy.typing.ArrayLike", "py:data", "reference/typing.html#$"),
            ("numpy.typing.ArrayLike", "py:class", "reference/typing.html#$"),
            ("numpy.typing.NDArray", "py:data", "reference/typing.html#$"),
            ("numpy.typing.NDArray", "py:class", "reference/typing.html#$"),
        ],
    ),
    "scipy.inv": (
        "SciPy",
        "1",
        [
            (
                f"scipy.special.{name}",
                "py:function",
                f"reference/generated/scipy.special.{name}.html#$",
            )
            for name in (
                "entr",
                "expit",
                "kl_div",
                "log_expit",
                "log_softmax",
                "logsumexp",
                "rel_entr",
                "softmax",
                "xlog1py",
                "xlogy",
            )
        ]
        + [
            ("scipy.stats.entropy", "py:function", "reference/generated/scipy.stats.entropy.html#$")
        ],
    ),
    "python.inv": (
        "Python",
        "3",
        [
            ("callable", "py:function", "library/functions.html#$"),
            ("float", "py:class", "library/functions.html#$"),
            ("int", "py:class", "library/functions.html#$"),
            ("tuple", "py:class", "library/stdtypes.html#$"),
            ("bool", "py:class", "library/functions.html#$"),
            ("ValueError", "py:exception", "library/exceptions.html#$"),
            ("TypeError", "py:exception", "library/exceptions.html#$"),
        ],
    ),
}


def inventory(project: str, version: str, entries: list[tuple[str, str, str]]) -> bytes:
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project}\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    # name domain:role priority uri display-name; a "$" ending the uri stands for
    # the name, and "-" as display name means the name itself.
    lines = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in sorted(entries))
    return header.encode() + zlib.compress(lines.encode(), 9)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for filename, (project, version, entries) in INVENTORIES.items():
        (OUT / filename).write_bytes(inventory(project, version, entries))
        print(f"{OUT / filename}: {len(entries)} entries")


if __name__ == "__main__":
    main()
