"""`python -m autohub_cli` is the `autohub` command."""

from .cli import app

if __name__ == "__main__":
    app(prog_name="autohub")
