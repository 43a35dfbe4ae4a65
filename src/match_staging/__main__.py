"""`python -m match_staging`: the same command line as `match-staging`."""

from match_staging.cli import main

raise SystemExit(main())
