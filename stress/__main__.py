"""``python -m stress [kill9 | flaky | two_servers ...]``: run the reliability scenarios."""

from __future__ import annotations

import argparse
import sys

from stress import scenarios


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress", description=__doc__)
    parser.add_argument("names", nargs="*", default=list(scenarios.SCENARIOS))
    parser.add_argument("--submissions", type=int, default=400, help="per scenario and engine")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names:
        if name not in scenarios.SCENARIOS:
            print(f"unknown scenario {name!r}; choose from {', '.join(scenarios.SCENARIOS)}")
            return 2
        for line in scenarios.SCENARIOS[name](args.submissions):
            print(line, flush=True)
            if line.startswith("FAIL"):
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
