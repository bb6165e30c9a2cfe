#!/usr/bin/env bash
# Rebuilds console/dist from the sources with the locked toolchain.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
npm run --silent check
npm run --silent build
