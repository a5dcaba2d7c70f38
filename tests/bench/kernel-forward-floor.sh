#!/usr/bin/env bash
# What relaying one RTP packet costs when the kernel forwards it: the evidence behind the
# relay's next step (issue 4's 2 µs per packet is below what a userspace relay pays in
# syscalls alone; see `cargo bench --bench relay -- floor`).
#
# A generator on 127.0.0.2:40000 sends 172-byte packets, one sendto each, to a sink on
# 127.0.0.3:40002, either directly or to "relay" port 127.0.0.1:30000, where one stateless
# nftables rule (prerouting, before conntrack) rewrites the packet as the relay would send
# it: from 127.0.0.1:30002 to the sink. Whole-machine CPU (/proc/stat, all states but idle
# and iowait) per packet, both ways, alternated ROUNDS times; the difference is the cost
# of forwarding in the kernel. The sink checks every packet arrived, from the right source.
#
# Loopback only. Needs root and nft (Debian package nftables; installed when missing).
# Usage: tests/bench/kernel-forward-floor.sh   Environment: PACKETS=300000 ROUNDS=3
set -euo pipefail
PACKETS=${PACKETS:-300000}
ROUNDS=${ROUNDS:-3}
TABLE=pbx_forward_floor

command -v nft >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null
trap 'nft delete table ip $TABLE 2>/dev/null || true' EXIT
nft -f - <<NFT
table ip $TABLE {
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    ip daddr 127.0.0.1 udp dport 30000 ip saddr 127.0.0.2 udp sport 40000 notrack ip saddr set 127.0.0.1 udp sport set 30002 ip daddr set 127.0.0.3 udp dport set 40002
  }
}
NFT

run() {
python3 - "$1" "$PACKETS" <<'PY'
import os, socket, sys, time
mode, n = sys.argv[1], int(sys.argv[2])
def busy():
    v = list(map(int, open('/proc/stat').readline().split()[1:]))
    return sum(v) - v[3] - v[4]
gen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); gen.bind(('127.0.0.2', 40000))
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sink.bind(('127.0.0.3', 40002))
sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20); sink.setblocking(False)
dst = ('127.0.0.3', 40002) if mode == 'direct' else ('127.0.0.1', 30000)
want = ('127.0.0.2', 40000) if mode == 'direct' else ('127.0.0.1', 30002)
pkt = bytes([0x80, 0]) + bytes(170)
got = wrong = 0
def drain():
    global got, wrong
    while True:
        try:
            data, src = sink.recvfrom(2048)
        except BlockingIOError:
            return
        got += 1
        wrong += src != want or data != pkt
b0 = busy()
for i in range(n):
    gen.sendto(pkt, dst)
    if i % 64 == 63:
        drain()
time.sleep(0.05); drain()
us = (busy() - b0) / os.sysconf('SC_CLK_TCK') * 1e6 / n
print(f"{mode} {us:.3f} {got} {wrong}")
PY
}

direct=() kernel=()
for r in $(seq 1 "$ROUNDS"); do
  for mode in direct kernel; do
    read -r m us got wrong < <(run $mode)
    [ "$got" = "$PACKETS" ] && [ "$wrong" = 0 ] || { echo "$mode: $got of $PACKETS arrived, $wrong wrong" >&2; exit 1; }
    echo "round $r $mode: ${us} µs machine CPU per packet ($got arrived, all from the expected source)"
    [ $mode = direct ] && direct+=("$us") || kernel+=("$us")
  done
done
python3 - "${direct[*]}" "${kernel[*]}" <<'PY'
import sys
d = list(map(float, sys.argv[1].split())); k = list(map(float, sys.argv[2].split()))
print(f"kernel forwarding adds {sum(k)/len(k) - sum(d)/len(d):.2f} µs of machine CPU per packet "
      f"(direct {sum(d)/len(d):.2f}, through the rule {sum(k)/len(k):.2f}; the rest is the generator and delivery)")
PY
