"""`python -m fitlam ...` = the `fitlam` command (what `torchrun -m fitlam ...` starts in each process).
Kept by hand, like `__init__.py`: no notebook exports it (see nbs/27_cli.ipynb)."""
import sys

from fitlam.cli import main

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))
