"""Benchmarks run by ``make bench``; each prints its figures. Not run by the test suite."""

# The service's process settings (config/__init__.py: one OpenBLAS thread a process), before
# any benchmark imports NumPy: the figures are the service's.
import config  # noqa: F401
