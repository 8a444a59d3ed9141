"""``python -m STpuppeteer`` runs the command line."""

from STpuppeteer.cli import main

raise SystemExit(main())
