#!/usr/bin/env python3
"""The project's commands, with nothing but Python 3.11 needed up front.

    python3 tasks.py book     # build the HTML book into _build/html (from the committed outputs)
                              # and the Chinese edition into _build/html/zh, and both PDFs
    python3 tasks.py test     # everything: the book build, package tests, doctests, the
                              # notebooks under nbval, the browser test, then `lint` (CI runs this)
    python3 tasks.py unit     # the fast loop: package tests and doctests only (no book, no browser)
    python3 tasks.py lint     # ruff check, ruff format --check, mypy --strict, notebook metadata
    python3 tasks.py execute [NOTEBOOK ...]   # re-run notebooks in place (default: all of book/)
                                              # and strip their volatile metadata
    python3 tasks.py package  # sdist + wheel, twine check, every readable notebook run from
                              # the wheel in an empty directory on a second CPU's kernels
    python3 tasks.py sync-notebooks   # rewrite every notebook's install cell (tools/)
    python3 tasks.py notebooks  # build the book, copy its readable notebooks to notebooks/
    python3 tasks.py translations     # extract the English text, merge it into
                                      # locales/zh_CN/LC_MESSAGES/*.po, count what is left

The environment is the pinned ``requirements.txt`` in ``.venv``; it is rebuilt
only when ``requirements.txt`` or ``pyproject.toml`` change. With ``--no-venv``
(``python tasks.py unit --no-venv``) the running interpreter is used as it is,
as in CI's version matrix, which installs its own NumPy. ``test`` also installs
Debian's Chromium for the browser test and a CJK font (``fonts-noto-cjk``, for the
PDF's Chinese) when missing and the command runs as root on a Debian-like system
(as in CI); elsewhere the browser test is
skipped with a message saying how to install it.

Each notebook is executed once per ``test``: the book is built from the
committed outputs (``execute_notebooks: "off"`` in ``_config.yml``) and nbval
re-executes every notebook and compares the result with those same outputs, so
the pages show exactly what the test has just reproduced.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".lossbook-requirements.sha256"
NO_VENV = "--no-venv"
PYTEST = ["-m", "pytest", "-p", "no:cacheprovider"]
NBVAL = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", "book/sanitize.cfg"]
BROWSER_TEST = "tests/test_site.py"
# The Chinese edition's checks: the built site and the catalogs (need the book's packages).
BOOK_TESTS = ("tests/test_site_zh.py", "tests/test_translations.py")
NOTEBOOK_CHECK = "tools/notebook_metadata.py"
use_venv = True


def python() -> Path:
    """The interpreter that runs the tools: .venv's, or this one under --no-venv."""
    if not use_venv:
        return Path(sys.executable)
    return BIN / ("python.exe" if os.name == "nt" else "python")


def run(command: list[str | Path], *, env: dict[str, str] | None = None, stop: bool = True) -> int:
    """Run a command from the repository root; exit on failure unless `stop` is false."""
    shown = " ".join(str(part) for part in command)
    print(f"\n$ {shown}", flush=True)
    started = time.perf_counter()
    result = subprocess.run([str(part) for part in command], cwd=ROOT, env=env, check=False)
    print(f"({time.perf_counter() - started:.1f} s)", flush=True)
    if stop and result.returncode != 0:
        sys.exit(result.returncode)
    return result.returncode


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    # The editable install records lossbook's version (single-sourced in __init__.py), and
    # each notebook's install cell compares against it: a version bump must reinstall.
    init = (ROOT / "lossbook" / "__init__.py").read_text(encoding="utf-8")
    digest.update("".join(ln for ln in init.splitlines() if ln.startswith("__version__")).encode())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the pinned requirements unless already current."""
    if not use_venv:
        return
    if not python().exists():
        run([sys.executable, "-m", "venv", VENV])
    wanted = requirements_digest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    run([python(), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([python(), "-m", "pip", "install", "--quiet", "-r", "requirements.txt"])
    STAMP.write_text(wanted + "\n")


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    if use_venv:
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(VENV)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def build_book() -> None:
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    run(
        [python().parent / "jupyter-book", "build", ".", "-W", "-n", "--keep-going"],
        env=venv_env(),
    )
    print(f"\nThe book is in {ROOT / '_build' / 'html' / 'index.html'}")
    # The Chinese edition (issue 23): the same sources and outputs with language zh_CN and
    # the translations of locales/, under the same -W -n, into _build/html/zh.
    run([python(), "-m", "tools.translations", "build"], env=venv_env())


def has_chinese_font() -> bool:
    """A font with Simplified Chinese glyphs, so the PDF prints 交叉熵 instead of empty boxes."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
    )
    return bool(listed.stdout.strip())


def ensure_chromium() -> None:
    """Install Debian's Chromium, a CJK font for the PDF (fonts-noto-cjk) and Poppler's
    pdftotext (poppler-utils, to read the PDF back), when missing and we may (root, apt-get
    present)."""
    missing = []
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing.append("chromium")
    if not has_chinese_font():
        missing.append("fonts-noto-cjk")
    if not shutil.which("pdftotext"):  # the browser test reads the PDF's text with Poppler
        missing.append("poppler-utils")
    if not missing:
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        print(
            f"{' and '.join(missing)} not found and cannot be installed here: without Chromium "
            "the browser test is skipped; without a CJK font the PDF's Chinese is empty boxes."
        )
        return
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=apt_env)
    run(["apt-get", "install", "-y", "-qq", *missing], env=apt_env)


# Tests that read the built site (_build/html, its zh/ edition, the PDFs, the doctrees).
SITE_TESTS = [
    BROWSER_TEST,
    "tests/test_site_zh.py",
    "tests/test_readable_notebooks.py",
    "tests/test_translations.py",
]


def test(_: list[str]) -> None:
    """Everything: the build, every test (each notebook executed once, by nbval; the
    build shows the same committed outputs), the package and its notebooks run from the
    wheel, then the static checks of `lint`.

    Two streams share the 2 cores: the package tests, the notebooks under nbval and then
    `package` (the wheel run) need no built book, so they run in a second process
    (`tasks.py without-site`) while the two editions and their PDFs are built; the tests of
    the built site run after the builds.
    """
    ensure_chromium()
    ensure_npm_packages()
    log_dir = ROOT / ".cache"
    log_dir.mkdir(exist_ok=True)
    command = [str(python()), str(ROOT / "tasks.py"), "without-site", *([NO_VENV] * (not use_venv))]
    started = time.perf_counter()
    with beside(command, log_dir / "test-without-site.log", "beside the builds") as early:
        build_book()
        build_pdf()
        site_tests = site_tests_in_two_processes(log_dir)
    print(f"(the second stream: {time.perf_counter() - started:.1f} s)", flush=True)
    failed = (["pytest (site)"] if site_tests else []) + (
        ["pytest or package (see above)"] if early.returncode else []
    )
    # Lint after the tests, so that one run reports both; either failing fails `test`.
    problems = static_checks()
    if failed or problems:
        sys.exit("failed: " + "; ".join(failed + problems))


@contextmanager
def beside(command: list[str], log_path: Path, when: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` while the body of the `with` runs, its output in `log_path`; wait for
    it at the end (killed if the body fails), then print that output."""
    print(f"\n$ {' '.join(command)}  ({when}; output in {log_path})", flush=True)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=venv_env(), stdout=log, stderr=log)
        try:
            yield process
        except BaseException:
            process.kill()
            raise
        finally:
            process.wait()
    print(log_path.read_text(encoding="utf-8"), flush=True)


def site_tests_in_two_processes(log_dir: Path) -> int:
    """The tests of the built site: the Chinese edition's pages (tests/test_site_zh.py, its
    own Chromium, output in .cache) beside the English pages and the rest, so that neither
    core idles once the other stream has finished. The exit status: 0 if both passed."""
    chinese = [str(python()), *PYTEST, "tests/test_site_zh.py"]
    english: list[str | Path] = [
        python(),
        *PYTEST,
        *(test for test in SITE_TESTS if test not in chinese),
    ]
    with beside(chinese, log_dir / "test-site-zh.log", "beside the next command") as second:
        first_status = run(english, env=venv_env(), stop=False)
    return first_status or second.returncode


def without_site(_: list[str]) -> None:
    """The tests that need no built book (package, doctests, notebooks under nbval), then
    `package`; `test` runs this beside the builds."""
    ignored = [f"--ignore={path}" for path in SITE_TESTS]
    status = run([python(), *PYTEST, "tests", "lossbook", "book", *NBVAL, *ignored], stop=False)
    package([])
    sys.exit(status)


def unit(_: list[str]) -> None:
    """Package tests and doctests: no notebook, no book, no browser."""
    book_tests = [f"--ignore={path}" for path in (BROWSER_TEST, *BOOK_TESTS)]
    run([python(), *PYTEST, "tests", "lossbook", *book_tests], env=venv_env())


def static_checks() -> list[str]:
    """Run every static check (all of them, even after a failure); return the failed ones."""
    checks: list[list[str | Path]] = [
        [python(), "-m", "ruff", "check", "."],
        [python(), "-m", "ruff", "format", "--check", "."],
        [python(), "-m", "mypy"],  # files and --strict come from pyproject.toml
        [python(), NOTEBOOK_CHECK],
    ]
    return [
        " ".join(str(part) for part in check[1:])
        for check in checks
        if run(check, env=venv_env(), stop=False) != 0
    ]


def lint(_: list[str]) -> None:
    """ruff check, ruff format --check, mypy --strict and the notebook-metadata check."""
    failed = static_checks()
    if failed:
        sys.exit("failed: " + "; ".join(failed))


def execute(notebooks: list[str]) -> None:
    """Re-run notebooks top to bottom in place, then strip their volatile metadata."""
    paths = notebooks or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "book").glob("*.ipynb"))
    for path in paths:
        # nbclient's `jupyter execute` (nbconvert is not a dependency); no per-cell
        # timeout, since a chapter's 30-second budget is the reviewers' to check.
        run(
            [python().parent / "jupyter-execute", "--inplace", "--timeout=-1", path], env=venv_env()
        )
    run([python(), NOTEBOOK_CHECK, "--fix", *paths])


def book(_: list[str]) -> None:
    build_book()
    build_pdf()


# --- site-doors (issue 15): PDF, npm test packages, package build, notebooks anywhere ---

NPM_PREFIX = ROOT / ".cache" / "npm"
# Pinned npm packages the browser test injects into pages (axe-core: accessibility rules).
NPM_PACKAGES = {"axe-core": "4.14.1"}
PACKAGING_TOOLS = ["build==1.6.1", "twine==7.0.0"]


def ensure_npm_packages() -> None:
    """Install the browser test's npm packages into .cache/npm (once per pinned version)."""
    missing = [
        f"{name}@{version}"
        for name, version in NPM_PACKAGES.items()
        if not (NPM_PREFIX / "node_modules" / name / f".lossbook-{version}").exists()
    ]
    if not missing:
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if shutil.which("npm") is None and is_root and shutil.which("apt-get"):
        apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=apt_env)
        run(["apt-get", "install", "-y", "-qq", "npm"], env=apt_env)
    if shutil.which("npm") is None:
        print("npm not found: the browser test's accessibility (axe-core) part will be skipped.")
        return
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    run(
        [
            "npm",
            "install",
            "--silent",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
            NPM_PREFIX,
            *missing,
        ]
    )
    for name, version in NPM_PACKAGES.items():
        (NPM_PREFIX / "node_modules" / name / f".lossbook-{version}").touch()


def build_pdf() -> None:
    """Print the single-page build (_build/html/book/print.html) to _build/html/lossbook.pdf,
    and the Chinese edition's to _build/html/zh/lossbook.pdf, both at once (each print
    mostly waits for Chromium's layout of one long page)."""
    commands = [
        [str(python()), "-m", "tools.print_pdf"],
        [str(python()), "-m", "tools.print_pdf", str(ROOT / "_build" / "html" / "zh")],
    ]
    started = time.perf_counter()
    for command in commands:
        print(f"\n$ {' '.join(command)}", flush=True)
    prints = [subprocess.Popen(command, cwd=ROOT, env=venv_env()) for command in commands]
    statuses = [process.wait() for process in prints]
    print(f"({time.perf_counter() - started:.1f} s)", flush=True)
    if any(statuses):
        sys.exit(f"printing the PDFs failed ({statuses})")


def translations(_: list[str]) -> None:
    """Extract the English messages, merge them into the .po files, print what is left."""
    run([python(), "-m", "tools.translations", "update"], env=venv_env())


def sync_notebooks(_: list[str]) -> None:
    run([python(), "-m", "tools.sync_notebooks"], env=venv_env())


def notebooks(_: list[str]) -> None:
    """Build the book, then make notebooks/ hold its readable chapter notebooks: the files
    the Colab and Binder buttons open (commit them; a test fails when they drift)."""
    build_book()
    sys.path.insert(0, str(ROOT))
    from tools.readable_notebooks import commit_copies

    for name in commit_copies():
        print(f"notebooks/{name} updated")


def package(_: list[str]) -> None:
    """Build the sdist and wheel, check them, then run every readable notebook from the wheel
    alone, under OpenBLAS's Prescott kernels and NumPy's baseline loops, compared by nbval
    with its committed outputs (the notebooks' second execution in .ci/run)."""
    run([python(), "-m", "pip", "install", "--quiet", *PACKAGING_TOOLS], env=venv_env())
    shutil.rmtree(ROOT / "dist", ignore_errors=True)
    run([python(), "-m", "build", "--outdir", "dist", "."], env=venv_env())
    dist = sorted((ROOT / "dist").iterdir())
    run([python(), "-m", "twine", "check", "--strict", *dist], env=venv_env())
    wheels = [path for path in dist if path.suffix == ".whl"]
    run([python(), "-m", "tools.notebooks_anywhere", *wheels], env=venv_env())


COMMANDS = {
    "book": book,
    "test": test,
    "unit": unit,
    "lint": lint,
    "execute": execute,
    "package": package,
    "without-site": without_site,
    "sync-notebooks": sync_notebooks,
    "notebooks": notebooks,
    "translations": translations,
}


def main() -> None:
    global use_venv
    args = sys.argv[1:]
    if NO_VENV in args:
        args.remove(NO_VENV)
        use_venv = False
    if not args or args[0] not in COMMANDS or (args[0] != "execute" and len(args) > 1):
        sys.exit(__doc__)
    ensure_environment()
    COMMANDS[args[0]](args[1:])


if __name__ == "__main__":
    main()
