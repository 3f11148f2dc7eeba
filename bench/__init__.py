"""Benchmarks, run by ``make bench`` (``python -m bench``).

Each benchmark is a module in this package with ``NAME``, ``DESCRIPTION`` and
``main(argv) -> int``; ``python -m bench list`` shows them, ``python -m bench NAME [ARGS]`` runs
one, and ``python -m bench`` runs them all with their defaults. Figures are reported in
README.md ("Benchmarks") with the machine they were measured on.
"""

from __future__ import annotations

BENCHMARKS = (
    "bench.scheduler_tick",
    "bench.submission",
    "bench.pwa_first_load",
    "bench.export_throughput",
    "bench.site_pages",
)
