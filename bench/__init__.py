"""gitjit's benchmark suite: ``python -m bench`` (or ``bench/run.sh``) from the repository root.

``bench.suite`` builds repositories of 1,000, 10,000 and 100,000 issues and measures what issue 4
asks for; ``bench_sync`` and ``bench_hooks`` measure sharing and the git hooks. Results go to
``docs/performance.md`` (and ``bench/results.json``)."""
