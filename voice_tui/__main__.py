import sys

from voice_tui.cli import main

sys.exit(main())
