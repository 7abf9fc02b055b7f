"""`python -m netra_ops` is `netra-ops`."""

from netra_ops.cli import main

main()
