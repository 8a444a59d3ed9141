"""``python -m STpuppeteer`` runs the command line."""

import sys

try:
    from STpuppeteer.cli import main
except KeyboardInterrupt:  # interrupted while the libraries load: nothing has been written
    sys.stderr.write("stpuppeteer: interrupted while starting; nothing was written.\n")
    raise SystemExit(130) from None

raise SystemExit(main())
