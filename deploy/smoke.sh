#!/usr/bin/env bash
# The README's "Deployment" steps, one after the other, on PostgreSQL and without Docker:
# migrate, create an org with a mapping and a SCIM token, start gunicorn, the scheduler and
# the outbox worker, then check /readyz and make SCIM requests with the token.
#
#   DATABASE_URL=postgresql+psycopg://user@host/empty_db bash deploy/smoke.sh
#
# `rolebridge` and `gunicorn` come from PATH (step 2, the install, is the caller's).
# Logs and the token (mode 0600) stay in $SMOKE_DIR (a temporary folder by default).
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database}"
case "$DATABASE_URL" in
    postgresql*) ;;
    *) echo "smoke: DATABASE_URL must name a PostgreSQL database" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${SMOKE_DIR:-$(mktemp -d)}"
mkdir -p "$work"
port="${SMOKE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
base="http://127.0.0.1:$port"

# step 3: configuration through the environment
export ROLEBRIDGE_INSTANCE="$work/instance"
export ROLEBRIDGE_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export ROLEBRIDGE_BASE_URL="$base"
export ROLEBRIDGE_BIND="127.0.0.1:$port"
export ROLEBRIDGE_WEB_WORKERS=2
export PROMETHEUS_MULTIPROC_DIR="$work/metrics"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
step() { echo "smoke: $*"; }

# http METHOD PATH [BODY]: prints "STATUS BODY"; the token goes through the environment
http() {
    SMOKE_METHOD="$1" SMOKE_URL="$base$2" SMOKE_BODY="${3:-}" python3 - <<'PY'
import os, urllib.request, urllib.error
body = os.environ["SMOKE_BODY"].encode() or None
request = urllib.request.Request(os.environ["SMOKE_URL"], data=body, method=os.environ["SMOKE_METHOD"])
if os.environ.get("SMOKE_TOKEN"):
    request.add_header("Authorization", "Bearer " + os.environ["SMOKE_TOKEN"])
if body:
    request.add_header("Content-Type", "application/scim+json")
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
except OSError as error:
    print(0, error)
PY
}

step "4. migrate"
rolebridge db upgrade
rolebridge db check

step "5. organisation, mapping, SCIM token"
org="smoke-$$"
rolebridge org create "$org" --role-model aihub
rolebridge mapping set --org "$org" "$root/examples/aihub/mapping.yaml"
SMOKE_TOKEN="$(rolebridge token create --org "$org" --name smoke 2>/dev/null)"
(umask 077 && printf '%s' "$SMOKE_TOKEN" >"$work/token")

step "6. web (gunicorn, $ROLEBRIDGE_WEB_WORKERS workers on $ROLEBRIDGE_BIND)"
gunicorn -c python:scim_server.gunicorn_conf 'scim_server:create_app()' >"$work/web.log" 2>&1 &
pids+=($!)

step "7. scheduler and outbox worker"
rolebridge scheduler --refresh 5 >"$work/scheduler.log" 2>&1 &
pids+=($!)
rolebridge outbox work --interval 2 >"$work/outbox.log" 2>&1 &
pids+=($!)

step "8. readiness"
ready=""
for _ in $(seq 120); do
    answer="$(http GET /readyz)"
    if [ "${answer%% *}" = 200 ]; then ready=yes; break; fi
    sleep 0.5
done
[ -n "$ready" ] || { echo "smoke: /readyz never became ready: $answer" >&2; cat "$work/web.log" >&2; exit 1; }
echo "  /readyz: ${answer#* }"

step "8. SCIM requests with the token"
export SMOKE_TOKEN
created="$(http POST /scim/v2/Users '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@smoke.example", "emails": [{"value": "ada@smoke.example", "primary": true}]}')"
[ "${created%% *}" = 201 ] || { echo "smoke: SCIM POST /Users answered: $created" >&2; exit 1; }
found="$(http GET '/scim/v2/Users?filter=userName%20eq%20%22ada@smoke.example%22')"
case "$found" in
    "200 "*'"totalResults": 1'*) echo "  SCIM: created and found ada@smoke.example" ;;
    *) echo "smoke: SCIM GET /Users answered: $found" >&2; exit 1 ;;
esac
unauthorised="$(SMOKE_TOKEN=wrong http GET /scim/v2/Users)"
[ "${unauthorised%% *}" = 401 ] || { echo "smoke: a wrong token got: $unauthorised" >&2; exit 1; }

metrics="$(SMOKE_TOKEN= http GET /metrics)"
case "$metrics" in
    *'rolebridge_scim_requests_total{method="POST",resource="Users",status="201"}'*) echo "  /metrics counts the SCIM requests" ;;
    *) echo "smoke: /metrics lacks the SCIM request counter" >&2; exit 1 ;;
esac
for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "smoke: a process exited early (see $work)" >&2; exit 1; }
done
echo "smoke: ok"
