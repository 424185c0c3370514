"""Allow ``python -m app``, the same as the ``pairflow`` command."""

from app.cli import main

main()
