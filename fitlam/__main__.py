

# %% ../nbs/14_cli.ipynb #c641b099
import sys

from fitlam.cli import main

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))

# %% ../nbs/14_cli.ipynb #c641b099
import sys

from fitlam.cli import main

if __name__ == "__main__": sys.exit(main(sys.argv[1:]))