"""Project configuration: settings, the Celery app, URLs and the embedded-mode helpers."""

import os

# One BLAS thread a process, unless the operator says otherwise: Consentry's workers are
# processes, and OpenBLAS's idle threads spin after every product, on the core another process
# needs (import_content: 0.08 to 0.1 s of CPU a track, docs/matching.md). OpenBLAS reads the
# variable once, when NumPy or SciPy loads it, so it is set before any of them is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from config.celery import app as celery_app

__all__ = ["celery_app"]
