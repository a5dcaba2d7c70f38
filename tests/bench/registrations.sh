#!/usr/bin/env bash
# Registration benchmark: pbxd against Kamailio 5.6 on the same machine, in one run.
#
# SIPp registers with digest authentication over UDP (REGISTER, 401, REGISTER with
# Authorization, 200; one SIPp call = one registration), users 1000..1999 cycling, at several
# rates for STEP_SECS each, first against pbxd, then against Kamailio (registrar with
# in-memory htable credentials loaded from db_text, usrloc db_mode 0, as the anchor figures in
# shared/anchors were measured). For each step: server CPU (utime+stime of all its processes,
# /proc/PID/stat) per successful registration, the rate SIPp achieved, failures. Then memory
# per contact: a fresh server, 100,000 distinct contacts (users 0000..9999 x 10), resident
# memory after minus before; then the same 100,000 registrations again, which only refresh
# (what grows then is per-registration state other than contacts).
#
# Loopback only (127.0.0.1). Runs as root on Debian 12; installs sip-tester and kamailio
# with apt-get when missing, builds pbxd when its binary is older than the sources. Raises
# net.core.rmem_default/rmem_max for the run and restores them. Takes about 3-4 minutes.
#
# Usage:  tests/bench/registrations.sh
# Environment (all optional):
#   RATES="2000 5000 10000 15000 20000 25000"   registrations/s, one step each
#   STEP_SECS=5           length of each step
#   SERVERS="pbxd kamailio"
#   MEM=1                 0 skips the memory step; MEM_RATE=5000 its registration rate;
#   MEM_SETTLE_PBXD=45 MEM_SETTLE_KAM=8  seconds of quiet before each memory sample
#   PBXD_T1= MEM_T1=      [sip] t1 for pbxd in the rate / memory steps (empty: pbxd's default)
#   PBXD_PORT KAM_PORT SIPP_PORT   UDP ports on 127.0.0.1 (default: free ports the kernel picks)
#   QUIET_WAIT=30         before each step, wait up to this long for other processes to
#                         use < 25% of a core (a shared machine); 0 does not wait
#   NO_BUILD=1            use target/release/pbxd as it is
#   KEEP=1                keep the temp folder (configs, SIPp logs) and print its path
# Results: target/bench/registrations-STAMP/{summary.txt,steps.csv,memory.csv,logs/}
#
# T1 sets Timer J = 64*T1, how long stateful non-INVITE server transactions linger (pbxd
# builds before 970f773 kept one per REGISTER in a table of 10,000 and answered 503 beyond
# ~150 registrations/s; PBXD_T1=2ms let such builds be measured).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DIR="$HERE/registrations"

RATES=${RATES:-"2000 5000 10000 15000 20000 25000"}
STEP_SECS=${STEP_SECS:-5}
SERVERS=${SERVERS:-"pbxd kamailio"}
MEM=${MEM:-1}
MEM_RATE=${MEM_RATE:-5000}
MEM_CALLS=100000                  # users 0000..9999 x 10 contacts (reg_mem.xml, max_contacts 10)
PBXD_T1=${PBXD_T1:-}
MEM_T1=${MEM_T1:-}
# Memory is sampled once each server is idle again: pbxd's UDP non-INVITE transactions linger
# 64*T1 (RFC 3261 Timer J, 32 s by default) and its allocator purges freed pages on a 1 s
# decay; Kamailio's tm keeps finished transactions for its wait_timer (5 s).
MEM_SETTLE_PBXD=${MEM_SETTLE_PBXD:-45}
MEM_SETTLE_KAM=${MEM_SETTLE_KAM:-8}
IP=127.0.0.1                      # never anything else
free_port() {             # a UDP port on 127.0.0.1 that nothing holds right now (kernel's pick)
  python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PBXD_PORT=${PBXD_PORT:-$(free_port)}
KAM_PORT=${KAM_PORT:-$(free_port)}
SIPP_PORT=${SIPP_PORT:-$(free_port)}
KAM_WORKERS=${KAM_WORKERS:-4}
QUIET_WAIT=${QUIET_WAIT:-30}
PBXD=${PBXD:-$ROOT/target/release/pbxd}
PBXCTL=${PBXCTL:-$ROOT/target/release/pbxctl}
HZ=$(getconf CLK_TCK)
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS="$ROOT/target/bench/registrations-$STAMP"
BEGIN=$SECONDS

log() { printf '[%3ds] %s\n' "$((SECONDS - BEGIN))" "$*" >&2; }
die() { echo "registrations.sh: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, sysctl)"
for p in $PBXD_PORT $KAM_PORT $SIPP_PORT; do [[ $p =~ ^[0-9]+$ ]] || die "port $p is not a number"; done
[ "$(printf '%s\n' $PBXD_PORT $KAM_PORT $SIPP_PORT | sort -u | wc -l)" = 3 ] || die "PBXD_PORT, KAM_PORT and SIPP_PORT must differ"
for p in $PBXD_PORT $KAM_PORT; do
  [ -z "$(ss -Hunl "sport = :$p" 2>/dev/null)" ] || die "UDP port $p on this machine is in use; set PBXD_PORT/KAM_PORT"
done

# --- packages and binaries ---------------------------------------------------------------------
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
[[ " $SERVERS " != *" kamailio "* ]] || command -v kamailio >/dev/null || missing+=(kamailio)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ " $SERVERS " == *" pbxd "* ]] && [ -z "${NO_BUILD:-}" ]; then
  stale() { [ ! -x "$1" ] || [ -n "$(find "$ROOT/src" "$ROOT/cli" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$1" -print -quit)" ]; }
  if stale "$PBXD" || stale "$PBXCTL"; then
    log "building pbxd (cargo build --release --bins)"
    (cd "$ROOT" && cargo build --release --bins) >&2
  fi
fi

# --- temp folder, cleanup ----------------------------------------------------------------------
WORK=$(mktemp -d /tmp/pbx-bench-registrations.XXXXXX)
mkdir -p "$WORK/logs" "$WORK/steps" "$RESULTS"
GROUPS_STARTED=()          # process group ids of the servers we started (setsid)
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
ulimit -n 65536 2>/dev/null || true

# --- users ---------------------------------------------------------------------------------------
python3 "$DIR/gen_users.py" "$WORK/gen" 2>/dev/null

# --- measurement helpers -------------------------------------------------------------------------
group_ticks() {            # utime+stime (clock ticks) of all live processes in process group $1
  local files
  files=$(pgrep -g "$1" | sed 's#.*#/proc/&/stat#')
  # fields 14/15 after a comm without spaces (pbxd, kamailio)
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
self_ticks() {             # this script and its waited-for children (SIPp, helpers)
  awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' /proc/$$/stat
}
udp_drops() { awk '/^Udp:/{ if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else { print $c["RcvbufErrors"]; exit } }' /proc/net/snmp; }
rss_kb() { awk '/^VmRSS:/{ print $2 }' "/proc/$1/status"; }
pss_group_kb() { local p s=0 v; for p in $(pgrep -g "$1"); do v=$(awk '/^Pss:/{ print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || v=0; s=$((s + ${v:-0})); done; echo $s; }
kamcmd_() { kamcmd -s "unix:$WORK/kam/run/kamailio_ctl" "$@"; }
kam_shm_kb() { kamcmd_ core.shmmem | awk '/real_used:/{ printf "%d\n", $2 / 1024 }'; }
kam_contacts() { kamcmd_ stats.get_statistics usrloc: 2>/dev/null | awk '$1 == "usrloc:location_contacts" { n = $3 } END { print n + 0 }'; }
pbxd_contacts() {
  "$PBXCTL" --server "unix:$WORK/pbxd/admin.sock" registrations -o json 2>/dev/null |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0
}

# --- servers -------------------------------------------------------------------------------------
PBXD_PG="" KAM_PG=""

start_pbxd() {             # start_pbxd LABEL T1 (empty T1: pbxd's default)
  local label=$1 t1=$2 d="$WORK/pbxd" i
  rm -rf "$d"; mkdir -p "$d/data" "$d/tenants"
  cp "$WORK/gen/tenants/bench.toml" "$d/tenants/"
  {
    echo "data_dir = \"$d/data\""
    echo 'log_level = "warn"'
    echo "bootstrap_tenants = \"$d/tenants\""
    echo '[admin]'
    echo "socket = \"$d/admin.sock\""
    echo '[sip]'
    echo "listen = [\"udp:$IP:$PBXD_PORT\"]"
    [ -z "$t1" ] || echo "t1 = \"$t1\""
    echo '[sip.registration]'
    echo 'digest_algorithms = ["MD5"]     # SIPp answers only the first challenge and knows only MD5'
    echo 'max_contacts = 10'
    echo '[sip.security]'
    echo 'requests_per_second = 1000000   # one source (SIPp) must not be throttled'
    echo 'burst = 1000000'
    echo 'max_auth_failures = 1000000'
  } >"$d/pbxd.toml"
  cp "$d/pbxd.toml" "$WORK/logs/pbxd-$label.toml"
  setsid "$PBXD" --config "$d/pbxd.toml" >"$WORK/logs/pbxd-$label.log" 2>&1 </dev/null &
  PBXD_PG=$!
  GROUPS_STARTED+=("$PBXD_PG")
  for i in $(seq 120); do
    kill -0 "$PBXD_PG" 2>/dev/null || { tail -20 "$WORK/logs/pbxd-$label.log" >&2; die "pbxd exited at start"; }
    "$PBXCTL" --server "unix:$d/admin.sock" status 2>/dev/null | grep -q "udp:$IP:$PBXD_PORT" && break
    [ "$i" -lt 120 ] || die "pbxd not listening after 60 s"
    sleep 0.5
  done
  log "pbxd ($label, t1=${t1:-default}) pid $PBXD_PG, RSS $(rss_kb "$PBXD_PG") kB"
}

start_kamailio() {         # start_kamailio LABEL
  local label=$1 d="$WORK/kam" i
  rm -rf "$d"; mkdir -p "$d/run"
  cp -r "$WORK/gen/db" "$d/db"
  sed "s#@ANCHORS@#$d#g" "$DIR/kamailio.cfg" >"$d/kamailio.cfg"
  setsid kamailio -f "$d/kamailio.cfg" -DD -E -l "udp:$IP:$KAM_PORT" -n "$KAM_WORKERS" -m 2048 -M 16 \
    >"$WORK/logs/kamailio-$label.log" 2>&1 </dev/null &
  KAM_PG=$!
  GROUPS_STARTED+=("$KAM_PG")
  for i in $(seq 120); do
    kill -0 "$KAM_PG" 2>/dev/null || { tail -20 "$WORK/logs/kamailio-$label.log" >&2; die "kamailio exited at start"; }
    kamcmd_ core.uptime >/dev/null 2>&1 && [ -n "$(ss -Hunl "sport = :$KAM_PORT")" ] && break
    [ "$i" -lt 120 ] || die "kamailio not answering after 60 s"
    sleep 0.5
  done
  log "kamailio ($label) pid $KAM_PG, $(pgrep -g "$KAM_PG" | wc -l) processes, $(kamcmd_ htable.stats 2>/dev/null | awk '$1 == "all:" { print $2 }') users in htable"
}

stop_server() {            # stop_server pbxd|kamailio
  if [ "$1" = pbxd ]; then stop_group "$PBXD_PG"; PBXD_PG=""; else stop_group "$KAM_PG"; KAM_PG=""; fi
}

server_pg() { if [ "$1" = pbxd ]; then echo "$PBXD_PG"; else echo "$KAM_PG"; fi; }
server_port() { if [ "$1" = pbxd ]; then echo "$PBXD_PORT"; else echo "$KAM_PORT"; fi; }

# run_sipp OUTDIR SCENARIO USERS PORT RATE CALLS: one bounded SIPp run; leaves stat.csv,
# errors.log, sipp.out, rc and cpu (SIPp's own CPU seconds) in OUTDIR.
run_sipp() {
  local d=$1 scen=$2 users=$3 port=$4 rate=$5 calls=$6
  # at most 1 s of calls open at once, and below SIPp's open-files limit (20,000 here)
  local limit=$((rate < 1000 ? 1000 : rate > 15000 ? 15000 : rate)) bound=$((calls / rate * 4 + 40))
  local sport=$SIPP_PORT attempt
  mkdir -p "$d"
  # SIPp's own port: SIPP_PORT, or a free one if something else took it meanwhile
  for attempt in 1 2 3; do
    rm -f "$d/errors.log"
    run_sipp_on "$d" "$sport" "$@" "$limit" "$bound"
    grep -qs "Unable to bind main socket" "$d/errors.log" "$d/sipp.out" || return 0
    log "SIPp could not bind $IP:$sport; trying another port"
    sport=$(free_port)
  done
  die "SIPp could not bind a port 3 times"
}

run_sipp_on() {            # run_sipp_on OUTDIR SIPP_PORT OUTDIR SCENARIO USERS PORT RATE CALLS LIMIT BOUND
  local d=$1 sport=$2 scen=$4 users=$5 port=$6 rate=$7 calls=$8 limit=$9 bound=${10}
  (
    set +e
    cd "$d"
    timeout -k 5 "$bound" sipp -sf "$scen" -inf "$users" -i "$IP" -p "$sport" \
      -r "$rate" -m "$calls" -l "$limit" -recv_timeout 4000 -buff_size 4194304 \
      -max_recv_loops 100000 -max_sched_loops 100000 -default_behaviors all,-bye \
      -trace_stat -stf stat.csv -fd 200ms -trace_err -error_file errors.log -nostdin \
      "$IP:$port" </dev/null >sipp.out 2>&1
    echo $? >rc
    # "times" in this subshell itself (not in a pipeline): line 2 = CPU of its children (SIPp)
    times >times
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } print s }' times >cpu
  )
}

# unexpected_answers ERRORS_LOG: answers that aborted a call, e.g. "got-503-for-401:5000"
# (a 503 where SIPp expected a 401)
unexpected_answers() {
  { grep -o "while expecting '[0-9]*' (index [0-9]*), received 'SIP/2.0 [0-9]*" "$1" 2>/dev/null || true; } |
    awk '{ gsub("\047", ""); n["got-" $NF "-for-" $3]++ } END { for (k in n) printf "%s:%d ", k, n[k] }' | sed 's/ $//'
}

# sipp_stats OUTDIR CALLS: key=value line of the SIPp run (stats.py)
sipp_stats() {
  if [ -s "$1/stat.csv" ]; then python3 "$DIR/stats.py" sipp "$1/stat.csv" "$2"
  else echo "created=0 ok=0 failed=0 create_secs=0 elapsed_secs=0 retrans=0 reasons=no-sipp-stats"; fi
}

STEPS_CSV="$RESULTS/steps.csv"
MEM_CSV="$RESULTS/memory.csv"
echo "server,rate,calls,created,ok,failed,create_secs,elapsed_secs,server_ticks,sipp_cpu_secs,other_ticks,wall_secs,udp_drops,retrans,sipp_rc,reasons" >"$STEPS_CSV"
echo "server,metric,pass,before_kb,after_kb,count,ok,calls,bytes_per" >"$MEM_CSV"

# wait_quiet: wait (at most QUIET_WAIT s) until other processes use < 25% of one core, so
# that a compile on the same machine does not disturb a step; the step runs anyway after that
# (and the report flags it)
wait_quiet() {
  local deadline=$((SECONDS + QUIET_WAIT)) m0 m1 s0 s1 pct
  while :; do
    m0=$(machine_ticks); s0=$(self_ticks)
    sleep 1
    m1=$(machine_ticks); s1=$(self_ticks)
    pct=$(((m1 - m0 - (s1 - s0)) * 100 / HZ))
    [ "$pct" -ge 25 ] || return 0
    if [ "$SECONDS" -ge "$deadline" ]; then log "machine still busy (${pct}% of a core used by others); going on"; return 0; fi
    log "machine busy (${pct}% of a core used by other processes); waiting"
    sleep 2
  done
}

run_step() {               # run_step SERVER RATE
  local srv=$1 rate=$2 calls=$(($2 * STEP_SECS)) pg d t0 t1 s0 s1 m0 m1 other u0 u1 w0 w1 line
  pg=$(server_pg "$srv")
  d="$WORK/steps/$srv-$rate"
  kill -0 "$pg" 2>/dev/null || die "$srv is not running"
  wait_quiet
  m0=$(machine_ticks); s0=$(self_ticks); t0=$(group_ticks "$pg"); u0=$(udp_drops); w0=$(date +%s.%N)
  run_sipp "$d" "$DIR/reg_auth.xml" "$WORK/gen/users.csv" "$(server_port "$srv")" "$rate" "$calls"
  sleep 0.5                # let the server finish what is queued (pbxd writes registrations in batches)
  t1=$(group_ticks "$pg"); u1=$(udp_drops); w1=$(date +%s.%N); m1=$(machine_ticks); s1=$(self_ticks)
  # other = everything but the server and this script with its children (SIPp, helpers)
  other=$((m1 - m0 - (t1 - t0) - (s1 - s0)))
  eval "$(sipp_stats "$d" "$calls")"
  # shellcheck disable=SC2154  # created, ok, ... come from sipp_stats
  [ "$reasons" = none ] || reasons="$reasons;$(unexpected_answers "$d/errors.log")"
  line="$srv,$rate,$calls,$created,$ok,$failed,$create_secs,$elapsed_secs,$((t1 - t0)),$(cat "$d/cpu"),$other,$(echo "$w1 - $w0" | bc),$((u1 - u0)),$retrans,$(cat "$d/rc"),$reasons"
  echo "$line" >>"$STEPS_CSV"
  log "$srv @ $rate/s: ok $ok failed $failed of $created created in ${create_secs}s (tail to ${elapsed_secs}s), server CPU $((t1 - t0)) ticks, SIPp rc $(cat "$d/rc")"
  if [ "$failed" != 0 ] || [ "$ok" != "$calls" ]; then
    head -c 20000 "$d/errors.log" >"$WORK/logs/sipp-errors-$srv-$rate.log" 2>/dev/null || true
  fi
  [ -s "$d/stat.csv" ] && cp "$d/stat.csv" "$WORK/logs/sipp-stat-$srv-$rate.csv"
  sleep 1
}

# --- rate steps ----------------------------------------------------------------------------------
for srv in $SERVERS; do
  case $srv in
    pbxd) start_pbxd rates "$PBXD_T1" ;;
    kamailio) start_kamailio rates ;;
    *) die "unknown server $srv" ;;
  esac
done
log "rate steps: $RATES registrations/s, ${STEP_SECS}s each; UDP $IP ports: pbxd $PBXD_PORT, kamailio $KAM_PORT, SIPp $SIPP_PORT"
for rate in $RATES; do
  for srv in $SERVERS; do run_step "$srv" "$rate"; done
done
if [[ " $SERVERS " == *" pbxd "* ]]; then
  log "pbxd holds $(pbxd_contacts) registrations; RSS $(rss_kb "$PBXD_PG") kB"
fi
for srv in $SERVERS; do stop_server "$srv"; done

# --- memory per contact --------------------------------------------------------------------------
# Pass "new": 100,000 registrations that each add a contact (10 per user). Pass "refresh": the
# same 100,000 again, which only refresh those contacts: what memory still grows then is
# per-registration state other than contacts (e.g. pbxd's nonce-count table, kept for the
# nonce lifetime), which pass "new" includes too.
mem_row() {                # mem_row SERVER METRIC PASS BEFORE AFTER CONTACTS OK
  local per="-"
  [ "${6:-0}" -gt 0 ] && per=$((($5 - $4) * 1024 / $6))
  echo "$1,$2,$3,$4,$5,$6,$7,$MEM_CALLS,$per" >>"$MEM_CSV"
}

wait_contacts() {          # wait_contacts SERVER WANT: poll the contact count until stable
  local n last=-1 i
  for i in $(seq 30); do
    if [ "$1" = pbxd ]; then n=$(pbxd_contacts); else n=$(kam_contacts); fi
    [ "$n" -ge "$2" ] || [ "$n" = "$last" ] && break
    last=$n; sleep 1
  done
  echo "$n"
}

# pbxd's live heap (allocator bytes in use, from `pbxctl status`), in kB: what the contacts
# really take, apart from free memory the allocator keeps; "-" where pbxd cannot tell.
pbxd_heap_kb() {
  "$PBXCTL" --server "unix:$WORK/pbxd/admin.sock" status 2>/dev/null |
    awk '/^Heap:/{ printf "%d\n", $2 * 1024; found = 1 } END { if (!found) print "-" }'
}

mem_sample() {             # mem_sample SERVER: "RSS_KB HEAP_KB" (pbxd) or "PSS_KB SHM_KB" (kamailio)
  if [ "$1" = pbxd ]; then echo "$(rss_kb "$PBXD_PG") $(pbxd_heap_kb)"; else echo "$(pss_group_kb "$KAM_PG") $(kam_shm_kb)"; fi
}

if [ "$MEM" = 1 ]; then
  for srv in $SERVERS; do
    if [ "$srv" = pbxd ]; then start_pbxd memory "$MEM_T1"; else start_kamailio memory; fi
    sleep 1
    read -r m0 shm0 <<<"$(mem_sample "$srv")"
    for pass in new refresh; do
      d="$WORK/steps/$srv-memory-$pass"
      wait_quiet
      log "$srv: $MEM_CALLS registrations at $MEM_RATE/s ($pass contacts)"
      run_sipp "$d" "$DIR/reg_mem.xml" "$WORK/gen/users_mem.csv" "$(server_port "$srv")" "$MEM_RATE" "$MEM_CALLS"
      eval "$(sipp_stats "$d" "$MEM_CALLS")"
      [ "$ok" = "$MEM_CALLS" ] || head -c 20000 "$d/errors.log" >"$WORK/logs/sipp-errors-$srv-memory-$pass.log" 2>/dev/null || true
      wait_contacts "$srv" "$MEM_CALLS" >/dev/null
      # transactions and cached answers expire, the last batch is persisted
      if [ "$srv" = pbxd ]; then sleep "$MEM_SETTLE_PBXD"; else sleep "$MEM_SETTLE_KAM"; fi
      if [ "$srv" = pbxd ]; then contacts=$(pbxd_contacts); else contacts=$(kam_contacts); fi
      read -r m1 shm1 <<<"$(mem_sample "$srv")"
      # per contact for pass "new", per registration for pass "refresh"
      count=$([ "$pass" = new ] && echo "$contacts" || echo "$ok")
      if [ "$srv" = pbxd ]; then
        mem_row pbxd "RSS (VmRSS)" "$pass" "$m0" "$m1" "$count" "$ok"
        [ "$shm0" = - ] || [ "$shm1" = - ] || mem_row pbxd "heap in use" "$pass" "$shm0" "$shm1" "$count" "$ok"
      else
        mem_row kamailio "PSS (all processes)" "$pass" "$m0" "$m1" "$count" "$ok"
        mem_row kamailio "shm real_used" "$pass" "$shm0" "$shm1" "$count" "$ok"
      fi
      persisted=""
      [ "$srv" != pbxd ] || persisted=", $(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from registrations").fetchone()[0])' "$WORK/pbxd/data/pbx.db" 2>/dev/null || echo '?') rows in pbxd's SQLite"
      log "$srv: $contacts contacts registered ($ok of $MEM_CALLS SIPp calls ok, $failed failed)$persisted"
      [ "$srv" != pbxd ] || log "pbxd: $(grep -E '^Rss(Anon|File|Shmem):' "/proc/$PBXD_PG/status" | tr -s ' \t\n' ' ')"
      m0=$m1 shm0=$shm1
    done
    stop_server "$srv"
  done
fi

# --- report --------------------------------------------------------------------------------------
{
  echo "pbx registrations benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $(uname -r)"
  echo "pbxd $("$PBXD" --version 2>/dev/null || echo '?') (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty'))," \
       "t1 ${PBXD_T1:-default} in rate steps, ${MEM_T1:-default} in the memory step"
  echo "kamailio $(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }'), -n $KAM_WORKERS -m 2048 -M 16; $(sipp -v 2>/dev/null | grep -o 'SIPp v[^ -]*' | head -1)"
  echo "steps: ${STEP_SECS}s at each of $RATES registrations/s, users 1000..1999"
  echo
  python3 "$DIR/stats.py" report "$STEPS_CSV" "$([ "$MEM" = 1 ] && echo "$MEM_CSV" || echo -)" "$HZ"
  echo
  echo "raw numbers: $RESULTS (steps.csv, memory.csv, logs/); run took $((SECONDS - BEGIN)) s"
} | tee "$RESULTS/summary.txt"
