#!/bin/bash
# WEB_CONCURRENCY scaling: client_credentials load from wrk (another process) against the built
# server with 1 and then 2 workers, two rounds. Needs wrk (apt-get install wrk), PostgreSQL and
# Redis on 127.0.0.1 (uses the database oidc_scale, created if missing, and Redis database 4).
set -e
cd "$(dirname "$0")/.."
psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='oidc_scale'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE oidc_scale"
export NODE_ENV=test DATABASE_URL=postgres://postgres@127.0.0.1:5432/oidc_scale REDIS_URL=redis://127.0.0.1:6379/4 LOG_LEVEL=silent
npm run -s build >/dev/null
node dist/src/cli/index.js migrate >/dev/null
CREDS=$(node dist/src/cli/index.js clients add --name scale --grant client_credentials --json 2>/dev/null | tail -1)
ID=$(echo "$CREDS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_id"])')
SECRET=$(echo "$CREDS" | python3 -c 'import json,sys;print(json.load(sys.stdin)["client_secret"])')
AUTH=$(printf '%s:%s' "$ID" "$SECRET" | base64 -w0)
cat > /tmp/cc.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $AUTH"
LUA
for round in 1 2; do
for n in 1 2; do
  PORT=39$((RANDOM % 90 + 10))
  WEB_CONCURRENCY=$n PORT=$PORT ISSUER=http://127.0.0.1:$PORT node dist/src/cli/index.js start > /tmp/scale-$n.log 2>&1 &
  PID=$!
  for i in $(seq 1 50); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.2; done
  wrk -t1 -c32 -d3s -s /tmp/cc.lua http://127.0.0.1:$PORT/token >/dev/null 2>&1 || true
  R=$(wrk -t1 -c32 -d8s -s /tmp/cc.lua http://127.0.0.1:$PORT/token | grep -E "Requests/sec|Non-2xx" | tr '\n' ' ')
  echo "round $round workers=$n: $R"
  kill -TERM $PID; wait $PID 2>/dev/null || true
done
done
