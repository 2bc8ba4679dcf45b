"""``python -m flowstone.cli``: the ``flowstone`` command without the console script."""

from flowstone.cli import main

main()
