#!/usr/bin/env python
"""Django's habitual entry point; `hospitium` (the console script) is the same thing."""

import sys

from hospitium.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
