#!/usr/bin/env bash
# Call-rate benchmark: pbxd against Kamailio 5.6 on the same machine, side by side, in one run.
#
# SIPp UAC -> server -> SIPp UAS over UDP: INVITE, 100, 180, (100 ms ring), 200 with SDP on both
# legs, ACK, HOLD_MS of call, BYE, 200; no RTP. One SIPp "call" = one whole call.
#   pbxd     (B2BUA): callers 1000..1999 of tenant "bench" (domain 127.0.0.1) authenticate every
#            INVITE (407, ACK, INVITE with Proxy-Authorization); pbxd routes sip:2000@127.0.0.1
#            to the contact extension 2000 registered, anchors the media in its relay (SDP of
#            both legs rewritten, 2 port pairs per call), writes a CDR per call (SQLite).
#   kamailio (stateful proxy, the anchor config of shared/anchors): record_route, lookup
#            location, t_relay; no authentication of INVITE (it only authenticates REGISTER).
# The callee is one SIPp UAS per server that registers as user 2000 first (tests/sipp/register.xml,
# digest auth) and then answers every call from the same port. At each rate in RATES, for
# STEP_SECS: pbxd, then Kamailio. For each step: server CPU (utime+stime of all its processes,
# /proc/PID/stat) per successful call, the rate SIPp achieved, failed calls. Then pbxd's resident
# memory, its live calls / relay sessions once idle, and its CDR count against the calls made.
#
# Loopback only (127.0.0.1). Runs as root on Debian 12; installs sip-tester and kamailio with
# apt-get when missing, builds pbxd when its binary is older than the sources (NO_BUILD=1: not).
# Raises net.core.rmem_default/rmem_max for the run and restores them. About 2.5 minutes on a
# quiet machine; up to ~5 when it waits for other processes (QUIET_WAIT, NOISY_RETRIES).
#
# Usage:  tests/bench/calls.sh
# Environment (all optional):
#   RATES="500 1000 2000 3000"   calls/s, one step each (both servers at every rate)
#   STEP_SECS=10          length of each step
#   SERVERS="pbxd kamailio"
#   HOLD_MS=10            call length between ACK and BYE (SIPp -d)
#   RECV_TIMEOUT_MS=10000 SIPp -recv_timeout: the longest wait for any expected message
#   PBXD_T1= PBXD_MAX_TRANSACTIONS=   [sip] t1 / max_transactions of pbxd (empty: its default)
#   PBXD_LOG_LEVEL=warn   pbxd's log_level ("info" to see more of what it does)
#   PBXD_INACTIVITY=      [media] inactivity_timeout of pbxd, e.g. "5s" (empty: its default, 1m);
#                         SIPp sends no RTP, so a call left up (lost BYE) ends after this
#   MEDIA_PORT_MIN=20000 MEDIA_PORT_MAX=59999   pbxd's relay range (4 ports per call)
#   PBXD_PORT KAM_PORT SIPP_PORT      UDP ports on 127.0.0.1 (default: free ones in 10000-19999,
#                         outside the relay range and the kernel's ephemeral range)
#   QUIET_WAIT=30         before each step, wait up to this long for other processes to use
#                         < 25% of a core (a shared machine); 0 does not wait
#   NOISY_RETRIES=1       run a step again (this many times) when other processes used >= 25%
#                         of a core during it; the noisy attempts go to noisy.csv
#   LINGER_WAIT=          after the steps, how long to watch pbxd's memory while its finished
#                         transactions expire (default 64*T1 + 5 s: 37 s); 0 skips
#   NO_BUILD=1            use target/release/pbxd and pbxctl as they are
#   KEEP=1                keep the temp folder (configs, SIPp logs) and print its path
# Results: target/bench/calls-STAMP/{summary.txt,steps.csv,noisy.csv,logs/}
#
# pbxd keeps finished transactions 64*T1 (32 s by default) and refuses new requests with 503
# beyond [sip] max_transactions (300,000). A call here makes 5 transactions in pbxd: 3 linger
# 64*T1 (the A-leg's authenticated INVITE and its BYE, the B-leg's INVITE), 2 linger T4 = 5 s
# (the challenged INVITE, the B-leg's BYE): ~106 per call/s in steady state, so with defaults
# pbxd sustains at most ~2,830 calls/s, and steps shorter than 64*T1 do not show it
# (STEP_SECS=45 does). Each call also holds 4 relay sockets: the open-files limit (raised to
# the hard limit, reported) caps concurrent calls at about a quarter of it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DIR="$HERE/calls"

RATES=${RATES:-"500 1000 2000 3000"}
STEP_SECS=${STEP_SECS:-10}
SERVERS=${SERVERS:-"pbxd kamailio"}
HOLD_MS=${HOLD_MS:-10}
RECV_TIMEOUT_MS=${RECV_TIMEOUT_MS:-10000}
PBXD_T1=${PBXD_T1:-}
PBXD_MAX_TRANSACTIONS=${PBXD_MAX_TRANSACTIONS:-}
PBXD_LOG_LEVEL=${PBXD_LOG_LEVEL:-warn}
PBXD_INACTIVITY=${PBXD_INACTIVITY:-}
MEDIA_PORT_MIN=${MEDIA_PORT_MIN:-20000}
MEDIA_PORT_MAX=${MEDIA_PORT_MAX:-59999}
CALLEE=2000
IP=127.0.0.1                      # never anything else

# free_ports N [STEP]: N UDP ports on 127.0.0.1 that nothing holds right now, picked in
# 10000-19999 (below pbxd's relay range and the kernel's ephemeral range, so neither the relay
# nor an outgoing socket takes them meanwhile); with STEP=4, each the first of 4 free ports
# (SIPp's media ports: audio RTP/RTCP, video RTP/RTCP)
free_ports() {
  python3 - "$1" "${2:-1}" <<'EOF'
import random, socket, sys
n, step = int(sys.argv[1]), int(sys.argv[2])
held, out = [], []
while len(out) < n:
    p = random.randrange(10000, 20000 - step) // step * step
    try:
        socks = []
        for q in range(p, p + step):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("127.0.0.1", q))
    except OSError:
        for s in socks:
            s.close()
        continue
    held += socks
    out.append(p)
print(" ".join(map(str, out)))
EOF
}
read -r P1 P2 P3 P4 P5 <<<"$(free_ports 5)"
read -r M1 M2 M3 <<<"$(free_ports 3 4)"
PBXD_PORT=${PBXD_PORT:-$P1}
KAM_PORT=${KAM_PORT:-$P2}
SIPP_PORT=${SIPP_PORT:-$P3}
UAS_PORT_pbxd=$P4 UAS_PORT_kamailio=$P5
UAC_MP=$M1 UAS_MP_pbxd=$M2 UAS_MP_kamailio=$M3
KAM_WORKERS=${KAM_WORKERS:-4}
QUIET_WAIT=${QUIET_WAIT:-30}
NOISY_RETRIES=${NOISY_RETRIES:-1}
PBXD=${PBXD:-$ROOT/target/release/pbxd}
PBXCTL=${PBXCTL:-$ROOT/target/release/pbxctl}
HZ=$(getconf CLK_TCK)
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS="$ROOT/target/bench/calls-$STAMP"
BEGIN=$SECONDS

log() { printf '[%3ds] %s\n' "$((SECONDS - BEGIN))" "$*" >&2; }
die() { echo "calls.sh: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, sysctl)"
for p in $PBXD_PORT $KAM_PORT $SIPP_PORT $MEDIA_PORT_MIN $MEDIA_PORT_MAX $STEP_SECS $HOLD_MS $RECV_TIMEOUT_MS; do
  [[ $p =~ ^[0-9]+$ ]] || die "$p is not a number"
done
[ "$(printf '%s\n' $PBXD_PORT $KAM_PORT $SIPP_PORT $UAS_PORT_pbxd $UAS_PORT_kamailio | sort -u | wc -l)" = 5 ] ||
  die "PBXD_PORT, KAM_PORT and SIPP_PORT must differ (from each other and from the UAS ports $UAS_PORT_pbxd $UAS_PORT_kamailio)"
for p in $PBXD_PORT $KAM_PORT; do
  [ -z "$(ss -Hunl "sport = :$p" 2>/dev/null)" ] || die "UDP port $p on this machine is in use; set PBXD_PORT/KAM_PORT"
done
for rate in $RATES; do [[ $rate =~ ^[1-9][0-9]*$ ]] || die "rate $rate is not a positive number"; done

# --- packages and binaries ---------------------------------------------------------------------
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
[[ " $SERVERS " != *" kamailio "* ]] || command -v kamailio >/dev/null || missing+=(kamailio)
command -v python3 >/dev/null || missing+=(python3)
command -v bc >/dev/null || missing+=(bc)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ " $SERVERS " == *" pbxd "* ]] && [ -z "${NO_BUILD:-}" ]; then
  stale() { [ ! -x "$1" ] || [ -n "$(find "$ROOT/src" "$ROOT/cli" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$1" -print -quit 2>/dev/null)" ]; }
  if stale "$PBXD" || stale "$PBXCTL"; then
    log "building pbxd (cargo build --release --bins)"
    (cd "$ROOT" && cargo build --release --bins) >&2
  fi
fi

# --- temp folder, cleanup ----------------------------------------------------------------------
WORK=$(mktemp -d /tmp/pbx-bench-calls.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/steps" "$RESULTS"
GROUPS_STARTED=()          # process group ids of what we started with setsid (servers, UASs)
SYSCTL_SAVED=()

stop_group() {             # stop_group PGID: TERM, wait up to 10 s, KILL
  local pg=$1 i
  kill -TERM -- "-$pg" 2>/dev/null || return 0
  for i in $(seq 50); do pgrep -g "$pg" >/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pg" 2>/dev/null || true
  wait "$pg" 2>/dev/null || true
}

cleanup() {
  local rc=$? pg kv
  trap - EXIT INT TERM
  set +e
  for pg in "${GROUPS_STARTED[@]}"; do stop_group "$pg"; done
  for kv in "${SYSCTL_SAVED[@]}"; do sysctl -q -w "$kv" >/dev/null; done
  cp -r "$WORK/logs" "$RESULTS/" 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "temp folder kept: $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- socket buffers for high packet rates (restored on exit) ---------------------------------
for kv in net.core.rmem_default=4194304 net.core.rmem_max=16777216 net.core.wmem_max=16777216; do
  key=${kv%%=*} want=${kv#*=}
  cur=$(sysctl -n "$key" 2>/dev/null) || continue
  if [ "$cur" -lt "$want" ]; then
    if sysctl -q -w "$kv" >/dev/null 2>&1; then SYSCTL_SAVED+=("$key=$cur"); else log "warning: cannot set $kv"; fi
  fi
done
# pbxd's relay holds 4 sockets per call: raise the open-files limit (to the hard limit where
# 65536 is not allowed); pbxd and SIPp inherit it
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

# --- users ---------------------------------------------------------------------------------------
python3 "$DIR/gen_users.py" "$WORK/gen" "$CALLEE" 2>/dev/null

# --- measurement helpers -------------------------------------------------------------------------
group_ticks() {            # utime+stime (clock ticks) of all live processes in process group $1
  local files
  [ -n "$1" ] || { echo 0; return; }
  files=$(pgrep -g "$1" | sed 's#.*#/proc/&/stat#')
  # fields 14/15 after a comm without spaces (pbxd, kamailio, sipp); a process's stat
  # covers all its threads
  [ -n "$files" ] && awk '{ s += $14 + $15 } END { print s + 0 }' $files 2>/dev/null || echo 0
}
# CPU used by the whole machine so far, in clock ticks: the root cpuacct cgroup (cgroup v1,
# exact), else the sum of utime+stime+cutime+cstime over all processes (a process that ended
# moved its time into its parent's cutime). /proc/stat's tick-sampled busy time is not used:
# it undercounts bursty loads badly on VMs.
machine_ticks() {
  local f=/sys/fs/cgroup/cpuacct/cpuacct.usage
  if [ -r $f ]; then echo $(($(cat $f) * HZ / 1000000000)); return; fi
  awk '{ sub(/^.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s }' /proc/[0-9]*/stat 2>/dev/null || true
}
self_ticks() {             # this script and its waited-for children (the UAC SIPp, helpers)
  awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' /proc/$$/stat
}
ours_ticks() {             # everything we started in the background: servers and UASs
  local pg s=0
  for pg in "${GROUPS_STARTED[@]}"; do s=$((s + $(group_ticks "$pg"))); done
  echo $s
}
udp_drops() { awk '/^Udp:/{ if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else { print $c["RcvbufErrors"]; exit } }' /proc/net/snmp; }
rss_kb() { awk '/^VmRSS:/{ print $2 }' "/proc/$1/status"; }
pss_group_kb() { local p s=0 v; for p in $(pgrep -g "$1"); do v=$(awk '/^Pss:/{ print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || v=0; s=$((s + ${v:-0})); done; echo $s; }
kamcmd_() { kamcmd -s "unix:$WORK/kam/run/kamailio_ctl" "$@"; }
pbxctl_() { "$PBXCTL" --server "unix:$WORK/pbxd/admin.sock" "$@"; }
pbxd_live_calls() { pbxctl_ calls -o json 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo '?'; }
pbxd_media() { pbxctl_ status 2>/dev/null | grep '^Media:' || echo 'Media: ?'; }
pbxd_cdrs() {              # "N answered, M other (disposition:count ...)" from pbxd's SQLite
  python3 - "$WORK/pbxd/data/pbx.db" <<'EOF' 2>/dev/null || echo '?'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=10)
rows = db.execute("select disposition, count(*) from cdrs group by disposition order by 2 desc").fetchall()
print(sum(n for _, n in rows), " ".join(f"{d}:{n}" for d, n in rows) or "none")
EOF
}

# --- servers -------------------------------------------------------------------------------------
PBXD_PG="" KAM_PG="" UAS_PG_pbxd="" UAS_PG_kamailio="" PBXD_RSS0=0 PBXD_LAST_END=0 PBXD_NOFILE=?

start_pbxd() {
  local d="$WORK/pbxd" i out
  rm -rf "$d"; mkdir -p "$d/data" "$d/tenants"
  cp "$WORK/gen/tenants/bench.toml" "$d/tenants/"
  {
    echo "data_dir = \"$d/data\""
    echo "log_level = \"$PBXD_LOG_LEVEL\""
    echo '[admin]'
    echo "socket = \"$d/admin.sock\""
    echo '[sip]'
    echo "listen = [\"udp:$IP:$PBXD_PORT\"]"
    [ -z "$PBXD_T1" ] || echo "t1 = \"$PBXD_T1\""
    [ -z "$PBXD_MAX_TRANSACTIONS" ] || echo "max_transactions = $PBXD_MAX_TRANSACTIONS"
    echo '[sip.registration]'
    echo 'digest_algorithms = ["MD5"]     # SIPp answers only the first challenge and knows only MD5'
    echo '[sip.security]'
    echo 'requests_per_second = 1000000   # one source (SIPp, 127.0.0.1) must not be throttled'
    echo 'burst = 1000000'
    echo 'max_auth_failures = 1000000'
    echo '[sip.calls]                     # defaults'
    echo '[media]'
    echo "address = \"$IP\""
    echo "port_min = $MEDIA_PORT_MIN           # 4 ports per call: at most $(((MEDIA_PORT_MAX - MEDIA_PORT_MIN + 1) / 4)) calls at once"
    echo "port_max = $MEDIA_PORT_MAX"
    [ -z "$PBXD_INACTIVITY" ] || echo "inactivity_timeout = \"$PBXD_INACTIVITY\""
  } >"$d/pbxd.toml"
  cp "$d/pbxd.toml" "$WORK/logs/pbxd.toml"
  setsid "$PBXD" --config "$d/pbxd.toml" >"$WORK/logs/pbxd.log" 2>&1 </dev/null &
  PBXD_PG=$!
  GROUPS_STARTED+=("$PBXD_PG")
  for i in $(seq 120); do
    kill -0 "$PBXD_PG" 2>/dev/null || { tail -20 "$WORK/logs/pbxd.log" >&2; die "pbxd exited at start"; }
    pbxctl_ status 2>/dev/null | grep -q "udp:$IP:$PBXD_PORT" && break
    [ "$i" -lt 120 ] || die "pbxd not listening after 60 s"
    sleep 0.5
  done
  out=$(pbxctl_ apply --yes "$d/tenants" 2>&1) || { echo "$out" >&2; die "pbxctl apply failed"; }
  echo "$out" >"$WORK/logs/pbxd-apply.log"
  PBXD_RSS0=$(rss_kb "$PBXD_PG")
  PBXD_NOFILE=$(awk '/^Max open files/ { print $4 }' "/proc/$PBXD_PG/limits")
  log "pbxd pid $PBXD_PG, tenant applied, RSS $PBXD_RSS0 kB, open files limit $PBXD_NOFILE; $(pbxd_media)"
}

start_kamailio() {
  local d="$WORK/kam" i
  rm -rf "$d"; mkdir -p "$d/run"
  cp -r "$WORK/gen/db" "$d/db"
  sed "s#@ANCHORS@#$d#g" "$DIR/kamailio.cfg" >"$d/kamailio.cfg"
  setsid kamailio -f "$d/kamailio.cfg" -DD -E -l "udp:$IP:$KAM_PORT" -n "$KAM_WORKERS" -m 2048 -M 16 \
    >"$WORK/logs/kamailio.log" 2>&1 </dev/null &
  KAM_PG=$!
  GROUPS_STARTED+=("$KAM_PG")
  for i in $(seq 120); do
    kill -0 "$KAM_PG" 2>/dev/null || { tail -20 "$WORK/logs/kamailio.log" >&2; die "kamailio exited at start"; }
    kamcmd_ core.uptime >/dev/null 2>&1 && [ -n "$(ss -Hunl "sport = :$KAM_PORT")" ] && break
    [ "$i" -lt 120 ] || die "kamailio not answering after 60 s"
    sleep 0.5
  done
  log "kamailio pid $KAM_PG, $(pgrep -g "$KAM_PG" | wc -l) processes"
}

server_pg() { if [ "$1" = pbxd ]; then echo "$PBXD_PG"; else echo "$KAM_PG"; fi; }
server_port() { if [ "$1" = pbxd ]; then echo "$PBXD_PORT"; else echo "$KAM_PORT"; fi; }
uas_pg() { local v="UAS_PG_$1"; echo "${!v}"; }

# start_uas SERVER: the callee. Registers as $CALLEE from its port (tests/sipp/register.xml,
# digest), then answers calls on that port (uas_call.xml) until the end of the run.
start_uas() {
  local srv=$1 port mp d="$WORK/uas-$1" rc=0 v
  v="UAS_PORT_$srv"; port=${!v}
  v="UAS_MP_$srv"; mp=${!v}
  mkdir -p "$d"
  (cd "$d" && sipp -sf "$ROOT/tests/sipp/register.xml" -inf "$WORK/gen/callee.csv" -i "$IP" -p "$port" -mp "$mp" \
    -m 1 -timeout 10s -timeout_error -trace_err -error_file register-errors.log -nostdin \
    "$IP:$(server_port "$srv")" </dev/null >register.out 2>&1) || rc=$?
  if [ "$rc" != 0 ]; then
    cp "$d"/register* "$WORK/logs/" 2>/dev/null
    die "the UAS could not register as $CALLEE at $srv (SIPp rc $rc; logs/register-errors.log)"
  fi
  (
    cd "$d"
    exec setsid sipp -sf "$DIR/uas_call.xml" -i "$IP" -p "$port" -mp "$mp" -m 1000000000 -l 15000 \
      -recv_timeout "$RECV_TIMEOUT_MS" -buff_size 4194304 -max_recv_loops 100000 -max_sched_loops 100000 \
      -trace_stat -stf stat.csv -fd 1s -trace_err -error_file errors.log -nostdin \
      "$IP:$(server_port "$srv")" </dev/null >sipp.out 2>&1
  ) &
  printf -v "UAS_PG_$srv" '%s' $!
  GROUPS_STARTED+=("$!")
  sleep 0.5
  kill -0 "$!" 2>/dev/null || { cat "$d/sipp.out" >&2; die "the UAS for $srv exited at start"; }
  log "UAS for $srv registered as $CALLEE from $IP:$port and answering (pid $!)"
}

uas_counters() { python3 "$DIR/stats.py" counters "$WORK/uas-$1/stat.csv"; }   # "ok failed"

# run_sipp OUTDIR SERVER RATE CALLS: one bounded UAC SIPp run; leaves stat.csv, errors.log,
# sipp.out, rc and cpu (SIPp's own CPU seconds) in OUTDIR.
run_sipp() {
  local d=$1 srv=$2 rate=$3 calls=$4 sport=$SIPP_PORT attempt
  # calls open at once: a call lasts ~110 ms when all is well; allow 2 s of them
  local limit=$((rate * 2 < 2000 ? 2000 : rate * 2))
  local bound=$((calls / rate * 3 + RECV_TIMEOUT_MS * 3 / 1000 + 30))
  mkdir -p "$d"
  for attempt in 1 2 3; do
    rm -f "$d/errors.log"
    run_sipp_on "$d" "$sport" "$srv" "$rate" "$calls" "$limit" "$bound"
    grep -qs "Unable to bind main socket" "$d/errors.log" "$d/sipp.out" || return 0
    log "SIPp could not bind $IP:$sport; trying another port"
    sport=$(free_ports 1)
  done
  die "SIPp could not bind a port 3 times"
}

run_sipp_on() {            # run_sipp_on OUTDIR SIPP_PORT SERVER RATE CALLS LIMIT BOUND
  local d=$1 sport=$2 srv=$3 rate=$4 calls=$5 limit=$6 bound=$7 who
  if [ "$srv" = pbxd ]; then who=(-sf "$DIR/uac_auth_call.xml" -inf "$WORK/gen/callers.csv")
  else who=(-sf "$DIR/uac_call.xml" -s "$CALLEE"); fi
  (
    set +e
    cd "$d"
    timeout -k 5 "$bound" sipp "${who[@]}" -i "$IP" -p "$sport" -mp "$UAC_MP" \
      -r "$rate" -m "$calls" -l "$limit" -d "$HOLD_MS" -recv_timeout "$RECV_TIMEOUT_MS" -buff_size 4194304 \
      -max_recv_loops 100000 -max_sched_loops 100000 \
      -trace_stat -stf stat.csv -fd 200ms -trace_err -error_file errors.log -nostdin \
      "$IP:$(server_port "$srv")" </dev/null >sipp.out 2>&1
    echo $? >rc
    # "times" in this subshell itself (not in a pipeline): line 2 = CPU of its children (SIPp)
    times >times
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } print s }' times >cpu
  )
}

# unexpected_answers ERRORS_LOG: answers that aborted a call, e.g. "got-503-for-200:5000"
# (a 503 where SIPp expected a 200)
unexpected_answers() {
  { grep -o "while expecting '[0-9]*' (index [0-9]*), received 'SIP/2.0 [0-9]*" "$1" 2>/dev/null || true; } |
    awk '{ gsub("\047", ""); n["got-" $NF "-for-" $3]++ } END { for (k in n) printf "%s:%d ", k, n[k] }' | sed 's/ $//'
}

STEPS_CSV="$RESULTS/steps.csv"
EXTRA="$WORK/extra.txt"
: >"$EXTRA"
echo "server,rate,calls,created,ok,failed,create_secs,elapsed_secs,server_ticks,sipp_cpu_secs,uas_ticks,other_ticks,wall_secs,udp_drops,retrans,setup_ms,uas_ok,uas_failed,sipp_rc,server_mem_kb,reasons" | tee "$RESULTS/noisy.csv" >"$STEPS_CSV"

# wait_quiet: wait (at most QUIET_WAIT s) until processes other than ours use < 25% of one
# core, so that a compile on the same machine does not disturb a step; the step runs anyway
# after that (and the report flags it)
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) m0 m1 s0 s1 o0 o1 pct
  while :; do
    m0=$(machine_ticks); s0=$(self_ticks); o0=$(ours_ticks)
    sleep 1
    m1=$(machine_ticks); s1=$(self_ticks); o1=$(ours_ticks)
    pct=$(((m1 - m0 - (s1 - s0) - (o1 - o0)) * 100 / HZ))
    [ "$pct" -ge 25 ] || return 0
    if [ "$SECONDS" -ge "$deadline" ]; then log "machine still busy (${pct}% of a core used by others); going on"; return 0; fi
    log "machine busy (${pct}% of a core used by other processes); waiting"
    sleep 2
  done
}

server_mem_kb() {         # pbxd: VmRSS; kamailio: PSS summed over its processes (shared memory once)
  if [ "$1" = pbxd ]; then rss_kb "$PBXD_PG"; else pss_group_kb "$KAM_PG"; fi
}

TOTAL_OK_pbxd=0 TOTAL_OK_kamailio=0
# run_step SERVER RATE [ATTEMPT]: one step; a step during which other processes used >= 25% of
# a core (a compile started meanwhile) is recorded in noisy.csv and run again, NOISY_RETRIES times
run_step() {
  local srv=$1 rate=$2 attempt=${3:-0} calls=$(($2 * STEP_SECS)) pg upg d t0 t1 s0 s1 m0 m1 a0 a1 o0 o1 other other_pct u0 u1 w0 w1 wall line uok0 ufail0 uok1 ufail1 mem
  pg=$(server_pg "$srv"); upg=$(uas_pg "$srv")
  d="$WORK/steps/$srv-$rate-$attempt"
  kill -0 "$pg" 2>/dev/null || die "$srv is not running"
  kill -0 "$upg" 2>/dev/null || die "the UAS for $srv is not running (logs/uas-screen-$srv.txt)"
  wait_quiet
  read -r uok0 ufail0 <<<"$(uas_counters "$srv")"
  m0=$(machine_ticks); s0=$(self_ticks); o0=$(ours_ticks); t0=$(group_ticks "$pg"); a0=$(group_ticks "$upg"); u0=$(udp_drops); w0=$(date +%s.%N)
  run_sipp "$d" "$srv" "$rate" "$calls"
  sleep 1.5                # let the server finish what is queued (CDR writes), the UAS write its stats
  t1=$(group_ticks "$pg"); a1=$(group_ticks "$upg"); u1=$(udp_drops); w1=$(date +%s.%N); o1=$(ours_ticks); m1=$(machine_ticks); s1=$(self_ticks)
  read -r uok1 ufail1 <<<"$(uas_counters "$srv")"
  mem=$(server_mem_kb "$srv")
  # other = what we did not start: all but both servers, both UASs and this script with its
  # children (the UAC SIPp); the idle server's deferred work (expiring transactions) is not in it
  other=$((m1 - m0 - (o1 - o0) - (s1 - s0)))
  wall=$(echo "$w1 - $w0" | bc)
  other_pct=$(echo "$other * 100 / $HZ / $wall" | bc)
  eval "$(python3 "$DIR/stats.py" sipp "$d/stat.csv" 2>/dev/null || echo "created=0 ok=0 failed=0 create_secs=0 elapsed_secs=0 retrans=0 setup_ms=-1 reasons=no-sipp-stats")"
  # shellcheck disable=SC2154  # created, ok, ... come from stats.py
  [ "$reasons" = none ] || reasons="$reasons;$(unexpected_answers "$d/errors.log")"
  line="$srv,$rate,$calls,$created,$ok,$failed,$create_secs,$elapsed_secs,$((t1 - t0)),$(cat "$d/cpu"),$((a1 - a0)),$other,$wall,$((u1 - u0)),$retrans,$setup_ms,$((uok1 - uok0)),$((ufail1 - ufail0)),$(cat "$d/rc"),$mem,$reasons"
  printf -v "TOTAL_OK_$srv" '%s' $(($(eval echo "\$TOTAL_OK_$srv") + ok))
  log "$srv @ $rate/s: ok $ok failed $failed of $created created in ${create_secs}s (tail to ${elapsed_secs}s), server CPU $((t1 - t0)) ticks, other processes ${other_pct}%, SIPp rc $(cat "$d/rc"), mem $mem kB$([ "$srv" != pbxd ] || echo "; $(pbxd_media)")"
  local tag="$srv-$rate$([ "$attempt" = 0 ] || echo "-retry$attempt")"
  if [ "$failed" != 0 ] || [ "$ok" != "$calls" ]; then
    head -c 30000 "$d/errors.log" >"$WORK/logs/sipp-errors-$tag.log" 2>/dev/null || true
    tail -n 60 "$d/sipp.out" >"$WORK/logs/sipp-screen-$tag.txt" 2>/dev/null || true
  fi
  [ -s "$d/stat.csv" ] && cp "$d/stat.csv" "$WORK/logs/sipp-stat-$tag.csv"
  sleep 1
  if [ "$other_pct" -ge 25 ] && [ "$attempt" -lt "$NOISY_RETRIES" ]; then
    echo "$line" >>"$RESULTS/noisy.csv"
    log "$srv @ $rate/s: other processes used ${other_pct}% of a core: noisy, running it again"
    run_step "$srv" "$rate" $((attempt + 1))
    return
  fi
  echo "$line" >>"$STEPS_CSV"
  [ "$srv" != pbxd ] || PBXD_LAST_END=$SECONDS
}

# --- run -----------------------------------------------------------------------------------------
for srv in $SERVERS; do
  case $srv in
    pbxd) start_pbxd ;;
    kamailio) start_kamailio ;;
    *) die "unknown server $srv" ;;
  esac
  start_uas "$srv"
done
log "rate steps: $RATES calls/s, ${STEP_SECS}s each, hold ${HOLD_MS} ms; UDP $IP ports: pbxd $PBXD_PORT, kamailio $KAM_PORT, UAC $SIPP_PORT, UASs $UAS_PORT_pbxd/$UAS_PORT_kamailio"
declare -A RUN_T0
for srv in $SERVERS; do RUN_T0[$srv]=$(group_ticks "$(server_pg "$srv")"); done
RUN_W0=$(date +%s)
for rate in $RATES; do
  for srv in $SERVERS; do run_step "$srv" "$rate"; done
done

# --- after the steps: memory, leftovers, CDRs ---------------------------------------------------
if [[ " $SERVERS " == *" pbxd "* ]]; then
  rss_end=$(rss_kb "$PBXD_PG")
  log "pbxd after the last step: RSS $rss_end kB, $(pbxd_live_calls) live calls, $(pbxd_media)"
  # wait (up to 40 s) until pbxd holds no call, no relay session and every port pair is free
  idle="no"
  for i in $(seq 80); do
    calls_now=$(pbxd_live_calls); media=$(pbxd_media)
    if [ "$calls_now" = 0 ] && [[ $media == "Media: 0 relay session(s)"* ]]; then idle="yes"; break; fi
    sleep 0.5
  done
  sleep 1
  read -r cdr_count cdr_kinds <<<"$(pbxd_cdrs)"
  rss_idle=$(rss_kb "$PBXD_PG")
  # finished transactions linger 64*T1 after the last step: watch RSS until they are gone
  t1_ms=$(echo "${PBXD_T1:-500ms}" | awk '/ms$/ { print $0 + 0; next } /s$/ { print $0 * 1000; next } { print 500 }')
  LINGER_WAIT=${LINGER_WAIT:-$((64 * t1_ms / 1000 + 5))}
  rss_series="$rss_end"
  if [ "$LINGER_WAIT" -gt 0 ]; then
    log "pbxd: watching its memory for ${LINGER_WAIT}s after the last pbxd step, while its finished transactions expire (64*T1)"
    while [ $((SECONDS - PBXD_LAST_END)) -lt "$LINGER_WAIT" ]; do
      sleep 5
      rss_series="$rss_series $(rss_kb "$PBXD_PG")"
    done
  fi
  rss_linger=$(rss_kb "$PBXD_PG")
  count() { { grep -c "$1" "$WORK/logs/pbxd.log" 2>/dev/null || true; } | head -1; }
  {
    echo "pbxd after the steps: RSS $rss_end kB right after the last step, $rss_idle kB once idle"
    echo "  (no live call and no relay session: $idle after $((i / 2)) s; $calls_now live calls; $media),"
    echo "  $rss_linger kB $((SECONDS - PBXD_LAST_END)) s after the last pbxd step (finished transactions linger"
    echo "  64*T1 = $((64 * t1_ms / 1000)) s); RSS every 5 s from the end of the steps: $rss_series kB (at start: $PBXD_RSS0 kB)"
    echo "  CDRs: $cdr_count written ($cdr_kinds) for ${TOTAL_OK_pbxd} calls SIPp completed"
    echo "  pbxd.log: $(count WARN) WARN, $(count ERROR) ERROR lines ($(count 'transaction table full') 'transaction table full')"
    # Measured with this scenario (STEP_SECS=45 at 3000/s filled 300,000 after 30.0 s = 90,000
    # calls): a call leaves 3 transactions for 64*T1 (the A-leg's authenticated INVITE and
    # BYE, the B-leg's INVITE) and 2 for T4 = 5 s (the challenged INVITE, the B-leg's BYE).
    per_call_ms=$((3 * 64 * t1_ms + 2 * 5000))
    max_tx=${PBXD_MAX_TRANSACTIONS:-300000}
    top=$(printf '%s\n' $RATES | sort -n | tail -1)
    echo "  transaction table: at R calls/s pbxd holds ~R*(3*64*T1 + 2*T4) = $((per_call_ms / 1000))*R transactions once a rate has"
    echo "  lasted 64*T1 = $((64 * t1_ms / 1000)) s, against max_transactions $max_tx: sustained, at most ~$((max_tx * 1000 / per_call_ms)) calls/s."
    if [ $((top * per_call_ms / 1000)) -gt "$max_tx" ]; then
      echo "  At ${top}/s the table fills after ~$(((max_tx - 10 * top) / (3 * top))) s (then 503s, also to in-dialog BYEs); steps of ${STEP_SECS} s$([ $((STEP_SECS * 1000)) -ge $((64 * t1_ms)) ] && echo " reach" || echo " do not reach") it."
    fi
  } >>"$EXTRA"
fi
if [[ " $SERVERS " == *" kamailio "* ]]; then
  echo "kamailio after the steps: PSS of its $(pgrep -g "$KAM_PG" | wc -l) processes $(pss_group_kb "$KAM_PG") kB (shm -m 2048 and pkg -M 16 MB reserved)" >>"$EXTRA"
fi
if [ "$(wc -l <"$RESULTS/noisy.csv")" -gt 1 ]; then
  echo "Steps run again because other processes used >= 25% of a core during them (noisy.csv):" \
    "$(tail -n +2 "$RESULTS/noisy.csv" | cut -d, -f1,2 | tr ',' '@' | tr '\n' ' ')" >>"$EXTRA"
fi
run_w=$(($(date +%s) - RUN_W0))
{
  echo "Whole run (from before the first step to now, ${run_w}s, deferred work and idle time included):"
  for srv in $SERVERS; do
    tot_ok=$(eval echo "\$TOTAL_OK_$srv")
    ticks=$(($(group_ticks "$(server_pg "$srv")") - RUN_T0[$srv]))
    [ "$tot_ok" -gt 0 ] && printf '  %-8s %7.1f us CPU per call (%d successful calls)\n' "$srv" "$(echo "$ticks * 1000000 / $HZ / $tot_ok" | bc -l)" "$tot_ok"
  done
  for srv in $SERVERS; do
    read -r uok ufail <<<"$(uas_counters "$srv")"
    reorder=$({ grep -o "Aborting call on an unexpected BYE" "$WORK/uas-$srv/errors.log" 2>/dev/null || true; } | wc -l)
    echo "  UAS at $srv: $uok calls answered and completed, $ufail failed$([ "$reorder" = 0 ] || echo ", $reorder of them aborted on a BYE the UAS did not expect (overtook the ACK, or came before its 200)")"
  done
} >>"$EXTRA"
for srv in $SERVERS; do
  cp "$WORK/uas-$srv/stat.csv" "$WORK/logs/uas-stat-$srv.csv" 2>/dev/null || true
  head -c 30000 "$WORK/uas-$srv/errors.log" >"$WORK/logs/uas-errors-$srv.log" 2>/dev/null || true
  tail -n 60 "$WORK/uas-$srv/sipp.out" >"$WORK/logs/uas-screen-$srv.txt" 2>/dev/null || true
done

# --- report --------------------------------------------------------------------------------------
{
  echo "pbx call-rate benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r)"
  echo "pbxd $("$PBXD" --version 2>/dev/null || echo '?') (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')," \
       "binary $(date -u -r "$PBXD" '+%Y-%m-%d %H:%M UTC')), t1 ${PBXD_T1:-default}, max_transactions ${PBXD_MAX_TRANSACTIONS:-default}," \
       "relay ports $MEDIA_PORT_MIN-$MEDIA_PORT_MAX, inactivity_timeout ${PBXD_INACTIVITY:-default}," \
       "open files limit $PBXD_NOFILE (4 relay sockets per call: at most ~$([[ $PBXD_NOFILE =~ ^[0-9]+$ ]] && echo $((PBXD_NOFILE / 4)) || echo '?') calls at once)"
  echo "kamailio $(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }'), -n $KAM_WORKERS -m 2048 -M 16; $(sipp -v 2>/dev/null | grep -o 'SIPp v[^ -]*' | head -1)"
  echo "steps: ${STEP_SECS}s at each of $RATES calls/s, hold ${HOLD_MS} ms, SIPp -recv_timeout ${RECV_TIMEOUT_MS} ms"
  echo
  python3 "$DIR/stats.py" report "$STEPS_CSV" "$EXTRA" "$HZ"
  echo
  echo "raw numbers: $RESULTS (steps.csv, logs/); run took $((SECONDS - BEGIN)) s"
} | tee "$RESULTS/summary.txt"
