"""Benchmarks run by ``make bench``; each prints its figures. Not run by the test suite."""
