"""Entry point for ``python -m exotwin``."""

from exotwin.cli import main

if __name__ == "__main__":
    main()
