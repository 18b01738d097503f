#!/bin/sh
# The whole benchmark in one run: sizes 1,000 / 10,000 / 100,000 (add --quick for 200 / 1,000).
# Writes docs/performance.md and bench/results.json. Run it on an otherwise idle machine.
cd "$(dirname "$0")/.." && exec python -m bench "$@"
