#!/usr/bin/env bash
# The web's API types, generated from the backend's OpenAPI document:
#   web/src/api/openapi.json  the document, as `GET /api/openapi.json` serves it (printed by
#                             `backend openapi`, nothing started);
#   web/src/api/schema.d.ts   its TypeScript types (openapi-typescript, pinned in
#                             web/package.json), aliased by web/src/api/model.ts.
# Run it after changing a route or a DTO, and commit both files.
# `scripts/api-types.sh DIR` writes the two files into DIR instead (the drift check in
# scripts/test-web.sh compares them with the committed ones).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/web/src/api}
mkdir -p "$out"

cd "$root"
# PINGTOWER_PREBUILT=1 (scripts/test.sh, after its test build): that debug binary is fresh.
backend="${CARGO_TARGET_DIR:-$root/target}/debug/backend"
if [ "${PINGTOWER_PREBUILT:-}" != 1 ] || [ ! -x "$backend" ]; then
  cargo build -q -p backend --bin backend
fi
"$backend" openapi > "$out/openapi.json.tmp"
mv "$out/openapi.json.tmp" "$out/openapi.json"

cd "$root/web"
if [ ! -x node_modules/.bin/openapi-typescript ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# --default-non-nullable=false: a field with a default (a check spec's `timeout_ms`…) may be left
# out of a request, so its type stays optional.
node_modules/.bin/openapi-typescript "$out/openapi.json" --default-non-nullable=false --output "$out/schema.d.ts" >/dev/null
