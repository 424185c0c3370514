#!/usr/bin/env bash
# Set up (see setup.sh) and run the embedded demo. Extra arguments go to `pairflow demo`
# (try --help). Data stays in ./data/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/pairflow demo "$@"
