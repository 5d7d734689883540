"""``python -m ledger.verify``: see :mod:`ledger.verify`."""

import sys

from ledger.verify.cli import main

if __name__ == "__main__":
    sys.exit(main())
