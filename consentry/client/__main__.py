"""``python -m consentry.client``: see :mod:`consentry.client.cli`."""

import os
import sys

# One BLAS thread, as in the service (config/__init__.py): set before NumPy loads OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from consentry.client.cli import main

sys.exit(main())
