#!/usr/bin/env bash
# Holds the demo's OpenAPI documents to their word. For every dialect on
# both frameworks, and the standard dialect in cookie mode on both, this
# starts the demo on a free loopback port, fetches `GET /openapi.json`,
# validates it (OpenAPI 3.1, openapi-spec-validator), then runs schemathesis
# against the running demo: every response must be no 5xx and must match
# the document's statuses, content types, headers and schemas. A valid
# credential comes from `.ci/schemathesis_hooks.py`, which logs in as the
# demo user. All runs happen; the script then fails if any failed, naming
# them.
#
# Usage, from anywhere: bash .ci/openapi.sh
#
# Environment (all optional):
#   OPENAPI_VENV          a virtualenv to reuse; made there, or brought to the
#                         pinned versions, if it lacks them (default: a new
#                         one in a temporary directory)
#   OPENAPI_ONLY          run names to run, space-separated (e.g.
#                         "standard-axum cookies-actix"); default: all 14
#   OPENAPI_MAX_EXAMPLES  fuzzing examples per operation (default 25)
#   OPENAPI_SEED          the seed (default 20260101)
#   OPENAPI_CHECKS        schemathesis checks (default: the ten below)
#   OPENAPI_REPORT_DIR    keep each run's JUnit and HAR reports under it
#   DEMO_BIN              a demo binary to run instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
SEED="${OPENAPI_SEED:-20260101}"
MAX_EXAMPLES="${OPENAPI_MAX_EXAMPLES:-25}"
# The five conformance checks, and every other check these documents hold to (the
# README names the four left out, and why).
CHECKS="${OPENAPI_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,missing_required_header,unsupported_method,use_after_free,ensure_resource_availability,object_level_authorization}"
# the phases that need no links between operations; `stateful` is left out
# (it needs OpenAPI links to do anything useful, and costs the most)
PHASES=examples,coverage,fuzzing
RUN_TIMEOUT=300 # seconds, one schemathesis run at most

WORK="$(mktemp -d)"
DEMO_PID=""
RUN_PID="" # schemathesis (under `timeout`, which passes a TERM on)
stop_demo() {
  if [ -n "$DEMO_PID" ]; then
    kill "$DEMO_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$DEMO_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
    DEMO_PID=""
  fi
}
cleanup() {
  if [ -n "$RUN_PID" ]; then
    kill "$RUN_PID" 2>/dev/null || true
    wait "$RUN_PID" 2>/dev/null || true
  fi
  stop_demo
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools -----------------------------------------------------------------

venv_ok() { # path: has the pinned versions
  [ -x "$1/bin/python" ] && "$1/bin/python" - "$SCHEMATHESIS_VERSION" "$SPEC_VALIDATOR_VERSION" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
ok = m.version("schemathesis") == sys.argv[1] and m.version("openapi-spec-validator") == sys.argv[2]
sys.exit(0 if ok else 1)
PY
}

VENV="${OPENAPI_VENV:-$WORK/venv}"
if venv_ok "$VENV"; then
  echo "== reusing the virtualenv $VENV"
else
  echo "== virtualenv $VENV: schemathesis $SCHEMATHESIS_VERSION, openapi-spec-validator $SPEC_VALIDATOR_VERSION"
  if [ ! -x "$VENV/bin/python" ] && ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 makes virtualenvs only with python3-venv
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
  venv_ok "$VENV" || { echo "the virtualenv $VENV lacks the pinned versions"; exit 1; }
fi
PY="$VENV/bin/python"

if [ -n "${DEMO_BIN:-}" ]; then
  echo "== using DEMO_BIN=$DEMO_BIN"
else
  echo "== cargo build -p examples --example demo"
  # cargo names the binary it built (wherever CARGO_TARGET_DIR puts it)
  DEMO_BIN="$(cargo build -p examples --example demo --message-format=json-render-diagnostics \
    | "$PY" -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "demo" and msg.get("executable"):
        print(msg["executable"])
')"
fi
[ -x "$DEMO_BIN" ] || { echo "no demo binary at '$DEMO_BIN'"; exit 1; }

# A helper: `wait URL PID SECONDS` (until the server answers anything) and
# `fetch URL FILE` (a 200 JSON document whose `openapi` is 3.1.x).
cat > "$WORK/helper.py" <<'PY'
import json, os, sys, time, urllib.error, urllib.request

def wait(url, pid, seconds):
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid), 0)
        except OSError:
            sys.exit("the demo exited before it answered")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # an answer, whatever its status
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the demo did not answer at {url} within {seconds}s")

def fetch(url, path):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        sys.exit(f"GET {url}: {err.code} {err.read()[:200]!r}")
    try:
        doc = json.loads(body)
    except ValueError as err:
        sys.exit(f"GET {url}: not JSON: {err}")
    version = doc.get("openapi") if isinstance(doc, dict) else None
    if not (isinstance(version, str) and version.startswith("3.1")):
        sys.exit(f"GET {url}: `openapi` is {version!r}, not 3.1.x")
    with open(path, "wb") as out:
        out.write(body)
    ops = sum(1 for item in doc.get("paths", {}).values() for m in item if m in
              ("get", "put", "post", "delete", "options", "head", "patch", "trace"))
    print(f"openapi {version}, {len(doc.get('paths', {}))} paths, {ops} operations")

{"wait": wait, "fetch": fetch}[sys.argv[1]](*sys.argv[2:])
PY

# The config schemathesis reads (so none from the repository or its
# parents); the rest is on the command line. `missing_auth`: an operation
# that declares security but answered (nearly) only 401/403 to the hook's
# credential fails the run, so a hook that stops working cannot pass quietly.
cat > "$WORK/schemathesis.toml" <<'TOML'
[warnings]
fail-on = ["missing_auth"]
TOML

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- one run ---------------------------------------------------------------

# name, then the demo's arguments
RUNS=()
for framework in axum actix; do
  for dialect in standard echome datarhei sachet keytoken drf; do
    RUNS+=("$dialect-$framework|--framework $framework --dialect $dialect")
  done
  RUNS+=("cookies-$framework|--framework $framework --dialect standard --cookies --insecure-cookies")
done

FAILED=()
SUMMARY=()
run_one() { # name, demo arguments
  local name="$1" args="$2" dialect cookies port base log doc hook_log status started
  dialect="$(sed -n 's/.*--dialect \([a-z]*\).*/\1/p' <<<"$args")"
  cookies=0
  case "$args" in *--cookies*) cookies=1 ;; esac
  log="$WORK/$name.demo.log"
  doc="$WORK/$name.openapi.json"
  hook_log="$WORK/$name.hook.log"
  started=$SECONDS
  echo
  echo "== $name: demo $args"

  # a free port can be taken between the look and the bind: try again
  for _ in 1 2 3; do
    port="$(free_port)"
    base="http://127.0.0.1:$port"
    # shellcheck disable=SC2086 # the arguments are words
    "$DEMO_BIN" $args --addr "127.0.0.1:$port" --refusal-delay 0s >"$log" 2>&1 &
    DEMO_PID=$!
    if "$PY" "$WORK/helper.py" wait "$base/openapi.json" "$DEMO_PID" 60; then
      break
    fi
    stop_demo
    grep -qi "in use" "$log" || break
  done
  if [ -z "$DEMO_PID" ]; then
    echo "-- the demo did not start; its log:"
    tail -n 20 "$log"
    FAILED+=("$name (demo did not start)")
    SUMMARY+=("$name: demo did not start")
    return
  fi

  if ! "$PY" "$WORK/helper.py" fetch "$base/openapi.json" "$doc"; then
    FAILED+=("$name (GET /openapi.json)")
    SUMMARY+=("$name: no OpenAPI 3.1 document")
    stop_demo
    return
  fi
  local verdict
  if ! verdict="$("$VENV/bin/openapi-spec-validator" --schema 3.1 --validation-errors all "$doc" 2>&1)"; then
    # its errors quote the whole offending part of the document: cut
    cut -c1-400 <<<"$verdict" | head -n 60
    FAILED+=("$name (openapi-spec-validator)")
    SUMMARY+=("$name: invalid OpenAPI 3.1 document")
    stop_demo
    return
  fi
  echo "$verdict"

  local report=()
  if [ -n "${OPENAPI_REPORT_DIR:-}" ]; then
    mkdir -p "$OPENAPI_REPORT_DIR/$name"
    report=(--report "junit,har" --report-dir "$OPENAPI_REPORT_DIR/$name" --output-sanitize false)
  fi
  status=0
  # In $WORK, so that schemathesis and Hypothesis write nothing into the
  # repository; in the background, so that a signal to this script is
  # handled at once (the trap stops it and the demo).
  (
    cd "$WORK"
    export DEMO_DIALECT="$dialect" DEMO_BASE_URL="$base" DEMO_COOKIES="$cookies" DEMO_HOOK_LOG="$hook_log"
    export SCHEMATHESIS_HOOKS="$REPO/.ci/schemathesis_hooks.py" PYTHONDONTWRITEBYTECODE=1
    exec timeout "$RUN_TIMEOUT" "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" --no-color \
      run "$doc" --url "$base" \
      --checks "$CHECKS" \
      --phases "$PHASES" \
      --seed "$SEED" \
      --max-examples "$MAX_EXAMPLES" \
      --workers 1 \
      --generation-database none \
      --request-timeout 10 \
      "${report[@]}" </dev/null
  ) &
  RUN_PID=$!
  wait "$RUN_PID" || status=$?
  RUN_PID=""
  stop_demo
  echo "-- the hook logged in $(grep -c '^login 200' "$hook_log" 2>/dev/null || true) times" \
    "($(grep -vc '^login 200' "$hook_log" 2>/dev/null || true) refused)"
  if [ "$status" -ne 0 ]; then
    echo "-- the demo's log (last lines):"
    tail -n 20 "$log"
    FAILED+=("$name (schemathesis exit $status)")
    SUMMARY+=("$name: FAILED in $((SECONDS - started))s")
  else
    SUMMARY+=("$name: passed in $((SECONDS - started))s")
  fi
}

for run in "${RUNS[@]}"; do
  name="${run%%|*}"
  if [ -n "${OPENAPI_ONLY:-}" ] && [[ " $OPENAPI_ONLY " != *" $name "* ]]; then
    continue
  fi
  run_one "$name" "${run#*|}"
done

echo
echo "== OpenAPI conformance (schemathesis $SCHEMATHESIS_VERSION, seed $SEED, $MAX_EXAMPLES examples per operation)"
printf '  %s\n' "${SUMMARY[@]}"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "FAILED: ${FAILED[*]}"
  exit 1
fi
echo "all ${#SUMMARY[@]} runs passed"
