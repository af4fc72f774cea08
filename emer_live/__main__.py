from emer_live.cli import main

raise SystemExit(main())
