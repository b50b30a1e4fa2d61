#!/bin/bash
# Idle RSS of one worker of the built server in production mode (issues 7 and 15: < 120 MiB per
# worker). Starts `node dist/src/cli/index.js start` with NODE_ENV=production (no emulator, no
# demo, no tsx), waits for /readyz, and prints VmRSS (anonymous memory, and what is file-backed)
# at 5 s, 30 s and 60 s after start, then after RSS_REQUESTS (200 000) client_credentials
# requests, after the same number again (growth between the two is what the load leaves behind),
# and after 60 s of rest (V8 gives memory back when it is idle after activity). Needs PostgreSQL
# and Redis on 127.0.0.1 (database oidc_rss, re-created; Redis db 5, flushed).
set -euo pipefail
cd "$(dirname "$0")/.."
PSQL="psql -h 127.0.0.1 -U postgres -q"
$PSQL -c "DROP DATABASE IF EXISTS oidc_rss" && $PSQL -c "CREATE DATABASE oidc_rss"
redis-cli -n 5 FLUSHDB >/dev/null
PORT=$((39000 + RANDOM % 900))
export NODE_ENV=production PORT ISSUER=https://sso.example.test TRUST_PROXY=true \
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/oidc_rss REDIS_URL=redis://127.0.0.1:6379/5 \
  KEY_ENCRYPTION_SECRET=$(openssl rand -base64 32) COOKIE_SECRETS=$(openssl rand -base64 32) METRICS_TOKEN=$(openssl rand -hex 16) \
  DINGTALK_CLIENT_ID=dingbench DINGTALK_CLIENT_SECRET=$(openssl rand -hex 20) DINGTALK_CORP_ID=dingbench
npm run -s build >/dev/null
node dist/src/cli/index.js migrate >/dev/null 2>&1
CREDS=$(node dist/src/cli/index.js clients add --name rss --grant client_credentials --json 2>/dev/null | tail -1)
ID=$(echo "$CREDS" | node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).client_id))')
SECRET=$(echo "$CREDS" | node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).client_secret))')
node dist/src/cli/index.js start >/dev/null 2>/tmp/rss-server.log &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true' EXIT
START=$(date +%s)
for _ in $(seq 1 100); do curl -sf -H 'x-forwarded-proto: https' "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
rss() {
  local rss anon
  rss=$(awk '/^Rss:/ {print $2}' /proc/$PID/smaps_rollup)
  anon=$(awk '/^Anonymous:/ {print $2}' /proc/$PID/smaps_rollup)
  printf '%-30s VmRSS %4d MiB = anonymous (heap, stacks) %4d + file-backed (node binary, libraries) %3d\n' \
    "$1" $((rss / 1024)) $((anon / 1024)) $(((rss - anon) / 1024))
}
at() { sleep $(($1 - ($(date +%s) - START))); rss "idle, ${1} s after start"; }
at 5; at 30; at 60
N=${RSS_REQUESTS:-200000}
load() {
  npx autocannon -c 16 -a "$N" -m POST -H 'x-forwarded-proto: https' \
    -H "authorization: Basic $(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)" \
    -H 'content-type: application/x-www-form-urlencoded' -b 'grant_type=client_credentials' \
    "http://127.0.0.1:$PORT/token" 2>&1 | grep -E 'requests in|2xx' || true
}
load; rss "right after $N requests"
load; rss "right after $((2 * N)) requests"
sleep 60
rss "60 s after the load"
