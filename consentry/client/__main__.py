"""``python -m consentry.client``: see :mod:`consentry.client.cli`."""

import sys

from consentry.client.cli import main

sys.exit(main())
