"""``python -m emo``: the command line."""

from emo.cli import main

main()
