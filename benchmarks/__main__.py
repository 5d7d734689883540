"""``python -m benchmarks``: run every benchmark and print its figures."""

from __future__ import annotations

import os

from benchmarks import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
BENCHMARKS = [broker.main]

for bench in BENCHMARKS:
    bench()
    print()
