"""The long measurements of ``make bench`` (``python -m bench``): a tool of this repository,
not a part of the ``chapter3`` package. See :mod:`bench.run`."""
