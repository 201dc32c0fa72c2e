"""Allow ``python -m bitgoeul``."""

from bitgoeul.cli import main

main()
