#!/usr/bin/env bash
# The peer we compare against: PostGraphile 5 over the same PostgreSQL database.
#
#   bench/peer.sh start DATABASE_URL   # starts it in the background on 127.0.0.1:$PEER_PORT (5678)
#   bench/peer.sh stop                 # stops it
#   bench/peer.sh pid                  # prints its PID (for RSS readings)
#   bench/peer.sh url                  # prints its GraphQL endpoint
#
# The peer's launcher and pinned dependencies live in $BENCH_PEER_DIR (default
# ../shared/bench-peer beside the project). They are copied into a work directory,
# $BENCH_PEER_WORKDIR (default bench/results/peer-postgraphile, git-ignored), so
# that `npm ci`, the PID file and the log never write into the shared directory;
# BENCH_PEER_INPLACE=1 runs the launcher where it is instead.
# The launcher installs Node 22 and PostGraphile from npm on first use.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${BENCH_PEER_DIR:-$HERE/../../shared/bench-peer}
if [ "${BENCH_PEER_INPLACE:-0}" = 1 ]; then
  WORK=$SRC
else
  WORK=${BENCH_PEER_WORKDIR:-$HERE/results/peer-postgraphile}
fi
export PEER_HOST=127.0.0.1
export PEER_PORT=${PEER_PORT:-5678}

prepare() {
  [ -d "$SRC" ] || { echo "peer directory not found: $SRC (set BENCH_PEER_DIR)" >&2; exit 1; }
  [ "$WORK" = "$SRC" ] && return 0
  mkdir -p "$WORK"
  for f in package.json package-lock.json graphile.config.mjs run.sh; do
    if ! cmp -s "$SRC/$f" "$WORK/$f"; then cp "$SRC/$f" "$WORK/$f"; chmod u+w "$WORK/$f"; fi
  done
}

case "${1:-}" in
  start)
    : "${2:?usage: peer.sh start DATABASE_URL}"
    prepare
    DATABASE_URL=$2 "$WORK/run.sh" --bg
    ;;
  stop)
    if [ -x "$WORK/run.sh" ]; then "$WORK/run.sh" --stop; fi
    ;;
  pid)
    cat "$WORK/peer.pid"
    ;;
  url)
    echo "http://$PEER_HOST:$PEER_PORT/graphql"
    ;;
  *)
    sed -n '2,14p' "$0" >&2
    exit 2
    ;;
esac
