#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""coro_side_by_side.py — the coroutine servers measured side by side, for
docs/benchmarks.md ("Coroutines (issue 19)"): every server is started at
once and the client runs go round-robin over them (reversed every other
round), so a burst of load on a shared machine hits all servers alike;
bench/run.py runs a row's runs back to back instead.

    bench/compare/coro_side_by_side.py BUILD http|echo CONNS [--rounds N]
        [--servers k2,a2,k1,a1] [--before DIR] [--perf] [--pin split|shared]

Servers: kN = libkevent's coroutines (bench_cmp_kcoro / bench_cmp_coecho,
io_uring backend) with N runners; eN = the same on the epoll backend; aN = Asio's coroutines with N threads;
bN = kN from the executables in DIR/bench/compare (--before: another build
of the same servers, e.g. before a change). Per server: the median and
range of the client's rate, the server's CPU time per request (from
/proc/PID/task/*/schedstat) and context switches per request; with --perf
one more run per server under `perf stat -e raw_syscalls:sys_enter -p` for
syscalls per request; and per pair of servers the median of the per-round
ratios of their rates.
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pin  # noqa: E402


def server_cmd(name, work, build, before):
    kind, threads = name[0], name[1:]
    if kind in "kbe":
        d = os.path.join(before if kind == "b" else build, "bench", "compare")
        backend = "epoll" if kind == "e" else "uring"
        if work == "http":
            return [os.path.join(d, "bench_cmp_kcoro"), "http", f"mode={backend}",
                    f"threads={threads}"]
        return [os.path.join(d, "bench_cmp_coecho"), "--backend", backend, "--threads", threads,
                "0"]
    if kind == "a":
        return [os.path.join(build, "bench", "compare", "bench_cmp_asiocoro"), work,
                f"threads={threads}"]
    raise SystemExit(f"unknown server {name}")


def cpu_and_switches(pid):
    ns = switches = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            ns += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
            st = open(f"/proc/{pid}/task/{t}/status").read()
            switches += sum(int(x) for x in re.findall(r"ctxt_switches:\s+(\d+)", st))
        except OSError:
            pass  # a thread that just ended
    return ns, switches


def pin_prefix(args, server):
    """taskset for --pin: the CPU a server or the client runs on."""
    return pin.taskset(args.pin, server)


def client(args, port, secs):
    """(rate, requests the server handled during the run)."""
    if args.work == "http":
        r = subprocess.run(pin_prefix(args, server=False) + ["wrk", "-t1", f"-c{args.conns}", f"-d{secs}s", "--timeout", "5s",
                            f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
        rate = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
        n = re.search(r"(\d+) requests in", r.stdout)
    else:
        exe = os.path.join(args.build, "bench", "compare", "bench_echo_load")
        r = subprocess.run(pin_prefix(args, server=False) + [exe, f"port={port}", f"conns={args.conns}", f"seconds={secs}"],
                           capture_output=True, text=True)
        rate = re.search(r"roundtrips_per_s=([\d.]+)", r.stdout)
        n = re.search(r"all=(\d+)", r.stdout)
    if not rate or not n:
        raise SystemExit("client failed: " + (r.stderr or r.stdout)[-300:])
    return float(rate.group(1)), int(n.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("work", choices=["http", "echo"])
    ap.add_argument("conns", type=int)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--servers", default="k2,a2,k1,a1")
    ap.add_argument("--before")
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--pin", choices=pin.MODES,
                    help="split: servers on CPU 1, the client on CPU 0; shared: all on CPU 0 "
                         "(then the rate is set by CPU time per request alone, with no "
                         "cross-CPU wake-ups, whose cost on a paravirtualised VM varies "
                         "with where the scheduler happens to put the threads)")
    args = ap.parse_args()
    names = args.servers.split(",")
    procs = {}
    try:
        for s in names:
            p = subprocess.Popen(pin_prefix(args, server=True) +
                                 server_cmd(s, args.work, args.build, args.before),
                                 stdout=subprocess.PIPE, text=True)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", p.stdout.readline())
            if not m:
                raise SystemExit(f"{s} did not start")
            procs[s] = (p, int(m.group(1)))
        for s in names:
            client(args, procs[s][1], 1)  # warm-up: connections, caches
        rates = {s: [] for s in names}
        per_req = {s: [] for s in names}
        for i in range(args.rounds):
            for s in (names if i % 2 == 0 else names[::-1]):
                p, port = procs[s]
                c0 = cpu_and_switches(p.pid)
                rate, n = client(args, port, 1)
                c1 = cpu_and_switches(p.pid)
                rates[s].append(rate)
                per_req[s].append(((c1[0] - c0[0]) / n, (c1[1] - c0[1]) / n))
        syscalls = {}
        if args.perf:
            for s in names:
                p, port = procs[s]
                pp = subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter",
                                       "-p", str(p.pid)], stderr=subprocess.PIPE, text=True)
                time.sleep(0.2)
                _, n = client(args, port, 1)
                time.sleep(0.1)
                pp.send_signal(signal.SIGINT)
                _, err = pp.communicate()
                m = re.search(r"^([\d.]+),", err, re.M)
                if m:
                    syscalls[s] = float(m.group(1)) / n
    finally:
        for p, _ in procs.values():
            p.send_signal(signal.SIGTERM)
            p.wait()
    print(f"{args.work} c={args.conns}, load {os.getloadavg()[0]:.1f}, {args.rounds} rounds of 1 s")
    for s in names:
        r, v = rates[s], per_req[s]
        line = (f"  {s}: {statistics.median(r):,.0f}/s [{min(r):,.0f}-{max(r):,.0f}]"
                f"  CPU {statistics.median(x[0] for x in v) / 1000:.1f} µs/req"
                f"  {statistics.median(x[1] for x in v):.2f} ctx switches/req")
        if s in syscalls:
            line += f"  {syscalls[s]:.2f} syscalls/req"
        print(line)
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            q = [a / b for a, b in zip(rates[x], rates[y])]
            print(f"  {x}/{y}: median {statistics.median(q):.2f} [{min(q):.2f}-{max(q):.2f}]")


if __name__ == "__main__":
    main()
