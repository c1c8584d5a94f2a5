#!/usr/bin/env bash
# `npm run demo`: installs what it needs, starts a local registry seeded with example images and
# runs kubectl-images against it. No cluster and no internet needed (packages aside).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ]; then
  # As .ci/run: a large download sometimes fails, and npm ci starts clean each time.
  for attempt in 1 2 3; do
    if npm ci --no-audit --no-fund --loglevel=error; then break; fi
    if ((attempt == 3)); then exit 1; fi
    echo "npm ci failed (attempt $attempt of 3); trying again" >&2
    sleep $((attempt * 10))
  done
fi
if ! command -v docker-registry >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
  else
    echo "the demo needs Debian's docker-registry: sudo apt-get install docker-registry" >&2
    exit 1
  fi
fi
exec node_modules/.bin/node scripts/demo.ts "$@"
