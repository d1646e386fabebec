#!/usr/bin/env bash
# The README's quickstarts, as a newcomer meets them: for each framework, a
# fresh crate outside this workspace whose Cargo.toml is the README's
# `[dependencies]` block (path dependencies on this checkout) plus its
# `[profile.dev.package]` lines, and whose
# src/main.rs is the README's code block, which must equal
# examples/<framework>_quickstart.rs. It is built, run with JWT_SECRET, and
# driven with curl: login, a protected route, a role, an optional route, a
# garbage token, an unknown path. The README's Browsers section's cookie-mode
# app (equal to examples/<framework>_cookies.rs) is a second binary of the
# same crate, driven the same way: cookies set, CSRF refusals, logout. The
# OpenAPI section's app (equal to examples/<framework>_openapi.rs) is a third:
# its `GET /openapi.json` must list the auth routes and `/me` with the
# guard's security, and `/me` must answer as documented.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -9 "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# One target directory for both crates (the second reuses what the first built).
export CARGO_TARGET_DIR="${QUICKSTART_TARGET_DIR:-$ROOT/target/quickstarts}"
# Built only to be run here once: no debug info, to spare the disk.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-false}"

# The fenced block that follows the line `<!-- NAME -->` in the README.
block() {
  awk -v marker="<!-- $1 -->" '
    $0 == marker { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' "$ROOT/README.md"
}

fail() { echo "quickstart $1: $2" >&2; exit 1; }

# `stop FRAMEWORK WHAT`: SIGTERM to the running app (a graceful stop, as
# `docker stop` or systemd sends), then up to 10 s for it to exit. An app
# still running then is killed, with a warning on stderr: the answers this
# script checks were all as documented by then. (actix-server before 2.10
# had a worker race that could leave a server running for ever after
# SIGTERM; CI hung on it once.)
stop() {
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PID" 2>/dev/null; then
    echo "WARNING: quickstart $1: $2 did not exit within 10 s of SIGTERM; killed" >&2
    kill -9 "$PID" 2>/dev/null || true
  fi
  wait "$PID" 2>/dev/null || true
  PID=""
}

# `start FRAMEWORK BINARY LOG URL`: runs the built BINARY with a fresh
# JWT_SECRET, its output in LOG, until URL answers (PID is its process).
start() {
  local fw="$1" binary="$2" log="$3" probe="$4"
  JWT_SECRET="$(head -c 32 /dev/urandom | base64)" "$CARGO_TARGET_DIR/debug/$binary" > "$log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$probe" && return 0
    kill -0 "$PID" 2>/dev/null || fail "$fw" "$binary exited: $(cat "$log")"
    sleep 0.1
  done
}

# `expect FRAMEWORK WHAT STATUS CURL-ARGS...`: the status curl gets must be STATUS.
expect() {
  local fw="$1" what="$2" want="$3"; shift 3
  local got
  got="$(curl -s -o "$WORK/body" -w '%{http_code}' "$@")"
  [ "$got" = "$want" ] || fail "$fw" "$what: expected $want, got $got: $(cat "$WORK/body")"
}

for fw in axum actix; do
  crate="$WORK/$fw-quickstart"
  mkdir -p "$crate/src"
  block "quickstart-$fw-code" > "$crate/src/main.rs"
  [ -s "$crate/src/main.rs" ] || fail "$fw" "no code block in the README"
  diff -u "$ROOT/examples/${fw}_quickstart.rs" "$crate/src/main.rs" \
    || fail "$fw" "the README's code differs from examples/${fw}_quickstart.rs"
  # the Browsers section's cookie-mode app: a second binary of the same crate
  mkdir -p "$crate/src/bin"
  block "browsers-$fw-code" > "$crate/src/bin/cookies.rs"
  [ -s "$crate/src/bin/cookies.rs" ] || fail "$fw" "no cookie-mode code block in the README"
  diff -u "$ROOT/examples/${fw}_cookies.rs" "$crate/src/bin/cookies.rs" \
    || fail "$fw" "the README's cookie-mode code differs from examples/${fw}_cookies.rs"
  # the OpenAPI section's app: a third binary
  block "openapi-$fw-code" > "$crate/src/bin/openapi.rs"
  [ -s "$crate/src/bin/openapi.rs" ] || fail "$fw" "no OpenAPI code block in the README"
  diff -u "$ROOT/examples/${fw}_openapi.rs" "$crate/src/bin/openapi.rs" \
    || fail "$fw" "the README's OpenAPI code differs from examples/${fw}_openapi.rs"
  deps="$(block "quickstart-$fw-deps")"
  [ -n "$deps" ] || fail "$fw" "no [dependencies] block in the README"
  # the README's path dependencies point at a checkout next to the new crate
  deps="${deps//path = \"..\/tokenauth\//path = \"$ROOT\/}"
  printf '[package]\nname = "%s-quickstart"\nversion = "0.1.0"\nedition = "2024"\n\n%s\n\n%s\n' \
    "$fw" "$deps" "$(block quickstart-profile)" > "$crate/Cargo.toml"
  # the versions this checkout is tested with (cargo drops what the crate does not use)
  cp "$ROOT/Cargo.lock" "$crate/Cargo.lock"
  echo "== $fw quickstart: cargo build (outside the workspace)"
  (cd "$crate" && cargo build --quiet)
  port=3001; [ "$fw" = actix ] && port=3002
  base="http://127.0.0.1:$port"
  start "$fw" "$fw-quickstart" "$WORK/$fw.log" "$base/hello"
  expect "$fw" "login" 200 -X POST "$base/auth/login" -d username=alice -d password=wonderland
  token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$WORK/body")"
  expect "$fw" "wrong password" 400 -X POST "$base/auth/login" -d username=alice -d password=nope
  expect "$fw" "/me with the token" 200 -H "Authorization: Bearer $token" "$base/me"
  expect "$fw" "/me without a token" 401 "$base/me"
  expect "$fw" "/admin with the token" 200 -H "Authorization: Bearer $token" "$base/admin"
  expect "$fw" "/hello anonymous" 200 "$base/hello"
  grep -q "guest" "$WORK/body" || fail "$fw" "/hello anonymous answered $(cat "$WORK/body")"
  expect "$fw" "/hello with the token" 200 -H "Authorization: Bearer $token" "$base/hello"
  grep -q "alice" "$WORK/body" || fail "$fw" "/hello answered $(cat "$WORK/body")"
  expect "$fw" "/hello with a garbage token" 401 -H "Authorization: Bearer garbage" "$base/hello"
  expect "$fw" "an unknown path" 404 "$base/nowhere"
  # a correct app logs no warning and no error (the README's profile keeps argon2 fast)
  ! grep -E "WARN|ERROR" "$WORK/$fw.log" || fail "$fw" "logged a warning or an error: $(cat "$WORK/$fw.log")"
  stop "$fw" "the quickstart app"
  echo "$fw quickstart: built outside the workspace, every answer as documented"

  # cookie mode: the tokens in cookies, CSRF on every POST
  port=3003; [ "$fw" = actix ] && port=3004
  base="http://127.0.0.1:$port"
  start "$fw" cookies "$WORK/$fw-cookies.log" "$base/me"
  own=(-H "Origin: $base" -H "Sec-Fetch-Site: same-origin")
  expect "$fw" "cookie login" 200 -D "$WORK/headers" "${own[@]}" -X POST "$base/auth/login" \
    -d username=alice -d password=wonderland
  grep -q '"access_token"' "$WORK/body" && fail "$fw" "cookie mode answered a token in the body"
  cookie_value() { sed -n "s/^set-cookie: $1=\([^;]*\);.*/\1/Ip" "$WORK/headers" | tr -d '\r' | head -n 1; }
  access="$(cookie_value __Host-access_token)"; csrf="$(cookie_value __Host-csrf_token)"
  [ -n "$access" ] && [ -n "$csrf" ] || fail "$fw" "cookie login set no access or CSRF cookie: $(cat "$WORK/headers")"
  grep -qi '^set-cookie: __Host-access_token=.*HttpOnly.*Secure' "$WORK/headers" \
    || fail "$fw" "the access cookie is not HttpOnly and Secure"
  jar="__Host-access_token=$access; __Host-csrf_token=$csrf"
  expect "$fw" "cookie /me" 200 -H "Cookie: $jar" "$base/me"
  expect "$fw" "cookie POST with the CSRF header" 200 "${own[@]}" -H "Cookie: $jar" -H "X-CSRF-Token: $csrf" \
    -X POST "$base/notes"
  expect "$fw" "cookie POST without the CSRF header" 403 "${own[@]}" -H "Cookie: $jar" -X POST "$base/notes"
  expect "$fw" "cookie POST from another site" 403 -H "Sec-Fetch-Site: cross-site" -H "Cookie: $jar" \
    -H "X-CSRF-Token: $csrf" -X POST "$base/notes"
  expect "$fw" "a Bearer header instead" 200 -H "Authorization: Bearer $access" -X POST "$base/notes"
  expect "$fw" "cookie logout" 204 -D "$WORK/headers" "${own[@]}" -H "Cookie: $jar" -H "X-CSRF-Token: $csrf" \
    -X POST "$base/auth/logout"
  grep -qi '^set-cookie: __Host-access_token=;.*Max-Age=0' "$WORK/headers" || fail "$fw" "logout kept the cookie"
  expect "$fw" "the logged-out cookie" 401 -H "Cookie: $jar" "$base/me"
  ! grep -E "WARN|ERROR" "$WORK/$fw-cookies.log" || fail "$fw" "cookie mode logged: $(cat "$WORK/$fw-cookies.log")"
  stop "$fw" "the cookie-mode app"
  echo "$fw cookie mode: built outside the workspace, every answer as documented"

  # OpenAPI: the app's document with the auth routes nested and /me protected
  port=3008; [ "$fw" = actix ] && port=3009
  base="http://127.0.0.1:$port"
  start "$fw" openapi "$WORK/$fw-openapi.log" "$base/openapi.json"
  expect "$fw" "GET /openapi.json" 200 "$base/openapi.json"
  content_type="$(curl -s -o /dev/null -w '%{content_type}' "$base/openapi.json")"
  [ "$content_type" = "application/json" ] || fail "$fw" "/openapi.json is $content_type, not application/json"
  python3 - "$WORK/body" > "$WORK/openapi-check" 2>&1 <<'PY' || fail "$fw" "the OpenAPI document: $(cat "$WORK/openapi-check")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert str(doc.get("openapi", "")).startswith("3.1"), f"openapi is {doc.get('openapi')!r}"
paths = doc["paths"]
for path in ("/auth/login", "/auth/refresh", "/auth/verify", "/auth/logout"):
    assert "post" in paths.get(path, {}), f"no POST {path} among {sorted(paths)}"
assert "security" not in paths["/auth/login"]["post"], "the login route takes no credential"
me = paths["/me"]["get"]
assert me.get("security") == [{"bearer": []}], f"/me's security is {me.get('security')}"
for status in ("200", "401"):
    assert status in me["responses"], f"/me does not document {status}"
assert "WWW-Authenticate" in me["responses"]["401"].get("headers", {}), "/me's 401 has no WWW-Authenticate"
assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer", "no bearer scheme"
PY
  expect "$fw" "OpenAPI app login" 200 -X POST "$base/auth/login" -d username=alice -d password=wonderland
  token="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$WORK/body")"
  expect "$fw" "OpenAPI app /me with the token" 200 -H "Authorization: Bearer $token" "$base/me"
  grep -q "alice" "$WORK/body" || fail "$fw" "OpenAPI app /me answered $(cat "$WORK/body")"
  expect "$fw" "OpenAPI app /me without a token" 401 "$base/me"
  ! grep -E "WARN|ERROR" "$WORK/$fw-openapi.log" || fail "$fw" "the OpenAPI app logged: $(cat "$WORK/$fw-openapi.log")"
  stop "$fw" "the OpenAPI app"
  echo "$fw OpenAPI: built outside the workspace, the document as documented"
done

# The Operations section's program (equal to examples/axum_metrics.rs), in a
# crate of its own from the section's dependency block: Prometheus' text at
# :9100/metrics with the login counted, and the audit events as JSON lines
# on stderr, without the password.
crate="$WORK/operations"
mkdir -p "$crate/src"
block "operations-axum-code" > "$crate/src/main.rs"
[ -s "$crate/src/main.rs" ] || fail operations "no code block in the README"
diff -u "$ROOT/examples/axum_metrics.rs" "$crate/src/main.rs" \
  || fail operations "the README's Operations code differs from examples/axum_metrics.rs"
deps="$(block "operations-deps")"
[ -n "$deps" ] || fail operations "no [dependencies] block in the Operations section"
deps="${deps//path = \"..\/tokenauth\//path = \"$ROOT\/}"
printf '[package]\nname = "operations"\nversion = "0.1.0"\nedition = "2024"\n\n%s\n\n%s\n' \
  "$deps" "$(block quickstart-profile)" > "$crate/Cargo.toml"
cp "$ROOT/Cargo.lock" "$crate/Cargo.lock"
echo "== operations: cargo build (outside the workspace)"
(cd "$crate" && cargo build --quiet)
base="http://127.0.0.1:3005"
start operations operations "$WORK/operations.log" "$base/me"
expect operations "wrong password" 400 -X POST "$base/auth/login" -d username=alice -d password=not-the-password
expect operations "login" 200 -A "quickstart-agent" -X POST "$base/auth/login" -d username=alice -d password=wonderland
expect operations "metrics" 200 "http://127.0.0.1:9100/metrics"
grep -q '^tokenauth_route_requests_total{dialect="standard",action="login",outcome="ok"} 1$' "$WORK/body" \
  || fail operations "/metrics lacks the login: $(grep tokenauth_ "$WORK/body")"
grep -q '^tokenauth_route_requests_total{dialect="standard",action="login",outcome="bad_credentials"} 1$' "$WORK/body" \
  || fail operations "/metrics lacks the refused login"
grep -q '^# HELP tokenauth_route_requests_total' "$WORK/body" || fail operations "/metrics has no HELP lines"
python3 - "$WORK/operations.log" > "$WORK/operations-check" 2>&1 <<'PY' || fail operations "the audit lines: $(cat "$WORK/operations-check")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
audit = [(l["event"], l["outcome"], l.get("username"), l.get("user_agent")) for l in lines if l.get("target") == "tokenauth::audit"]
assert audit[-2:] == [("login", "bad_credentials", "alice", audit[-2][3]), ("login", "ok", "alice", "quickstart-agent")], audit
text = open(sys.argv[1]).read()
assert "wonderland" not in text and "not-the-password" not in text, "a password in the log"
PY
stop operations "the operations app"
echo "operations: built outside the workspace, /metrics and the audit lines as documented"
