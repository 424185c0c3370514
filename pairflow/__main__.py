"""Allow ``python -m pairflow``."""

from pairflow.cli import main

main()
