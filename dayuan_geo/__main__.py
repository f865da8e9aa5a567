import sys

from dayuan_geo.cli.main import main

sys.exit(main())
