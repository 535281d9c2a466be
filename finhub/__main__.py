import sys

from finhub.cli import main

sys.exit(main())
