from bench.suite import main

if __name__ == "__main__":  # not when a spawned worker (bench/lean_claims.py) imports it as __mp_main__
    raise SystemExit(main())
