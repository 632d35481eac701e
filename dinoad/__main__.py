from dinoad.cli import main

raise SystemExit(main())
