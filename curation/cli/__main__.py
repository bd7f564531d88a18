"""``python -m curation.cli``: the same as the ``curate`` console script."""

from curation.cli import main

main()
