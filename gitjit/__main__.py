from gitjit.cli import main

raise SystemExit(main())
