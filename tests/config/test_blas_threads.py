"""One OpenBLAS thread a process (config/__init__.py, consentry/client/__main__.py), unless the
operator's environment says otherwise: idle OpenBLAS threads spin after each product and took
0.08 to 0.1 s of CPU a track from ``import_content``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The OpenBLAS thread pools NumPy and SciPy loaded, as threadpoolctl reads them.
PROBE = """
import numpy, scipy.linalg, threadpoolctl
pools = [p for p in threadpoolctl.threadpool_info() if p["internal_api"] == "openblas"]
assert pools, threadpoolctl.threadpool_info()
print(max(p["num_threads"] for p in pools))
"""
SERVICE = "import config\n" + PROBE
CLIENT = (
    """
import runpy, sys
sys.argv = ["consentry.client", "--help"]
try:
    runpy.run_module("consentry.client", run_name="__main__")
except SystemExit:
    pass
"""
    + PROBE
)


def threads(code: str, **extra: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | extra
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("code", [SERVICE, CLIENT], ids=["service", "client"])
def test_one_blas_thread_unless_the_environment_says_otherwise(code: str) -> None:
    assert threads(code) == 1
    # The probe can see more than one: the operator's own value wins.
    assert threads(code, OPENBLAS_NUM_THREADS="2") == 2
