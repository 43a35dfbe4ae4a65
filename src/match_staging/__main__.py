from match_staging.cli import main

raise SystemExit(main())
