"""``python -m chapter3.adder``: see :mod:`chapter3.adder.cli`."""

import sys

from chapter3.adder.cli import main

sys.exit(main())
