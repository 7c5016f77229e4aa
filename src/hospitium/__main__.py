import sys

from hospitium.cli import main

sys.exit(main())
