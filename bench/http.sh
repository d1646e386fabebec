#!/usr/bin/env bash
# HTTP load benchmark: server pinned to CPU 0, wrk pinned to CPU 1, 127.0.0.1 only.
# Runs every pair A B A B ... (ROUNDS times), prints one line per run and the medians.
#
#   bash bench/http.sh            # all suites
#   DUR=5s ROUNDS=3 bash bench/http.sh
#
# Suites:
#   demo     the demo server: GET /public vs GET /whoami (valid token), axum and actix
#   alt      bench-server variants: no auth / ours / hand-written from_fn (axum) /
#            actix-web-httpauth (actix), the same /hello handler; `ours-metrics`: ours with a
#            Prometheus recorder installed (auth-core's metrics really recorded)
#   storm    demo /whoami p99 alone vs while 16 clients hammer POST /auth/login (argon2id)
#            with the right password (a flood of real users)
#   guess    the same with a wrong password (an attacker guessing from one address)
#   device   the owner's logins during a lock-out attack: 16 clients guess the demo user's
#            password from a new address each time (X-Forwarded-For, --trusted-proxy
#            127.0.0.1), while 4 clients log in with the right password, with the device
#            token of an earlier login ("device") or without it from new addresses ("new");
#            each also alone. Login statuses and p99 per run.
#   redis    demo /whoami on --store memory vs --store redis://... (a local redis-server
#            on CPU 1 beside wrk), axum and actix, and Redis commands per request
#   sql      demo /whoami on --store memory vs sqlite://FILE (and vs postgres://... when
#            AUTH_TEST_POSTGRES_URL is set; its server on CPU 1), axum and actix, and
#            PostgreSQL transactions (pg_stat_database: flushed asynchronously, so it lags)
#   mirror   demo /whoami on --store memory vs redis:// vs redis:// --store-mirror vs
#            postgres:// vs postgres:// --store-mirror (the PostgreSQL rows only with
#            AUTH_TEST_POSTGRES_URL), axum and actix; a local redis-server on CPU 1, and the
#            PostgreSQL backends serving the demo pinned to CPU 1 when the server is local.
#            Store round trips per request: Redis top-level commands (INFO commandstats),
#            PostgreSQL transactions (pg_stat_database) and scans of the revoked table
#            (pg_stat_user_tables), read once the statistics are flushed. Not in the
#            default SUITES (about 2 minutes a round):
#              DUR=5s ROUNDS=3 SUITES=mirror bash bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-3}
CONN=${CONN:-64}
SUITES=${SUITES:-"demo alt storm"}
OUT=${OUT:-target/bench-http}
mkdir -p "$OUT"

if ! command -v wrk >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
case " $SUITES " in *" demo "*|*" storm "*|*" guess "*|*" device "*|*" redis "*|*" sql "*|*" mirror "*) cargo build --release -q -p examples --example demo ;; esac
case " $SUITES " in *" alt "*) cargo build --release -q -p bench-servers ;; esac
DEMO=target/release/examples/demo
BENCH=target/release/bench-server

SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
trap stop_server EXIT

# start_server LOG CMD...: starts CMD on CPU 0 and waits for "listening on".
start_server() {
  local log=$1; shift
  taskset -c 0 "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$log" && return 0; sleep 0.1; done
  echo "server did not start: $*" >&2; cat "$log" >&2; exit 1
}

# load NAME URL [HEADER]: one wrk run on CPU 1; appends "NAME rps p50_us p99_us" to $OUT/runs.txt
load() {
  local name=$1 url=$2 header=${3:-}
  local args=(-t1 -c"$CONN" -d"$DUR" --latency)
  [ -n "$header" ] && args+=(-H "$header")
  local res
  res=$(taskset -c 1 wrk "${args[@]}" "$url")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$res")
  p50=$(awk '$1=="50%" {print $2}' <<<"$res")
  p99=$(awk '$1=="99%" {print $2}' <<<"$res")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
  awk '/requests in/ {print $1}' <<<"$res" >"$OUT/last-total"
  if [ -n "$non2xx" ]; then echo "$name: $non2xx non-2xx answers" >&2; exit 1; fi
  printf '%s %s %s %s\n' "$name" "$rps" "$(to_us "$p50")" "$(to_us "$p99")" | tee -a "$OUT/runs.txt"
}

# wrk prints latencies as 123.45us / 1.23ms / 1.02s
to_us() { awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n*1000; else if (v ~ /s$/) print n*1000000; else print n }'; }

token_of() { sed -n 's/^token: //p' "$1"; }

login_token() { # login_token BASE
  curl -s -X POST "$1/auth/login" -H 'content-type: application/json' \
    -d '{"username":"demo","password":"demo-password"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}

: >"$OUT/runs.txt"
REDIS_PORT=6399
stop_redis() { redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }
trap 'stop_server; stop_redis' EXIT
for suite in $SUITES; do
  case $suite in
  sql)
    pg=${AUTH_TEST_POSTGRES_URL:-}
    stores="memory sqlite"
    [ -n "$pg" ] && stores="$stores postgres"
    : >"$OUT/sql-queries.txt"
    for round in $(seq "$ROUNDS"); do
      for fw in axum actix; do
        for store in $stores; do
          rm -f "$OUT"/bench.db*
          flags=()
          [ "$store" = sqlite ] && flags=(--store "sqlite://$OUT/bench.db")
          [ "$store" = postgres ] && flags=(--store "$pg" --store-prefix "bench$round$fw")
          start_server "$OUT/sql-$fw-$store.log" "$DEMO" --framework "$fw" --addr 127.0.0.1:3104 "${flags[@]}"
          tok=$(login_token http://127.0.0.1:3104)
          commits() { psql "$pg" -Atc "select xact_commit from pg_stat_database where datname = current_database()"; }
          [ "$store" = postgres ] && { sleep 1; before=$(commits); }
          load "sql-$fw-$store" http://127.0.0.1:3104/whoami "Authorization: Bearer $tok"
          if [ "$store" = postgres ]; then
            sleep 1 # statistics reach pg_stat_database within a second
            echo "sql-$fw round $round: requests=$(cat "$OUT/last-total") transactions=$(($(commits) - before - 1))" |
              tee -a "$OUT/sql-queries.txt"
          fi
          stop_server
        done
      done
    done
    rm -f "$OUT"/bench.db*
    ;;
  redis)
    command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
    taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --logfile "$(realpath "$OUT")/redis.log" --dir "$(realpath "$OUT")"
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    : >"$OUT/redis-trips.txt"
    for round in $(seq "$ROUNDS"); do
      for fw in axum actix; do
        for store in memory redis; do
          flags=()
          [ "$store" = redis ] && flags=(--store "redis://127.0.0.1:$REDIS_PORT/0" --store-prefix "bench$round$fw")
          start_server "$OUT/redis-$fw-$store.log" "$DEMO" --framework "$fw" --addr 127.0.0.1:3103 "${flags[@]}"
          tok=$(login_token http://127.0.0.1:3103)
          curl -s -o /dev/null -H "Authorization: Bearer $tok" http://127.0.0.1:3103/whoami # loads the script
          redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
          load "redis-$fw-$store" http://127.0.0.1:3103/whoami "Authorization: Bearer $tok"
          if [ "$store" = redis ]; then
            # top-level commands only: calls made inside a script are counted under their
            # own names (get, hget, hmget), never as evalsha
            calls=$(redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' |
              awk -F'[=,:]' '/^cmdstat_/ && !/cmdstat_(get|hget|hmget|info|config)/ {printf "%s=%s ", $1, $3}')
            evalsha=$(redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_evalsha:/ {print $3}')
            echo "redis-$fw round $round: requests=$(cat "$OUT/last-total") $calls per_request=$(awk -v c="$evalsha" -v t="$(cat "$OUT/last-total")" 'BEGIN {printf "%.3f", c / t}')" |
              tee -a "$OUT/redis-trips.txt"
          fi
          stop_server
        done
      done
    done
    stop_redis
    ;;
  mirror)
    pg=${AUTH_TEST_POSTGRES_URL:-}
    stores="memory redis redis-mirror"
    if [ -n "$pg" ]; then
      stores="$stores pg pg-mirror"
    else
      echo "mirror: AUTH_TEST_POSTGRES_URL is not set, so the pg and pg-mirror rows are skipped" >&2
    fi
    command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
    taskset -c 1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
      --logfile "$(realpath "$OUT")/redis.log" --dir "$(realpath "$OUT")"
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    # The PostgreSQL backends can be pinned only when the server runs on this machine.
    pg_host=$(sed -E 's#^[a-z]+://([^@/]*@)?(\[[^]]*\]|[^:/?]*).*#\2#' <<<"$pg")
    case $pg_host in 127.0.0.1 | localhost | "[::1]") pg_local=1 ;; *) pg_local="" ;; esac
    # pin_backends PID: moves the PostgreSQL backends serving PID's connections to CPU 1
    # (PostgreSQL's other processes stay where they are); prints how many.
    pin_backends() {
      local ports pids p n=0
      ports=$(ss -Htnp state established | awk -v pid="pid=$1," 'index($0, pid) { n = split($3, a, ":"); print a[n] }' | paste -sd, -)
      [ -n "$ports" ] || { echo 0; return 0; }
      pids=$(psql "$pg" -Atc "select pid from pg_stat_activity where client_port in ($ports)")
      for p in $pids; do
        if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = postgres ]; then taskset -pc 1 "$p" >/dev/null && n=$((n + 1)); fi
      done
      echo "$n"
    }
    # pg_counts PREFIX: "transactions scans": the database's committed transactions, and
    # the scans of PREFIX_revoked (each check without the mirror reads it once)
    pg_counts() {
      psql "$pg" -Atc "select (select xact_commit from pg_stat_database where datname = current_database()),
        (select coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) from pg_stat_user_tables where relname = '${1}_revoked')" |
        tr '|' ' '
    }
    # redis_top: top-level Redis commands since the last reset, "name=calls ...": the
    # commands the store's Lua scripts call are counted under their own names and left
    # out, as are this script's own INFO and CONFIG RESETSTAT
    redis_top() {
      redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' |
        awk -F'[=,:]' '/^cmdstat_/ && !/^cmdstat_(del|expire|get|hget|hincrby|hmget|hset|publish|set|time|ttl|zadd|zrange|zremrangebyscore|zscore|info|config[|]resetstat):/ {
          sub(/^cmdstat_/, "", $1); printf "%s=%s ", $1, $3 }'
    }
    per() { awk -v c="$1" -v t="$2" 'BEGIN { printf "%.4f", c / t }'; }
    : >"$OUT/mirror-trips.txt"
    : >"$OUT/mirror-ratios.txt"
    for round in $(seq "$ROUNDS"); do
      for fw in axum actix; do
        for store in $stores; do
          prefix="mirror$round$fw${store//-/}"
          flags=()
          case $store in
          redis*) flags=(--store "redis://127.0.0.1:$REDIS_PORT/0" --store-prefix "$prefix") ;;
          pg*) flags=(--store "$pg" --store-prefix "$prefix") ;;
          esac
          case $store in *-mirror) flags+=(--store-mirror) ;; esac
          log="$OUT/mirror-$fw-$store.log"
          start_server "$log" "$DEMO" --framework "$fw" --addr 127.0.0.1:3106 "${flags[@]}"
          tok=$(login_token http://127.0.0.1:3106)
          # Warm-up, not recorded (every variant): the pool's connections open, the scripts
          # load, the mirror has its snapshot.
          taskset -c 1 wrk -t1 -c"$CONN" -d1s -H "Authorization: Bearer $tok" http://127.0.0.1:3106/whoami >/dev/null
          pinned=""
          case $store in
          redis*) redis-cli -p "$REDIS_PORT" config resetstat >/dev/null ;;
          pg*)
            [ -n "$pg_local" ] && pinned=" backends_on_cpu1=$(pin_backends "$SERVER_PID")"
            sleep 11 # an idle backend flushes its statistics within 10 s
            read -r xact0 scans0 <<<"$(pg_counts "$prefix")"
            ;;
          esac
          load "mirror-$fw-$store" http://127.0.0.1:3106/whoami "Authorization: Bearer $tok"
          requests=$(cat "$OUT/last-total")
          case $store in
          redis*)
            calls=$(redis_top)
            top=$(tr ' ' '\n' <<<"$calls" | awk -F= '{ s += $2 } END { print s + 0 }')
            evalsha=$(tr ' ' '\n' <<<"$calls" | awk -F= '$1 == "evalsha" { print $2 } END { print 0 }' | head -1)
            echo "mirror-$fw-$store round $round: requests=$requests ${calls}evalsha_per_request=$(per "$evalsha" "$requests") top_level_per_request=$(per "$top" "$requests")" |
              tee -a "$OUT/mirror-trips.txt"
            ;;
          esac
          stop_server
          case $store in
          pg*)
            sleep 1 # a backend flushes its statistics when its connection closes
            read -r xact1 scans1 <<<"$(pg_counts "$prefix")"
            # (minus one: the transaction of the first pg_counts itself)
            xact=$((xact1 - xact0 - 1)) scans=$((scans1 - scans0))
            echo "mirror-$fw-$store round $round: requests=$requests transactions=$xact per_request=$(per "$xact" "$requests") revoked_scans=$scans per_request=$(per "$scans" "$requests")$pinned" |
              tee -a "$OUT/mirror-trips.txt"
            ;;
          esac
          if grep -qE ' (WARN|ERROR) ' "$log"; then
            echo "mirror-$fw-$store round $round: warnings or errors in $log:" >&2
            grep -E ' (WARN|ERROR) ' "$log" | head -5 >&2
          fi
        done
        # this round's requests/s of each store as a ratio of memory's
        tail -n "$(wc -w <<<"$stores")" "$OUT/runs.txt" |
          awk -v name="mirror-$fw round $round" '{ n = split($1, a, "-"); s = a[3]; for (i = 4; i <= n; i++) s = s "-" a[i]; rps[s] = $2; order[++k] = s }
            END { printf "%s, of memory:", name; for (i = 2; i <= k; i++) printf " %s=%.3f", order[i], rps[order[i]] / rps["memory"]; print "" }' |
          tee -a "$OUT/mirror-ratios.txt"
      done
    done
    stop_redis
    ;;
  demo)
    for fw in axum actix; do
      for round in $(seq "$ROUNDS"); do
        start_server "$OUT/demo-$fw.log" "$DEMO" --framework "$fw" --addr 127.0.0.1:3100
        tok=$(login_token http://127.0.0.1:3100)
        load "demo-$fw-public" http://127.0.0.1:3100/public
        load "demo-$fw-whoami" http://127.0.0.1:3100/whoami "Authorization: Bearer $tok"
        stop_server
      done
    done
    ;;
  alt)
    for round in $(seq "$ROUNDS"); do
      for v in ${VARIANTS:-axum-none axum-ours axum-ours-metrics axum-fromfn actix-none actix-ours actix-ours-metrics actix-httpauth}; do
        start_server "$OUT/$v.log" "$BENCH" --variant "$v" --addr 127.0.0.1:3101
        load "alt-$v" http://127.0.0.1:3101/hello "Authorization: Bearer $(token_of "$OUT/$v.log")"
        stop_server
      done
    done
    ;;
  device)
    # owner.lua: the right password (or a guess), from a new address every time, with
    # DEVICE_TOKEN when set; counts statuses like the storm's script.
    cat >"$OUT/owner.lua" <<'LUA'
local password = os.getenv("LOGIN_PASSWORD") or "demo-password"
local device = os.getenv("DEVICE_TOKEN") or ""
local body = '{"username":"demo","password":"' .. password .. '"}'
counts = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {}; math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16)) end
function request()
  local h = { ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254)) }
  if device ~= "" then h["Device-Token"] = device end
  return wrk.format("POST", "/auth/login", h, body)
end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do all[k] = (all[k] or 0) + v end
  end
  io.write(string.format("p99_us %d\n", latency:percentile(99)))
  for k, v in pairs(all) do io.write(string.format("status %d %d\n", k, v)) end
end
LUA
    # logins NAME [DEVICE]: 4 owner clients on CPU 1; appends "NAME per_s p99_us 200:n 429:n 503:n"
    logins() {
      DEVICE_TOKEN=${2:-} taskset -c 1 wrk -t1 -c4 -d"$DUR" -s "$OUT/owner.lua" http://127.0.0.1:3105/auth/login >"$OUT/owner.txt"
      awk -v name="$1" '/requests in/ {total = $1; secs = $4 + 0} /^p99_us / {p99 = $2} /^status / {c[$2] = $3}
        END { printf "%s per_s %.1f p99_us %d 200:%d 401:%d 429:%d 503:%d\n", name, total / (secs ? secs : 1), p99, c[200], c[401], c[429], c[503] }' \
        "$OUT/owner.txt" | tee -a "$OUT/device.txt"
    }
    : >"$OUT/device.txt"
    for fw in axum actix; do
      for round in $(seq "$ROUNDS"); do
        start_server "$OUT/device-$fw.log" "$DEMO" --framework "$fw" --addr 127.0.0.1:3105 --trusted-proxy 127.0.0.1
        device=$(curl -s -D - -o /dev/null -X POST http://127.0.0.1:3105/auth/login -H 'content-type: application/json' \
          -H 'X-Forwarded-For: 198.51.100.1' -d '{"username":"demo","password":"demo-password"}' |
          tr -d '\r' | sed -n 's/^device-token: //Ip')
        [ -n "$device" ] || { echo "no device token from the demo" >&2; exit 1; }
        logins "device-$fw-alone-device" "$device"
        logins "device-$fw-alone-new"
        LOGIN_PASSWORD=a-wrong-guess taskset -c 1 wrk -t1 -c16 -d"$((${DUR%s} * 2 + 2))s" -s "$OUT/owner.lua" \
          http://127.0.0.1:3105/auth/login >"$OUT/attack.txt" &
        attack=$!
        sleep 1
        logins "device-$fw-attack-device" "$device"
        logins "device-$fw-attack-new"
        wait "$attack" || true
        awk -v name="device-$fw-attack-guesses" '/requests in/ {total = $1; secs = $4 + 0} /^status / {c[$2] = $3}
          END { printf "%s per_s %.1f 401:%d 429:%d 503:%d\n", name, total / (secs ? secs : 1), c[401], c[429], c[503] }' \
          "$OUT/attack.txt" | tee -a "$OUT/device.txt"
        stop_server
      done
    done
    ;;
  storm | guess)
    password=demo-password
    [ "$suite" = guess ] && password=a-wrong-guess
    cat >"$OUT/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"username":"demo","password":"$password"}'
wrk.headers["Content-Type"] = "application/json"
counts = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do all[k] = (all[k] or 0) + v end
  end
  for k, v in pairs(all) do io.write(string.format("status %d %d\n", k, v)) end
end
LUA
    for fw in axum actix; do
      for round in $(seq "$ROUNDS"); do
        start_server "$OUT/$suite-$fw.log" "$DEMO" --framework "$fw" --addr 127.0.0.1:3102
        tok=$(login_token http://127.0.0.1:3102)
        load "$suite-$fw-alone" http://127.0.0.1:3102/whoami "Authorization: Bearer $tok"
        taskset -c 1 wrk -t1 -c16 -d"$DUR" -s "$OUT/login.lua" http://127.0.0.1:3102/auth/login >"$OUT/storm-login.txt" &
        storm=$!
        sleep 1
        load "$suite-$fw-during" http://127.0.0.1:3102/whoami "Authorization: Bearer $tok"
        wait "$storm" || true
        # Status counts of the storm's answers (status.lua): 200, 401, 429, 503.
        awk -v name="$suite-$fw-logins" '/requests in/ {total = $1; secs = $4 + 0} /^status / {c[$2] = $3}
          END { printf "%s total %d per_s %.0f 200:%d 401:%d 429:%d 503:%d\n", name, total, total / (secs ? secs : 1), c[200], c[401], c[429], c[503] }' \
          "$OUT/storm-login.txt" | tee -a "$OUT/storm.txt"
        stop_server
      done
    done
    ;;
  esac
done

echo
echo "medians over $ROUNDS runs (name rps p50_us p99_us):"
awk '{ n[$1]++; rps[$1, n[$1]] = $2; p50[$1, n[$1]] = $3; p99[$1, n[$1]] = $4; order[$1] = order[$1] ? order[$1] : ++k; names[k] = $1 }
  function median(arr, name, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[name, i]
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  END { for (i = 1; i <= k; i++) { m = names[i]; printf "%-26s %10.0f %8.0f %8.0f\n", m, median(rps, m, n[m]), median(p50, m, n[m]), median(p99, m, n[m]) } }' \
  "$OUT/runs.txt" | tee "$OUT/medians.txt"
