"""``python -m bench [list | NAME [ARGS...]]``: list or run the benchmarks in bench/."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from bench import BENCHMARKS


def _load() -> dict[str, ModuleType]:
    modules = [importlib.import_module(path) for path in BENCHMARKS]
    return {module.NAME: module for module in modules}


def main(argv: list[str]) -> int:
    benchmarks = _load()
    if argv[:1] in (["list"], ["-h"], ["--help"]):
        print("usage: python -m bench [list | NAME [ARGS...]]\n")
        for name, module in benchmarks.items():
            print(f"  {name:<18} {module.DESCRIPTION}")
        return 0
    if argv:
        name, *rest = argv
        if name not in benchmarks:
            print(f"unknown benchmark {name!r}; try: python -m bench list", file=sys.stderr)
            return 2
        code: int = benchmarks[name].main(rest)
        return code
    status = 0
    rows: list[tuple[str, str, str, str]] = []
    for name, module in benchmarks.items():
        print(f"== {name}: {module.DESCRIPTION}", flush=True)
        status = max(status, module.main([]))
        rows += getattr(module, "summary", [])
        print(flush=True)
    print_summary(rows)
    return status


def print_summary(rows: list[tuple[str, str, str, str]]) -> None:
    """One table of every benchmark's headline figures, each against its baseline measured in
    the same run."""
    header = ("figure", "value", "baseline", "ratio")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    print("== summary")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(
                str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
