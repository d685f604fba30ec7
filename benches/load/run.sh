#!/usr/bin/env bash
# Load benchmark: the mock upstream directly, nginx proxy_pass in front of it,
# and iamgate in front of it (a real policy decision per request), measured
# with wrk in one run on this machine. Everything listens on 127.0.0.1 only;
# every wrk run is bounded in time; every process started here is stopped on
# exit. See benches/load/README.md.
#
# usage: benches/load/run.sh [--sweep] [-d seconds] [-c connections] [-t threads] [-w workers]
#                            [seconds [connections [threads]]]
#        defaults: 10 s, 32 connections, 2 threads, the gateway's default worker threads
#        --sweep: every target at 8, 32 and 128 connections (overrides -c)
#        -w 1,2: one gateway pair per [runtime] worker_threads value (targets iamgate-w1, …)
# env:   IAMGATE_BIN   use this binary instead of building target/release/iamgate
#        NGINX_WORKERS nginx worker_processes (default: auto)
#        WARMUP        warm-up seconds before each measured run (default: 2)
#        MODEL         the gateways' [runtime] model: per_core (default) or work_stealing
#        CONSOLE       the gateways' [console] recent (default 0: the live console's ring off,
#                      like the decision log; set 1000 to measure with it on)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() { sed -n '8,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

DURATION=10 CONNECTIONS=32 THREADS=2 WORKERS= SWEEP=
ARGS=()
for arg in "$@"; do
    if [[ $arg == --sweep ]]; then SWEEP=1; else ARGS+=("$arg"); fi
done
set -- "${ARGS[@]+"${ARGS[@]}"}"
while getopts "d:c:t:w:h" opt; do
    case $opt in
        d) DURATION=$OPTARG ;;
        c) CONNECTIONS=$OPTARG ;;
        t) THREADS=$OPTARG ;;
        w) WORKERS=${OPTARG//,/ } ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] && DURATION=$1
[[ $# -ge 2 ]] && CONNECTIONS=$2
[[ $# -ge 3 ]] && THREADS=$3
SWEEP_CONNECTIONS=$CONNECTIONS
[[ -n $SWEEP ]] && SWEEP_CONNECTIONS="8 32 128"
for v in "$DURATION" "$THREADS" $SWEEP_CONNECTIONS $WORKERS; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: not a positive integer: $v" >&2; usage >&2; exit 2; }
done
WARMUP=${WARMUP:-2}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
[[ $WARMUP =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: WARMUP must be a positive integer" >&2; exit 2; }
for c in $SWEEP_CONNECTIONS; do
    ((c >= THREADS)) || { echo "run.sh: wrk needs connections >= threads" >&2; exit 2; }
done

TOKEN='example-token-alice-not-real'
ALLOWED=/v1/p-acme-cn4/notebooks # modelarts:notebook:list: allowed for alice
DENIED=/v2/p-acme-cn4/pools      # modelarts:pool:list: implicit deny, 403, no upstream

for tool in wrk nginx curl python3; do
    command -v "$tool" >/dev/null || {
        echo "run.sh: $tool is missing (Debian: apt-get install -y wrk nginx-light curl)" >&2
        exit 1
    }
done
NGINX=$(command -v nginx)

# --- the binary ---------------------------------------------------------------
if [[ -n ${IAMGATE_BIN:-} ]]; then
    BIN=$IAMGATE_BIN
else
    BIN=$REPO/target/release/iamgate
    echo "== cargo build --release" >&2
    if ! (cd "$REPO" && cargo build --release --quiet); then
        if [[ -x $BIN ]]; then
            echo "run.sh: cargo build --release failed; using the existing $BIN" >&2
        else
            echo "run.sh: cargo build --release failed and there is no $BIN" >&2
            exit 1
        fi
    fi
fi
[[ -x $BIN ]] || { echo "run.sh: $BIN is not executable" >&2; exit 1; }
BIN=$(realpath "$BIN")

# --- processes and cleanup ----------------------------------------------------
WORK=$(mktemp -d -t iamgate-load.XXXXXX)
chmod 755 "$WORK" # nginx workers may run as an unprivileged user
PIDS=()
WRK_PID=

cleanup() {
    local status=$? pid i
    trap - EXIT INT TERM
    if [[ -n ${WRK_PID:-} ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ $status -ne 0 ]]; then
        echo "run.sh: failed (exit $status); logs:" >&2
        tail -n 20 "$WORK"/*.log >&2 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_listening LOG PATTERN: print the port of the first line matching PATTERN
# (e.g. '^listening on'), waiting up to 20 s while the last started process lives.
wait_listening() {
    local log=$1 pattern=$2 pid=${PIDS[-1]} i line
    for ((i = 0; i < 200; i++)); do
        line=$(grep -m1 -E "$pattern" "$log" 2>/dev/null || true)
        if [[ -n $line ]]; then
            echo "${line##*:}"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { echo "run.sh: process $pid exited; see $log" >&2; cat "$log" "${log%.log}.err" >&2 2>/dev/null; return 1; }
        sleep 0.1
    done
    echo "run.sh: no '$pattern' in $log after 20 s" >&2
    return 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# status_of URL: the HTTP status of one GET with alice's token.
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Auth-Token: $TOKEN" "$1"; }

# --- 1. the mock upstream -----------------------------------------------------
(cd "$REPO" && exec "$BIN" mock --listen 127.0.0.1:0 --routes routes) \
    >"$WORK/mock.log" 2>"$WORK/mock.err" &
PIDS+=($!)
MOCK_PORT=$(wait_listening "$WORK/mock.log" '^listening on')
MOCK=http://127.0.0.1:$MOCK_PORT

# --- 2. nginx proxy_pass to the mock ------------------------------------------
NGINX_PORT=$(free_port)
sed -e "s|@WORKDIR@|$WORK|g" -e "s|@PORT@|$NGINX_PORT|g" \
    -e "s|@UPSTREAM@|127.0.0.1:$MOCK_PORT|g" -e "s|@WORKERS@|$NGINX_WORKERS|g" \
    "$HERE/nginx.conf.template" >"$WORK/nginx.conf"
"$NGINX" -t -q -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" 2>"$WORK/nginx-t.log" || {
    cat "$WORK/nginx-t.log" >&2
    exit 1
}
"$NGINX" -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" >"$WORK/nginx.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$NGINX_PORT/" || true) != 000 ]] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/nginx.log" "$WORK/nginx-error.log" >&2; exit 1; }
    sleep 0.1
done
NGINX_URL=http://127.0.0.1:$NGINX_PORT

# --- 3. iamgate in front of the mock ------------------------------------------
# Two gateways per worker-thread setting: the sample tree (alice's token) and
# the signed scenario's generated tree (50 users with access keys).
SIGNED_PY=$HERE/signed.py
python3 "$SIGNED_PY" tree "$WORK/signed"
SIGNED_PATH=/v1/p-bench-cn4/notebooks/nb-0-0/storage

declare -A GATE_URL GATE_ADMIN
# start_gateway NAME POLICIES WORKERS: start `iamgate serve`, record its URLs.
start_gateway() {
    local name=$1 policies=$2 workers=$3 conf=$WORK/$1.toml runtime=$'[runtime]\nmodel = "'"${MODEL:-per_core}"'"'
    [[ -n $workers ]] && runtime+=$'\nworker_threads = '"$workers"
    cat >"$conf" <<EOF
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
routes = "$REPO/routes"
policies = "$policies"
unmapped = "deny"

[upstreams]
modelarts = "$MOCK"
agentrun = "$MOCK"

[regions]
agentrun = "cn-hangzhou"

[decision_log]
target = "off"

[reload]
watch = false

[console]
recent = ${CONSOLE:-0}

$runtime
EOF
    IAMGATE_LOG=warn "$BIN" serve --config "$conf" >"$WORK/$name.log" 2>"$WORK/$name.err" &
    PIDS+=($!)
    GATE_URL[$name]=http://127.0.0.1:$(wait_listening "$WORK/$name.log" '^listening on')
    GATE_ADMIN[$name]=http://127.0.0.1:$(wait_listening "$WORK/$name.log" '^admin listening on')
}

# Suffixes of the gateway pairs: "" (config default) or -w1, -w2, …
SUFFIXES=()
if [[ -z $WORKERS ]]; then
    start_gateway iamgate "$REPO/policies" ""
    start_gateway iamgate-signed "$WORK/signed/policies" ""
    SUFFIXES=("")
else
    for w in $WORKERS; do
        start_gateway "iamgate-w$w" "$REPO/policies" "$w"
        start_gateway "iamgate-signed-w$w" "$WORK/signed/policies" "$w"
        SUFFIXES+=("-w$w")
    done
fi

# --- sanity: the same request answers as expected everywhere ------------------
expect() {
    local got
    got=$(status_of "$2")
    [[ $got == "$1" ]] || { echo "run.sh: GET $2 answered $got, expected $1" >&2; exit 1; }
}
# expect_signed STATUS URL [--tamper]: one request signed now by signed.py.
expect_signed() {
    local want=$1 base=$2 got args
    shift 2
    mapfile -t args < <(python3 "$SIGNED_PY" curl "$WORK/signed" "${base#http://}" "$@")
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "${args[@]}")
    [[ $got == "$want" ]] || { echo "run.sh: signed GET $base$SIGNED_PATH $* answered $got, expected $want" >&2; exit 1; }
}
expect 200 "$MOCK$ALLOWED"
expect 200 "$NGINX_URL$ALLOWED"
expect 200 "$MOCK$SIGNED_PATH"
expect 200 "$NGINX_URL$SIGNED_PATH"
for s in "${SUFFIXES[@]}"; do
    expect 200 "${GATE_URL[iamgate$s]}$ALLOWED"
    expect 403 "${GATE_URL[iamgate$s]}$DENIED"
    expect_signed 200 "${GATE_URL[iamgate-signed$s]}"
    expect_signed 401 "${GATE_URL[iamgate-signed$s]}" --tamper
done

# --- the runs -----------------------------------------------------------------
# clear_upstream: forget the mock's recorded requests (it keeps every request
# in memory); prints how many it had.
clear_upstream() {
    curl -s --max-time 10 -X DELETE "$MOCK/-/requests" | sed -n 's/.*"cleared":\([0-9]*\).*/\1/p'
}

# to_ms VALUE: wrk's 812.00us / 1.23ms / 1.05s / 2.00m as milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
        if (f < 0) { print "nan"; exit }
        printf "%.3f", n * f }'
}

# run_wrk SECONDS URL [ARG...]: one bounded wrk run, in the background so that
# a signal reaches the cleanup trap at once.
run_wrk() {
    local seconds=$1 url=$2
    shift 2
    timeout $((seconds + 30)) wrk -t "$THREADS" -c "$CONNECTIONS" -d "${seconds}s" --timeout 5s "$@" "$url" &
    WRK_PID=$!
    wait "$WRK_PID"
    WRK_PID=
}

RESULTS=$WORK/results
: >"$RESULTS"
# bench NAME URL EXPECT [WRK-ARG...]: warm up, measure, append one result line.
# EXPECT is "2xx" (Non-2xx must be 0) or "403" (every response a non-2xx).
# A signed target's script is signed again before each run (15-minute window).
bench() {
    local name=$1 url=$2 expect=$3 out=$WORK/wrk-$1-c$CONNECTIONS.txt
    shift 3
    local rps p50 p99 total non2xx sockerr upstream check args=("$@")
    if [[ $name == iamgate-signed* || $name == nginx-signed ]]; then
        python3 "$SIGNED_PY" lua "$WORK/signed" "${url#http://}" "$WORK/$name.lua"
        args=(-s "$WORK/$name.lua")
    fi
    echo "== $name: $url (warm-up ${WARMUP}s, then ${DURATION}s, -c $CONNECTIONS -t $THREADS)" >&2
    clear_upstream >/dev/null
    run_wrk "$WARMUP" "$url" "${args[@]}" >/dev/null
    run_wrk "$DURATION" "$url" --latency "${args[@]}" >"$out"
    upstream=$(clear_upstream)
    sed 's/^/    /' "$out" >&2
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    total=$(awk '/requests in/ {print $1}' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    non2xx=${non2xx:-0}
    sockerr=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
    sockerr=${sockerr:-0}
    check=ok
    if [[ $expect == 2xx ]]; then
        [[ $non2xx == 0 ]] || check="FAIL: $non2xx non-2xx"
    else
        [[ $non2xx == "$total" ]] || check="FAIL: $non2xx non-2xx of $total"
        [[ ${upstream:-x} == 0 ]] || check="FAIL: upstream saw ${upstream:-?}"
    fi
    [[ $sockerr == 0 ]] || check="$check; $sockerr socket errors"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CONNECTIONS" \
        "$name" "$rps" "$p50" "$p99" "$total" "$non2xx" "$sockerr" "${upstream:-?}" "$check" >>"$RESULTS"
}

TOKEN_ARGS=(-H "X-Auth-Token: $TOKEN")
for CONNECTIONS in $SWEEP_CONNECTIONS; do
    bench direct "$MOCK$ALLOWED" 2xx "${TOKEN_ARGS[@]}"
    bench nginx "$NGINX_URL$ALLOWED" 2xx "${TOKEN_ARGS[@]}"
    # The same wrk script as the signed gateways get (its Lua costs the
    # client, which shares the cores): their baseline.
    bench nginx-signed "$NGINX_URL" 2xx
    for s in "${SUFFIXES[@]}"; do
        bench "iamgate$s" "${GATE_URL[iamgate$s]}$ALLOWED" 2xx "${TOKEN_ARGS[@]}"
        bench "iamgate-signed$s" "${GATE_URL[iamgate-signed$s]}" 2xx
        bench "iamgate-denied$s" "${GATE_URL[iamgate$s]}$DENIED" 403 "${TOKEN_ARGS[@]}"
    done
done

# decisions NAME: the gateway's allow/deny counters from its admin /metrics.
decisions() {
    curl -s --max-time 5 "${GATE_ADMIN[$1]}/metrics" |
        awk '/^iamgate_requests_total\{/ && /decision="/ {
            match($0, /action="[^"]*"/); a = substr($0, RSTART + 8, RLENGTH - 9)
            match($0, /decision="[^"]*"/); d = substr($0, RSTART + 10, RLENGTH - 11)
            printf "%s%s %s=%d", sep, a, d, $NF; sep = ", " }'
}

# --- the table ----------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC') · $(nproc) cores ($CPU) · wrk -t $THREADS -d ${DURATION}s (+${WARMUP}s warm-up) · nginx worker_processes $NGINX_WORKERS · gateway model ${MODEL:-per_core}, worker_threads ${WORKERS:-default}, console ring ${CONSOLE:-0} · $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?')"
echo
awk -F'\t' '
    { c[NR] = $1; name[NR] = $2; rps[NR] = $3; p50[NR] = $4; p99[NR] = $5; tot[NR] = $6; bad[NR] = $7; up[NR] = $9; chk[NR] = $10
      if ($2 == "direct") { d[$1] = $3; dp[$1] = $5 } if ($2 == "nginx") { n[$1] = $3; np[$1] = $5 }
      if ($2 == "nginx-signed") { ns[$1] = $3; nsp[$1] = $5 } }
    END {
        print "| -c | target | requests/s | p50 ms | p99 ms | req/s vs direct | req/s vs nginx | p99 vs direct | p99 vs nginx | non-2xx / total | upstream saw | check |"
        print "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
        # A signed gateway is measured against nginx under the same script.
        for (i = 1; i <= NR; i++) {
            signed = name[i] ~ /^iamgate-signed/ && (c[i] in ns)
            base = signed ? ns[c[i]] : n[c[i]]; basep = signed ? nsp[c[i]] : np[c[i]]
            printf "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f%s | %.2f | %.2f | %s / %s | %s | %s |\n",
                c[i], name[i], rps[i], p50[i], p99[i], rps[i] / d[c[i]], rps[i] / base, signed ? " (vs nginx-signed)" : "",
                p99[i] / dp[c[i]], p99[i] / basep, bad[i], tot[i], up[i], chk[i]
        }
    }' "$RESULTS"
echo
for name in "${!GATE_ADMIN[@]}"; do
    echo "$name decisions (admin /metrics): $(decisions "$name")"
done
if grep -q FAIL "$RESULTS"; then
    echo "run.sh: a check failed (see the table)" >&2
    exit 1
fi
