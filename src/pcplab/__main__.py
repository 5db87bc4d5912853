"""``python -m pcplab``: the same command as ``pcplab``."""

from pcplab.cli import main

if __name__ == "__main__":
    main()
