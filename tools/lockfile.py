"""Keep ``requirements.lock`` honest: ``stamp`` records what it was compiled from, ``check``
fails loudly when ``pyproject.toml`` has changed since (``make lock`` regenerates it).

The lock (``uv pip compile --generate-hashes --universal``) pins every package with its hashes;
``make run``, ``make test`` and ``.ci/run`` install from it with ``pip --require-hashes``. The
fingerprint is a SHA-256 of the dependency lists and ``requires-python``, so editing comments or
other sections of ``pyproject.toml`` does not make the lock stale, and adding a dependency does.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
MARKER = "# chorus-lock-fingerprint: "


def fingerprint() -> str:
    project = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]
    inputs = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "dev": sorted(project.get("optional-dependencies", {}).get("dev", [])),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def recorded() -> str | None:
    if not LOCK.exists():
        return None
    for line in LOCK.read_text("utf-8").splitlines():
        if line.startswith(MARKER):
            return line.removeprefix(MARKER).strip()
    return None


def stamp() -> int:
    lines = [line for line in LOCK.read_text("utf-8").splitlines() if not line.startswith(MARKER)]
    LOCK.write_text("\n".join([MARKER + fingerprint(), *lines]) + "\n", "utf-8")
    return 0


def check() -> int:
    found = recorded()
    if found == fingerprint():
        return 0
    why = "is missing" if not LOCK.exists() else "does not match pyproject.toml's dependencies"
    print(
        f"requirements.lock {why}: run `make lock` (it resolves from PyPI with hashes) and"
        " commit the result; nothing was installed.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    commands = {"stamp": stamp, "check": check}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print("usage: python tools/lockfile.py stamp|check", file=sys.stderr)
        sys.exit(2)
    sys.exit(commands[sys.argv[1]]())
