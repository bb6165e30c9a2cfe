#!/bin/sh
# Generates a TypeScript client from a running server's /v1/openapi.json with
# openapi-typescript and type-checks client.ts against it (strict tsc).
# Usage: tests/openapi-client/check.sh [http://127.0.0.1:8080]
set -eu
url="${1:-http://127.0.0.1:8080}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
curl -fsS "$url/v1/openapi.json" -o "$work/openapi.json"
cp "$here/client.ts" "$work/client.ts"
cd "$work"
npx -y openapi-typescript@7 openapi.json -o api.d.ts
npx -y -p typescript@5 tsc --noEmit --strict client.ts api.d.ts
echo "the client generated from $url/v1/openapi.json type-checks"
