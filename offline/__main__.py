"""`python -m offline preview --stack dev`: see offline/cli.py."""

from offline.cli import main

raise SystemExit(main())
