#!/usr/bin/env python3
"""Number crunching for tests/bench/calls.sh.

  stats.py sipp STATFILE          one UAC SIPp run (-trace_stat) as shell assignments
  stats.py counters STATFILE      the last row of a (running) UAS's stat file: "ok failed"
  stats.py report STEPS.csv EXTRA.txt CLK_TCK   the final table (text) on stdout

A SIPp "call" is one whole call: INVITE .. 200, ACK, BYE, 200 (for pbxd with the 407 dance
before). "Achieved rate" is calls created per second while SIPp was creating them (from the
periodic rows, interpolated); the tail after the last call was created is reported separately
(tail) and does not lower it. Calls still open when SIPp stopped count as failed.
"""
import csv
import sys


def rows_of(path):
    rows = list(csv.reader(open(path, newline=""), delimiter=";"))
    if not rows:
        return [], []
    head = rows[0]
    return head, [dict(zip(head, r)) for r in rows[1:] if len(r) >= len(head) - 1]


def epoch(field):  # "2026-11-26\t07:07:34.224038\t1795676854.224038"
    return float(field.split("\t")[-1])


def ms(field):  # "00:00:00:123000" (h:m:s:us) -> milliseconds
    try:
        h, m, s, us = (int(x) for x in field.split(":"))
        return (h * 3600 + m * 60 + s) * 1000 + us / 1000
    except (ValueError, AttributeError):
        return -1


def sipp(path):
    head, data = rows_of(path)
    if not data:
        print("created=0 ok=0 failed=0 create_secs=0 elapsed_secs=0 retrans=0 setup_ms=-1 reasons=no-sipp-stats")
        return
    start = epoch(data[0]["StartTime"])
    last = data[-1]
    created = int(last["TotalCallCreated"])
    # When did the last call get created? Interpolate between the periodic rows around it.
    t_done, prev = None, (start, 0)
    for d in data:
        t, n = epoch(d["CurrentTime"]), int(d["TotalCallCreated"])
        if n >= created and created > 0:
            t0, n0 = prev
            t_done = t0 + (t - t0) * ((created - n0) / (n - n0)) if n > n0 else t
            break
        prev = (t, n)
    if t_done is None:
        t_done = epoch(last["CurrentTime"])
    reasons = []
    for k in head:
        if k.startswith("Failed") and k.endswith("(C)") and k != "FailedCall(C)" and int(last.get(k) or 0):
            reasons.append(f"{k[6:-3]}:{last[k]}")
    # mean INVITE -> 200 time (rtd="true" on the 200), over the whole run
    setup = ms(last.get("ResponseTime1(C)", ""))
    print(
        f"created={created} ok={int(last['SuccessfulCall(C)'])} failed={int(last['FailedCall(C)'])} "
        f"create_secs={max(t_done - start, 1e-3):.3f} elapsed_secs={epoch(last['CurrentTime']) - start:.3f} "
        f"retrans={int(last.get('Retransmissions(C)') or 0)} setup_ms={setup:.1f} reasons={'+'.join(reasons) or 'none'}"
    )


def counters(path):
    try:
        _, data = rows_of(path)
    except OSError:
        data = []
    if not data:
        print("0 0")
        return
    last = data[-1]
    print(int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"]))


def report(steps_path, extra_path, clk_tck):
    hz = float(clk_tck)
    steps = list(csv.DictReader(open(steps_path)))
    out = []
    w = out.append
    w("SIP calls over UDP: SIPp UAC -> server -> SIPp UAS (loopback, same machine, same run)")
    w("  INVITE, 100, 180, (100 ms), 200 with SDP on both legs, ACK, BYE, 200; no RTP.")
    w("  pbxd (B2BUA): 407 auth of every INVITE, SDP rewritten to its relay, CDR per call.")
    w("  Kamailio: stateful proxy (record_route, lookup location, t_relay), no auth on INVITE.")
    w("  cpu us/call = server utime+stime (all its processes) during the step / successful calls;")
    w("  achieved = calls created/s; failed = created - successful (incl. calls left open);")
    w("  sipp% = both SIPps' CPU (UAC + UAS; 100 = one core); other% = processes the script did not")
    w("  start (200 = both cores); drops = UDP receive-buffer errors (kernel); setup = mean")
    w("  ms from the first INVITE to the 200 (incl. the 100 ms ring); uas fail = the callee")
    w("  SIPp's failed calls during the step; mem = after the step, pbxd's VmRSS, Kamailio's PSS")
    w("  summed over its processes")
    w("")
    hdr = (
        f"{'rate/s':>6} {'server':<8} {'cpu us/call':>11} {'achieved/s':>10} {'ok':>6} {'failed':>6} {'fail %':>6} "
        f"{'server%':>7} {'sipp%':>5} {'other%':>6} {'drops':>5} {'tail s':>6} {'setup':>6} {'uas fail':>8} {'mem MB':>6}  failure reasons"
    )
    w(hdr)
    w("-" * len(hdr))
    best = {}
    notes = []
    for s in steps:
        rate, ok, created = int(s["rate"]), int(s["ok"]), int(s["created"])
        failed = created - ok
        fail_pct = 100.0 * failed / created if created else 100.0
        server_s = int(s["server_ticks"]) / hz
        cpu_us = f"{server_s * 1e6 / ok:11.1f}" if ok else f"{'-':>11}"
        wall = max(float(s["wall_secs"]), 1e-3)
        achieved = created / max(float(s["create_secs"]), 1e-3)
        sipp_s = float(s["sipp_cpu_secs"]) + int(s["uas_ticks"]) / hz
        other = max(0.0, int(s["other_ticks"]) / hz)
        tail = float(s["elapsed_secs"]) - float(s["create_secs"])
        setup = float(s["setup_ms"])
        w(
            f"{rate:>6} {s['server']:<8} {cpu_us} {achieved:>10.0f} {ok:>6} {failed:>6} {fail_pct:>6.2f} "
            f"{100 * server_s / wall:>7.0f} {100 * sipp_s / wall:>5.0f} {100 * other / wall:>6.0f} "
            f"{int(s['udp_drops']):>5} {tail:>6.1f} {setup:>6.0f} {int(s['uas_failed']):>8} {int(s['server_mem_kb'] or 0) / 1024:>6.0f}  {s['reasons']}"
        )
        clean = fail_pct < 0.1 and achieved >= 0.95 * rate
        if clean:
            best[s["server"]] = max(best.get(s["server"], 0), rate)
        if 100 * sipp_s / wall >= 150:
            notes.append(f"{s['server']} @ {rate}/s: the SIPps used {100 * sipp_s / wall:.0f}% CPU (SIPp may be the limit)")
        if 100 * other / wall >= 25:
            notes.append(f"{s['server']} @ {rate}/s: other processes used {100 * other / wall:.0f}% CPU (noisy step)")
        if s["sipp_rc"] not in ("0", "1"):
            notes.append(f"{s['server']} @ {rate}/s: SIPp exit code {s['sipp_rc']}")
    w("")
    top = max((int(s["rate"]) for s in steps), default=0)
    for server in dict.fromkeys(s["server"] for s in steps):
        b = best.get(server)
        shown = "none" if not b else f">= {b}/s (the highest step)" if b == top else f"{b}/s"
        w(f"highest clean rate {server:<8}: {shown}   (< 0.1% failed and >= 95% of the target rate achieved)")
    if extra_path and extra_path != "-":
        extra = open(extra_path).read().rstrip()
        if extra:
            w("")
            out.extend(extra.splitlines())
    if notes:
        w("")
        w("Notes:")
        out.extend("  " + n for n in notes)
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "sipp":
        sipp(sys.argv[2])
    elif sys.argv[1] == "counters":
        counters(sys.argv[2])
    elif sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "-", sys.argv[4] if len(sys.argv) > 4 else "100")
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
