"""``python -m chapter3.adder``: see :mod:`chapter3.adder.cli`."""

import sys

try:
    from chapter3.adder.cli import main

    status = main()
except KeyboardInterrupt:  # Ctrl-C while torch is still being imported
    print("interrupted (Ctrl-C)", file=sys.stderr)
    status = 130
sys.exit(status)
