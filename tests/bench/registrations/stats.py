#!/usr/bin/env python3
"""Number crunching for tests/bench/registrations.sh.

  stats.py sipp STATFILE CALLS     one SIPp run (-trace_stat -fd 200ms) as shell assignments
  stats.py report STEPS.csv MEM.csv CLK_TCK   the final tables (text) on stdout

A SIPp "call" is REGISTER, 401, REGISTER with digest, 200: one successful registration.
"Achieved rate" is calls created per second while SIPp was creating them (from the periodic
rows, interpolated); the tail of late retransmissions after the last call was created is
reported separately (elapsed) and does not lower it.
"""
import csv
import sys


def sipp(path, calls):
    rows = list(csv.reader(open(path, newline=""), delimiter=";"))
    head, data = rows[0], [dict(zip(rows[0], r)) for r in rows[1:] if len(r) >= len(rows[0]) - 1]
    if not data:
        print("created=0 ok=0 failed=0 create_secs=0 elapsed_secs=0 retrans=0 reasons=none")
        return

    def epoch(field):  # "2026-11-26\t07:07:34.224038\t1795676854.224038"
        return float(field.split("\t")[-1])

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
    print(
        f"created={created} ok={int(last['SuccessfulCall(C)'])} failed={int(last['FailedCall(C)'])} "
        f"create_secs={max(t_done - start, 1e-3):.3f} elapsed_secs={epoch(last['CurrentTime']) - start:.3f} "
        f"retrans={int(last.get('Retransmissions(C)') or 0)} reasons={'+'.join(reasons) or 'none'}"
    )


def report(steps_path, mem_path, clk_tck):
    hz = float(clk_tck)
    steps = list(csv.DictReader(open(steps_path)))
    out = []
    w = out.append
    w("Digest-authenticated SIP registrations over UDP (SIPp, loopback, same machine, same run)")
    w("  cpu us/reg = server utime+stime / successful registrations; achieved = calls created/s")
    w("  sipp% = SIPp CPU (100 = one core saturated); other% = CPU of everything else on the")
    w("  machine during the step (200 = both cores); drops = UDP receive-buffer errors (kernel)")
    w("")
    hdr = (
        f"{'rate/s':>7} {'server':<9} {'cpu us/reg':>10} {'achieved/s':>10} {'ok':>7} {'failed':>7} {'fail %':>7} "
        f"{'server%':>7} {'sipp%':>6} {'other%':>6} {'drops':>6} {'tail s':>6}  failure reasons"
    )
    w(hdr)
    w("-" * len(hdr))
    best = {}
    notes = []
    for s in steps:
        rate, ok, failed, created = int(s["rate"]), int(s["ok"]), int(s["failed"]), int(s["created"])
        # Calls still open when SIPp stopped count as failed, like those SIPp marked failed.
        fail_pct = 100.0 * (created - ok) / created if created else 100.0
        server_s = int(s["server_ticks"]) / hz
        cpu_us = f"{server_s * 1e6 / ok:10.1f}" if ok else f"{'-':>10}"
        wall = max(float(s["wall_secs"]), 1e-3)
        achieved = created / max(float(s["create_secs"]), 1e-3)
        sipp_s = float(s["sipp_cpu_secs"])
        other = max(0.0, int(s["other_ticks"]) / hz)
        tail = float(s["elapsed_secs"]) - float(s["create_secs"])
        w(
            f"{rate:>7} {s['server']:<9} {cpu_us} {achieved:>10.0f} {ok:>7} {failed:>7} {fail_pct:>7.2f} "
            f"{100 * server_s / wall:>7.0f} {100 * sipp_s / wall:>6.0f} {100 * other / wall:>6.0f} "
            f"{int(s['udp_drops']):>6} {tail:>6.1f}  {s['reasons']}"
        )
        clean = fail_pct < 0.1 and achieved >= 0.95 * rate
        if clean:
            best[s["server"]] = max(best.get(s["server"], 0), rate)
        if 100 * sipp_s / wall >= 90:
            notes.append(f"{s['server']} @ {rate}/s: SIPp used {100 * sipp_s / wall:.0f}% of a core (SIPp may be the limit)")
        if 100 * other / wall >= 25:
            notes.append(f"{s['server']} @ {rate}/s: other processes used {100 * other / wall:.0f}% CPU (noisy step)")
    w("")
    top = max((int(s["rate"]) for s in steps), default=0)
    for server in dict.fromkeys(s["server"] for s in steps):
        b = best.get(server)
        shown = "none" if not b else f">= {b}/s (the highest step)" if b == top else f"{b}/s"
        w(f"highest clean rate {server:<9}: {shown}   (< 0.1% failed and >= 95% of target achieved)")
    mem = list(csv.DictReader(open(mem_path))) if mem_path and mem_path != "-" else []
    if mem:
        w("")
        w("Memory (fresh server; users 0000..9999; pass new: 100,000 registrations adding 10 contacts")
        w("per user; pass refresh: the same 100,000 again, refreshing those contacts):")
        for m in mem:
            unit = "bytes/contact" if m["pass"] == "new" else "bytes/registration"
            w(f"  {m['server']:<9} {m['metric']:<20} {m['pass']:<8} {m['before_kb']:>7} kB -> {m['after_kb']:>7} kB, "
              f"{m['ok']:>6} of {m['calls']} SIPp calls ok, {m['count']:>6} counted: {m['bytes_per']:>6} {unit}")
        w("  (pass new includes per-registration state that pass refresh shows on its own)")
    if notes:
        w("")
        w("Notes:")
        out.extend("  " + n for n in notes)
    print("\n".join(out))


if __name__ == "__main__":
    if sys.argv[1] == "sipp":
        sipp(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "-", sys.argv[4] if len(sys.argv) > 4 else "100")
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
