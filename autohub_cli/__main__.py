"""`python -m autohub_cli` is the `autohub` command."""

from .entry import main

if __name__ == "__main__":
    main()
