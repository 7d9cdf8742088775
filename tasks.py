#!/usr/bin/env python3
"""The two commands of the README, with nothing but Python 3.11 needed up front.

    python3 tasks.py book   # create .venv if needed, then build the HTML book into _build/html
    python3 tasks.py test   # create .venv if needed, then run every test, the book build included
    python3 tasks.py package          # sdist + wheel, twine check, every chapter run from the wheel
    python3 tasks.py sync-notebooks   # rewrite every notebook's install cell (tools/)

The environment is the pinned ``requirements.txt`` in ``.venv``; it is rebuilt
only when ``requirements.txt`` or ``pyproject.toml`` change. ``test`` also
installs Debian's Chromium for the browser test when it is missing and the
command runs as root on a Debian-like system (as in CI); elsewhere the browser
test is skipped with a message saying how to install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".lossbook-requirements.sha256"
BUILD_COMMAND = ["jupyter-book", "build", ".", "-W", "-n", "--keep-going"]


def run(command: list[str | Path], **kwargs: object) -> None:
    """Run a command from the repository root, stopping at the first failure."""
    shown = " ".join(str(part) for part in command)
    print(f"\n$ {shown}", flush=True)
    started = time.perf_counter()
    result = subprocess.run([str(part) for part in command], cwd=ROOT, **kwargs)  # type: ignore[call-overload]
    print(f"({time.perf_counter() - started:.1f} s)", flush=True)
    if result.returncode != 0:
        sys.exit(result.returncode)


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in ("requirements.txt", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the pinned requirements unless already current."""
    if not PYTHON.exists():
        run([sys.executable, "-m", "venv", VENV])
    wanted = requirements_digest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    run([PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run([PYTHON, "-m", "pip", "install", "--quiet", "-r", "requirements.txt"])
    STAMP.write_text(wanted + "\n")


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def build_book() -> None:
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    run(BUILD_COMMAND, env=venv_env())
    print(f"\nThe book is in {ROOT / '_build' / 'html' / 'index.html'}")


def ensure_chromium() -> None:
    """Install Debian's Chromium when missing and we may (root, apt-get present)."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        print("Chromium not found and cannot be installed here; the browser test will be skipped.")
        return
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=apt_env)
    run(["apt-get", "install", "-y", "-qq", "chromium"], env=apt_env)


def test() -> None:
    ensure_chromium()
    ensure_npm_packages()
    build_book()
    build_pdf()
    run(
        [
            PYTHON, "-m", "pytest", "tests", "lossbook", "book",
            "--nbval", "--nbval-current-env",
            "--nbval-sanitize-with", "book/sanitize.cfg",
            "-p", "no:cacheprovider",
        ],
        env=venv_env(),
    )


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
    run(["npm", "install", "--silent", "--no-save", "--no-audit", "--no-fund",
         "--prefix", NPM_PREFIX, *missing])
    for name, version in NPM_PACKAGES.items():
        (NPM_PREFIX / "node_modules" / name / f".lossbook-{version}").touch()


def build_pdf() -> None:
    """Print the single-page build (_build/html/book/print.html) to _build/html/lossbook.pdf."""
    run([PYTHON, "-m", "tools.print_pdf"], env=venv_env())


def book() -> None:
    build_book()
    build_pdf()


def sync_notebooks() -> None:
    run([PYTHON, "-m", "tools.sync_notebooks"], env=venv_env())


def package() -> None:
    """Build the sdist and wheel, check them, then run every chapter from the wheel alone."""
    run([PYTHON, "-m", "pip", "install", "--quiet", *PACKAGING_TOOLS], env=venv_env())
    shutil.rmtree(ROOT / "dist", ignore_errors=True)
    run([PYTHON, "-m", "build", "--outdir", "dist", "."], env=venv_env())
    dist = sorted((ROOT / "dist").iterdir())
    run([PYTHON, "-m", "twine", "check", "--strict", *dist], env=venv_env())
    wheels = [path for path in dist if path.suffix == ".whl"]
    run([PYTHON, "-m", "tools.notebooks_anywhere", *wheels], env=venv_env())


def main() -> None:
    commands = {"book": book, "test": test, "package": package, "sync-notebooks": sync_notebooks}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    ensure_environment()
    commands[sys.argv[1]]()


if __name__ == "__main__":
    main()
