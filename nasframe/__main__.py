"""``python -m nasframe`` (and ``torchrun -m nasframe``) runs the command line."""

from nasframe.cli import main

main()
