import sys

if sys.argv[1:3] == ["hook", "run"]:
    # what the hook shims run: the light entry of the 'jit' console script (no click, no CLI import)
    from gitjit.fast import main
else:
    from gitjit.cli import main

raise SystemExit(main())
