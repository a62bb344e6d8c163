#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/run.py — runs the workloads of `make bench` on every library and
writes the results (Markdown table, SVG charts, raw JSON) to bench/results/.

    bench/run.py [--full] [--runs N] [--build DIR] [--only WORKLOAD,...]
                 [--rows ROW,...] [--update-docs]

Quick mode (the default, `make bench`) fits in a few minutes on 2 cores;
--full (`make bench FULL=1`) runs the sweeps of issue 7. Every figure is the
median of --runs runs (at least 5) with min and max, and its ratio to raw
epoll measured in the same invocation; runs of the rows are interleaved
(run 1 of every row, then run 2, ...) so that a burst of load on a shared
machine spreads over all rows instead of one. Syscalls per event come from
one more run under `perf stat -e raw_syscalls:sys_enter`, counting only the
timed part (the workload enables perf through --control fifos).

The executables are bench_cmp_<library> (bench/compare); a row whose
executable is missing, or that reports UNAVAILABLE, is printed as
"n/a (reason)". --update-docs replaces the results block of
docs/benchmarks.md with this run's.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pin  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Rows: name, executable suffix, extra arguments, workloads it does not apply to.
ROWS = [
    ("epoll", "epoll", [], set()),
    ("io_uring", "uring", [], set()),
    ("libevent", "libevent", [], set()),
    # libevent over the kqueue layer (issue 18), and the same libevent build
    # on epoll (bench/compare/libevent_kqueue.sh.in; `make test-kqueue` first).
    ("libevent-kqueue", "libevent_kqueue", [], set()),
    ("libevent-kq-epoll", "libevent_kqepoll", [], set()),
    ("libev", "libev", [], set()),
    ("libuv", "libuv", [], set()),
    ("asio", "asio", [], set()),
    ("kevent-epoll", "kevent", ["mode=epoll"], set()),
    ("kevent-uring", "kevent", ["mode=uring"], set()),
    # The ring is a way to harvest events; in these the cost is registering
    # (the same calls as kevent-epoll) or there is nothing to harvest.
    ("kevent-ring", "kevent", ["mode=ring"], {"million_timers", "timer_churn", "memory"}),
    ("nginx", None, [], None),  # http only
    # Coroutine servers (issue 19): libkevent's coroutine layer on the
    # io_uring backend (as kevent-uring, the callback loop) and Asio's
    # awaitable, each with 1 and 2 runner threads. A skip set holding
    # "*only*" lists the workloads the row runs instead of those it skips.
    ("kevent-coro", "kcoro", ["mode=uring", "threads=1"], {"*only*", "http"}),
    ("kevent-coro-2t", "kcoro", ["mode=uring", "threads=2"], {"*only*", "http"}),
    ("asio-coro", "asiocoro", ["threads=1"], {"*only*", "http", "echo"}),
    ("asio-coro-2t", "asiocoro", ["threads=2"], {"*only*", "http", "echo"}),
    # echo: the examples' own servers, run with their own command lines
    # (EXAMPLE_SERVERS): the callback echo (examples/echo, one thread) and
    # the coroutine echo (examples/coecho), both on the io_uring backend.
    ("kevent-echo", "echo", ["--backend", "uring", "0"], {"*only*", "echo"}),
    ("kevent-coecho", "coecho", ["--backend", "uring", "--threads", "1", "0"], {"*only*", "echo"}),
    ("kevent-coecho-2t", "coecho", ["--backend", "uring", "--threads", "2", "0"],
     {"*only*", "echo"}),
    # The same servers on the epoll backend, KEVENT_INIT_AUTO's choice since
    # 2026-12-07 (docs/benchmarks.md, "Which backend AUTO picks").
    ("kevent-coro-epoll", "kcoro", ["mode=epoll", "threads=1"], {"*only*", "http"}),
    ("kevent-echo-epoll", "echo", ["--backend", "epoll", "0"], {"*only*", "echo"}),
    ("kevent-coecho-epoll", "coecho", ["--backend", "epoll", "--threads", "1", "0"],
     {"*only*", "echo"}),
]
BASE = "epoll"
# Servers that are examples/ programs: started as `exe EXTRA...`, without
# the workload's name (bench/compare/CMakeLists.txt builds them).
EXAMPLE_SERVERS = {"echo", "coecho"}


class Case:
    """One table: a workload with fixed arguments, and the metric compared."""

    def __init__(self, workload, label, args, metric, unit, higher_better,
                 extra=(), perf_args=None, wrk=None, base=BASE, command=None):
        self.workload, self.label, self.args = workload, label, args
        self.metric, self.unit, self.higher_better = metric, unit, higher_better
        self.extra = list(extra)  # further metrics shown as medians
        self.perf_args = perf_args if perf_args is not None else args
        self.wrk = wrk  # http, echo: (connections, seconds) of the client
        self.not_run = None  # why this table cannot run on this machine
        self.base = base  # the row the "×" column divides by
        # command(row, build, args): the command line of a row, or None where
        # the row does not apply; default: bench_cmp_<row> <workload> args.
        self.command = command

    @property
    def key(self):
        return f"{self.workload} {self.label}"


def fd_hard_limit():
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def cases(full):
    """The tables of a run. Quick mode trims what takes long on 2 CPUs:
    fewer pipes iterations, shorter timed runs, 200k churned or measured
    timers, two idle sizes; docs/benchmarks.md lists both modes."""
    out = []
    # pipes: n socketpairs; 2n descriptors must fit RLIMIT_NOFILE's hard
    # limit (20,000 here): a larger n is listed as not run, with the reason;
    # n = 10k is capped by the workload to what fits (it prints a NOTE).
    for n in ([100, 1000, 10000, 100000] if full else [10000]):
        it = 25 if full else 2
        args = [f"n={n}", "active=100", f"writes={n}", f"iterations={it}"]
        c = Case("pipes", f"n={n} total", args, "total_us", "µs/iteration", False,
                 extra=["loop_us"], perf_args=args[:-1] + ["iterations=1"])
        if 2 * n > fd_hard_limit() and n > 10000:
            c.not_run = (f"needs {2 * n:,} descriptors; RLIMIT_NOFILE's hard limit here is "
                         f"{fd_hard_limit():,} and cannot be raised")
        out.append(c)
    n = 10_000_000 if full else 1_000_000
    out.append(Case("million_timers", f"n={n}", [f"n={n}"], "total_s", "s", False,
                    extra=["init_s", "dispatch_s", "cleanup_s"], perf_args=[f"n={n // 10}"]))
    n = 1_000_000 if full else 200_000
    out.append(Case("timer_churn", f"n={n}", [f"n={n}"], "ns_per_timer", "ns/timer", False,
                    perf_args=["n=200000"]))
    secs = 5 if full else 0.3
    out.append(Case("ping_pongs", f"{secs} s", [f"seconds={secs}"], "roundtrips_per_s",
                    "round trips/s", True, perf_args=["seconds=0.2"]))
    for t in (1, 2):
        args = [f"threads={t}", f"seconds={2 if full else 0.2}"]
        out.append(Case("async_pummel", f"threads={t}", args, "callbacks_per_s", "callbacks/s",
                        True, extra=["sends_per_callback"], perf_args=args[:1] + ["seconds=0.1"]))
    for idle in ([10, 1000, 100000] if full else [10, 100000]):
        out.append(Case("idle_scaling", f"idle={idle}",
                        [f"idle={idle}", f"rounds={50000 if full else 2000}"],
                        "ns_per_roundtrip", "ns/round trip", False,
                        perf_args=[f"idle={idle}", "rounds=1000"]))
    # threads: one producer posts small work items to one queue, W threads
    # take them (bench/threads_workload.hpp), against Asio's io_context::run
    # with W threads in run(): READY of a pool of persistent user events, or
    # one ADD per item (what asio::post does: a handler per item).
    items = 1_000_000 if full else 200_000
    for mode in ("ready", "add"):
        for w in (1, 2, 4):
            args = [f"mode={mode}", f"waiters={w}", f"items={items}"]
            out.append(Case("threads", f"{mode} waiters={w}", args, "items_per_s", "items/s",
                            True, extra=["wakeups_per_event"], base="asio",
                            command=threads_command))
    for c in ([10, 100, 1000] if full else [100]):
        out.append(Case("http", f"c={c}", [], "requests_per_s", "requests/s", True,
                        wrk=(c, 5 if full else 1)))
    # echo (issue 19): bench_echo_load keeps one 64-byte message in flight
    # on each of c connections; only the servers that name it run it.
    for c in ([10, 100, 1000] if full else [100]):
        out.append(Case("echo", f"c={c}", [], "roundtrips_per_s", "round trips/s", True,
                        wrk=(c, 5 if full else 1)))
    out.append(Case("memory", "timers", ["kind=timers", f"n={1000000 if full else 200000}"],
                    "bytes_per_reg", "bytes/timer", False, extra=["user_bytes", "n"]))
    out.append(Case("memory", "sockets", ["kind=sockets", "n=100000"], "bytes_per_reg",
                    "bytes/socket", False, extra=["user_bytes", "n"]))
    return out


def threads_command(row, build, args):
    """The threads tables' rows: Asio (bench_threads_asio) and libkevent on
    each backend (bench_threads_wakeups); the other libraries have no
    multi-threaded loop to compare."""
    name = row[0]
    if name == "asio":
        return [os.path.join(build, "bench", "bench_threads_asio"), "lib=asio"] + \
            [a for a in args if not a.startswith("mode=")]
    if name in ("kevent-epoll", "kevent-uring"):
        return [os.path.join(build, "bench", "bench_threads_wakeups"), "lib=kevent",
                "backend=" + name.split("-", 1)[1]] + args
    return None


def case_command(case, row, build, perf=False):
    args = case.perf_args if perf else case.args
    if case.command:
        return case.command(row, build, args)
    name, suffix, extra, _ = row
    return [exe_path(build, suffix), case.workload] + args + extra


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_result(stdout):
    vals, notes, unavailable = {}, [], None
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            for kv in line.split()[1:]:
                k, v = kv.split("=", 1)
                if k != "label":
                    vals[k] = float(v)
        elif line.startswith("NOTE "):
            notes.append(line[5:])
        elif line.startswith("UNAVAILABLE "):
            unavailable = line[12:]
    return vals, notes, unavailable


class Perf:
    """`perf stat -e raw_syscalls:sys_enter` around one run, counting only
    between the workload's enable and disable (fifos named in the
    environment), or attached to a server for the length of a wrk run."""

    def __init__(self):
        self.why_not = None
        if not shutil.which("perf"):
            self.why_not = "perf not installed"
            return
        r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"],
                           capture_output=True, text=True)
        if r.returncode != 0 or "not supported" in r.stderr or "<not" in r.stderr:
            self.why_not = "perf stat -e raw_syscalls:sys_enter failed: " + \
                r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "perf failed"

    @staticmethod
    def count(stderr):
        for line in stderr.splitlines():
            f = line.split(",")
            if len(f) > 2 and f[2].startswith("raw_syscalls:sys_enter"):
                try:
                    return float(f[0])
                except ValueError:
                    return None
        return None

    def run(self, cmd, timeout):
        tmp = tempfile.mkdtemp(prefix="bench-perf-")
        ctl, ack = os.path.join(tmp, "ctl"), os.path.join(tmp, "ack")
        os.mkfifo(ctl)
        os.mkfifo(ack)
        env = dict(os.environ, BENCH_PERF_CTL=ctl, BENCH_PERF_ACK=ack)
        try:
            r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-D", "-1",
                                "--control", f"fifo:{ctl},{ack}", "--"] + cmd,
                               capture_output=True, text=True, env=env, timeout=timeout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        vals, _, _ = parse_result(r.stdout)
        return self.count(r.stderr), vals


def exe_path(build, suffix):
    return os.path.join(build, "bench", "compare", f"bench_cmp_{suffix}")


def run_once(cmd, timeout=600):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, [], f"timed out after {timeout} s"
    vals, notes, unavail = parse_result(r.stdout)
    if unavail:
        return None, notes, unavail
    if r.returncode != 0 or not vals:
        err = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        return None, notes, f"failed: {err}"
    return vals, notes, None


# ---- http: one server per row, wrk against it ------------------------------

NGINX_CONF = """worker_processes 1;
daemon off;
master_process off;
error_log {dir}/error.log error;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {dir}; proxy_temp_path {dir}; fastcgi_temp_path {dir};
    uwsgi_temp_path {dir}; scgi_temp_path {dir};
    server {{
        listen 127.0.0.1:{port};
        default_type text/plain;
        location / {{ return 200 "Hello\\n"; }}
    }}
}}
"""


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --pin (bench/pin.py): where the servers of the http and echo tables and
# their client run.
PIN = None


def pinned(cmd, server):
    return pin.taskset(PIN, server) + cmd


def start_server(row, build, tmp, workload="http"):
    """Returns (process, port) or (None, reason)."""
    name, suffix, extra, _ = row
    if name == "nginx":
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(nginx):
            return None, "nginx not installed"
        port = free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=tmp, port=port))
        p = subprocess.Popen(pinned([nginx, "-c", conf, "-p", tmp], True), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        for _ in range(100):
            time.sleep(0.02)
            try:
                import socket
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return p, port
            except OSError:
                if p.poll() is not None:
                    return None, "nginx failed: " + p.stderr.read().strip()[-200:]
        p.kill()
        return None, "nginx did not start"
    exe = exe_path(build, suffix)
    if not os.path.exists(exe):
        return None, "not built (package missing)"
    cmd = [exe] + extra if suffix in EXAMPLE_SERVERS else [exe, workload] + extra
    p = subprocess.Popen(pinned(cmd, True), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        p.wait()
        out = line + p.stdout.read()
        _, _, unavail = parse_result(out)
        return None, unavail or ("failed: " + (p.stderr.read().strip() or out.strip())[-200:])
    return p, int(m.group(1))


def wrk(port, conns, secs):
    r = subprocess.run(pinned(["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--timeout", "5s",
                               f"http://127.0.0.1:{port}/"], False),
                       capture_output=True, text=True)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    n = re.search(r"(\d+) requests in", r.stdout)
    errs = re.search(r"Socket errors: (.*)", r.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", r.stdout)
    if not m:
        return None, None, "wrk failed: " + (r.stderr.strip() or r.stdout.strip())[-200:]
    note = None
    if errs or non2xx:
        note = "wrk: " + ", ".join(x.group(0) for x in (errs, non2xx) if x)
    return float(m.group(1)), int(n.group(1)) if n else None, note


def echo_load(build, port, conns, secs):
    """bench_echo_load against the server: (round trips/s, round trips, note)."""
    exe = os.path.join(build, "bench", "compare", "bench_echo_load")
    if not os.path.exists(exe):
        return None, None, "bench_echo_load not built"
    r = subprocess.run(pinned([exe, f"port={port}", f"conns={conns}", f"seconds={secs}"], False),
                       capture_output=True, text=True)
    vals, _, unavail = parse_result(r.stdout)
    if unavail or "roundtrips_per_s" not in vals:
        return None, None, "echo_load failed: " + (unavail or r.stderr.strip()[-200:])
    # The total counts the warm-up too: perf counts the server's whole run.
    return vals["roundtrips_per_s"], int(vals["all"]), None


def stop(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_http_case(case, rows, build, runs, perf, results, progress):
    """A server per row and a client against it: wrk (http) or
    bench_echo_load (echo)."""
    conns, secs = case.wrk
    if case.workload == "echo":
        def client(port, c, s):
            return echo_load(build, port, c, s)
    else:
        client = wrk
    tmp = tempfile.mkdtemp(prefix="bench-http-")
    try:
        for row in rows:
            name = row[0]
            entry = results.setdefault(case.key, {}).setdefault(name, {"runs": [], "notes": []})
            p, port = start_server(row, build, tmp, case.workload)
            if p is None:
                entry["na"] = port
                progress(f"{case.key} {name}: n/a ({port})")
                continue
            try:
                client(port, conns, 0.3)  # warm-up: connections, caches
                for i in range(runs):
                    rps, _, note = client(port, conns, secs)
                    if rps is None:
                        entry["na"] = note
                        break
                    if note and note not in entry["notes"]:
                        entry["notes"].append(note)
                    entry["runs"].append({case.metric: rps})
                    progress(f"{case.key} {name} run {i + 1}/{runs}: {rps:.0f} {case.unit}")
                if perf.why_not is None and "na" not in entry:
                    pp = subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter",
                                           "-p", str(p.pid)], stderr=subprocess.PIPE, text=True)
                    time.sleep(0.2)
                    _, total, _ = client(port, conns, secs)
                    pp.send_signal(signal.SIGINT)
                    _, err = pp.communicate()
                    cnt = Perf.count(err)
                    if cnt is not None and total:
                        entry["syscalls_per_event"] = cnt / total
            finally:
                stop(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_cases(args, selected, rows, perf):
    results = {}
    total_steps = 0
    for case in selected:
        if case.not_run:
            continue
        applicable = [r for r in rows if applies(r, case)]
        total_steps += len(applicable) * (args.runs + 1)
    step = [0]
    t_start = time.time()

    def progress(msg):
        step[0] += 1
        log(f"[{step[0]:4d}/{total_steps} {time.time() - t_start:6.0f}s] {msg}")

    for case in selected:
        if case.not_run:
            log(f"bench: {case.key}: not run: {case.not_run}")
            continue
        applicable = [r for r in rows if applies(r, case)]
        if case.wrk:
            run_http_case(case, applicable, args.build, args.runs, perf, results, progress)
            continue
        table = results.setdefault(case.key, {})
        for row in applicable:
            table[row[0]] = {"runs": [], "notes": []}
        for i in range(args.runs):
            for row in applicable:
                name = row[0]
                entry = table[name]
                if "na" in entry:
                    continue
                cmd = case_command(case, row, args.build)
                if not os.path.exists(cmd[0]):
                    entry["na"] = "not built (package missing)"
                    progress(f"{case.key} {name}: n/a ({entry['na']})")
                    continue
                vals, notes, why = run_once(cmd)
                for n in notes:
                    if n not in entry["notes"]:
                        entry["notes"].append(n)
                if why:
                    entry["na"] = why
                    progress(f"{case.key} {name}: n/a ({why})")
                    continue
                entry["runs"].append(vals)
                progress(f"{case.key} {name} run {i + 1}/{args.runs}: "
                         f"{vals[case.metric]:.6g} {case.unit}")
        if perf.why_not is None and case.workload != "memory":
            for row in applicable:
                name = row[0]
                entry = table[name]
                if "na" in entry:
                    continue
                cnt, vals = perf.run(case_command(case, row, args.build, perf=True),
                                     timeout=600)
                if cnt is not None and vals.get("events"):
                    entry["syscalls_per_event"] = cnt / vals["events"]
                progress(f"{case.key} {name} perf: "
                         f"{entry.get('syscalls_per_event', float('nan')):.3g} syscalls/event")
    return results


def applies(row, case):
    name, suffix, extra, skip = row
    if name == "nginx":
        return case.workload == "http"
    if case.command:
        return case.command(row, "", case.args) is not None
    if "*only*" in skip:
        return case.workload in skip
    # echo is served only by the rows that name it.
    return case.workload not in skip and case.workload != "echo"


# ---- output -----------------------------------------------------------------

def summarize(case, entry, metric):
    vs = [r[metric] for r in entry["runs"] if metric in r]
    if not vs:
        return None
    return statistics.median(vs), min(vs), max(vs)


def fmt(v):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"


def machine_header(build):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def sh(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=True,
                                  cwd=ROOT).stdout.strip()
        except OSError:
            return "?"

    versions = {
        "libevent": sh("pkg-config --modversion libevent"),
        "libev": sh("grep -h '#define EV_VERSION_M' /usr/include/ev.h | awk '{print $3}' | paste -sd."),
        "libuv": sh("pkg-config --modversion libuv"),
        "asio": sh("grep -h 'define ASIO_VERSION ' /usr/include/asio/version.hpp | awk '{print $3}'"),
        "liburing": sh("pkg-config --modversion liburing"),
        "nginx": sh("nginx -v 2>&1 | sed 's,.*/,,'"),
        "wrk": sh("wrk -v 2>&1 | head -1 | awk '{print $2}'"),
    }
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpu": f"{cpu}, {os.cpu_count()} CPUs",
        "commit": sh("git rev-parse --short HEAD") + (" (dirty)" if sh("git status --porcelain -- src bench include") else ""),
        "versions": versions,
    }


def markdown(hdr, selected, results, args, perf, rows):
    mode = "FULL=1" if args.full else "quick"
    cmd = "make bench FULL=1" if args.full else "make bench"
    out = [f"## Results: `{cmd}` ({hdr['date']})", "",
           f"- kernel {hdr['kernel']}; CPU {hdr['cpu']}; libkevent {hdr['commit']}",
           "- " + ", ".join(f"{k} {v}" for k, v in hdr["versions"].items()),
           f"- mode {mode}; each figure is the median of {args.runs} runs [min – max]; "
           "× epoll (× asio) is the median over raw epoll's (Asio's) median in the same invocation "
           "(for times lower is better, for rates higher is better)",
           "- syscalls/event: " + ("`perf stat -e raw_syscalls:sys_enter` on one more run, "
                                   "timed part only" if perf.why_not is None
                                   else f"not measured: {perf.why_not}"),
           ""]
    for case in selected:
        if case.not_run:
            out.append(f"### {case.workload} {case.label}: not run ({case.not_run})")
            out.append("")
            continue
        table = results.get(case.key, {})
        if not table:
            continue
        better = "higher is better" if case.higher_better else "lower is better"
        out.append(f"### {case.workload} {case.label} — {case.metric} ({case.unit}, {better})")
        out.append("")
        extra_h = "".join(f" | {e}" for e in case.extra)
        out.append(f"| library | median | min – max | × {case.base} | syscalls/event{extra_h} |")
        out.append("|---|---:|---:|---:|---:" + "|---:" * len(case.extra) + "|")
        base = table.get(case.base)
        base_med = summarize(case, base, case.metric)[0] if base and summarize(
            case, base, case.metric) else None
        notes = []
        for row in rows:
            name = row[0]
            if name not in table:
                continue
            entry = table[name]
            s = summarize(case, entry, case.metric)
            for n in entry.get("notes", []):
                if n not in notes:
                    notes.append(n)
            if "na" in entry and not s:
                out.append(f"| {name} | n/a ({entry['na']}) | | | |" + " |" * len(case.extra))
                continue
            if not s:
                continue
            ratio = f"{s[0] / base_med:.2f}" if base_med else "–"
            spe = entry.get("syscalls_per_event")
            ex = "".join(f" | {fmt(summarize(case, entry, e)[0]) if summarize(case, entry, e) else '–'}"
                         for e in case.extra)
            out.append(f"| {name} | {fmt(s[0])} | {fmt(s[1])} – {fmt(s[2])} | {ratio} | "
                       f"{fmt(spe) if spe is not None else '–'}{ex} |")
        out.append("")
        for n in notes:
            out.append(f"- note: {n}")
        if notes:
            out.append("")
        out.append(f"![{case.key}](svg/{'full' if args.full else 'quick'}/{slug(case)}.svg)")
        out.append("")
    return out


def slug(case):
    return re.sub(r"[^a-z0-9]+", "_", case.key.lower()).strip("_")


def svg_chart(case, table, rows):
    """Horizontal bars: median, with a whisker from min to max."""
    data = []
    for row in rows:
        e = table.get(row[0])
        if not e:
            continue
        s = summarize(case, e, case.metric)
        if s:
            data.append((row[0], *s))
    if not data:
        return None
    w, left, bar, gap, top = 640, 110, 18, 8, 36
    h = top + len(data) * (bar + gap) + 24
    vmax = max(d[3] for d in data) or 1
    scale = (w - left - 90) / vmax
    better = "higher is better" if case.higher_better else "lower is better"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="8" y="20" font-size="14" font-weight="bold">{case.key}: '
           f'{case.metric} ({case.unit}, {better})</text>']
    for i, (name, med, lo, hi) in enumerate(data):
        y = top + i * (bar + gap)
        color = "#d62728" if name.startswith("kevent") else ("#7f7f7f" if name == case.base
                                                             else "#1f77b4")
        out.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">{name}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{max(med * scale, 1):.1f}" height="{bar}" '
                   f'fill="{color}"/>')
        cy = y + bar / 2
        out.append(f'<line x1="{left + lo * scale:.1f}" x2="{left + hi * scale:.1f}" y1="{cy}" '
                   f'y2="{cy}" stroke="black"/>')
        out.append(f'<text x="{left + hi * scale + 6:.1f}" y="{y + bar - 4}">{fmt(med)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# Targets of issue 7: (text, case key, metric, row, other row, "le"/"ge", factor).
def targets(full):
    n = "n=10000 total"
    mt = "million_timers n=" + ("10000000" if full else "1000000")
    pp = "ping_pongs " + ("5 s" if full else "0.3 s")
    return [
        ("pipes total ≤ 0.8× libev at n=10k", f"pipes {n}", "total_us", "kevent-epoll", "libev", "le", 0.8),
        ("pipes total ≤ 1.0× raw epoll at n=10k", f"pipes {n}", "total_us", "kevent-epoll", "epoll", "le", 1.0),
        ("million_timers total ≤ 0.5× libuv", mt, "total_s", "kevent-epoll", "libuv", "le", 0.5),
        ("million_timers total ≤ 0.7× libev", mt, "total_s", "kevent-epoll", "libev", "le", 0.7),
        ("ping_pongs ≥ 0.95× raw epoll (epoll backend)", pp, "roundtrips_per_s", "kevent-epoll", "epoll", "ge", 0.95),
        ("ping_pongs ≥ 1.0× raw epoll (io_uring backend)", pp, "roundtrips_per_s", "kevent-uring", "epoll", "ge", 1.0),
        ("http c=100 ≥ 1.0× nginx", "http c=100", "requests_per_s", "kevent-epoll", "nginx", "ge", 1.0),
        ("http c=100 ≥ 1.2× libevent", "http c=100", "requests_per_s", "kevent-epoll", "libevent", "ge", 1.2),
        ("memory ≤ 96 bytes per timer", "memory timers", "bytes_per_reg", "kevent-epoll", None, "le", 96),
        # Issue 19: coroutines against the callback loop and Asio's coroutines.
        ("http c=100 coroutines ≥ 0.95× callback loop", "http c=100", "requests_per_s", "kevent-coro", "kevent-uring", "ge", 0.95),
        ("http c=100 coroutines ≥ 1.0× Asio coroutines", "http c=100", "requests_per_s", "kevent-coro", "asio-coro", "ge", 1.0),
        ("http c=100 coroutines, 2 threads ≥ 1.0× Asio coroutines, 2 threads", "http c=100", "requests_per_s", "kevent-coro-2t", "asio-coro-2t", "ge", 1.0),
        ("echo c=100 coroutines ≥ 0.95× callback echo", "echo c=100", "roundtrips_per_s", "kevent-coecho", "kevent-echo", "ge", 0.95),
        ("echo c=100 coroutines ≥ 1.0× Asio coroutines", "echo c=100", "roundtrips_per_s", "kevent-coecho", "asio-coro", "ge", 1.0),
        ("echo c=100 coroutines, 2 threads ≥ 1.0× Asio coroutines, 2 threads", "echo c=100", "roundtrips_per_s", "kevent-coecho-2t", "asio-coro-2t", "ge", 1.0),
        ("http c=100 coroutines on epoll (AUTO) ≥ 1.0× Asio coroutines", "http c=100", "requests_per_s", "kevent-coro-epoll", "asio-coro", "ge", 1.0),
        ("echo c=100 coroutines on epoll (AUTO) ≥ 0.95× callback echo on epoll", "echo c=100", "roundtrips_per_s", "kevent-coecho-epoll", "kevent-echo-epoll", "ge", 0.95),
        ("echo c=100 coroutines on epoll (AUTO) ≥ 1.0× Asio coroutines", "echo c=100", "roundtrips_per_s", "kevent-coecho-epoll", "asio-coro", "ge", 1.0),
    ] + [
        (f"threads {mode}, {w} waiter(s) ≥ 1.0× Asio", f"threads {mode} waiters={w}", "items_per_s",
         "kevent-epoll", "asio", "ge", 1.0)
        for mode in ("ready", "add") for w in (1, 2, 4)
    ] + [
        (f"threads {mode}, {w} waiters: ≤ 1.05 wake-ups per event", f"threads {mode} waiters={w}",
         "wakeups_per_event", "kevent-epoll", None, "le", 1.05)
        for mode in ("ready", "add") for w in (4,)
    ]


def target_lines(results, full):
    out = ["### Targets (issues 7 and 16; goals, not assertions)", "",
           "| target | measured | status |", "|---|---|---|"]
    for text, key, metric, row, other, op, k in targets(full):
        t = results.get(key, {})
        a = t.get(row)
        sa = summarize(None, a, metric) if a else None
        if other is None:
            if not sa:
                out.append(f"| {text} | n/a | – |")
                continue
            ok = sa[0] <= k if op == "le" else sa[0] >= k
            out.append(f"| {text} | {fmt(sa[0])} | {'met' if ok else 'missed'} |")
            continue
        b = t.get(other)
        sb = summarize(None, b, metric) if b else None
        if not sa or not sb:
            why = (a or {}).get("na") or (b or {}).get("na") or "not run"
            out.append(f"| {text} | n/a ({why}) | – |")
            continue
        r = sa[0] / sb[0]
        ok = r <= k if op == "le" else r >= k
        out.append(f"| {text} | {r:.2f}× {other} | {'met' if ok else 'missed'} |")
    out.append("")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the sweeps (make bench FULL=1)")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (at least 5)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--rows", default="", help="comma-separated rows (epoll is always run)")
    ap.add_argument("--update-docs", action="store_true",
                    help="put the results into docs/benchmarks.md")
    ap.add_argument("--pin", choices=pin.MODES,
                    help="http/echo: servers on CPU 1 and the client on CPU 0 (split), or "
                         "all on CPU 0 (shared); see PIN")
    args = ap.parse_args()
    global PIN
    PIN = args.pin
    if PIN and (os.cpu_count() or 1) < 2 and PIN == "split":
        raise SystemExit("bench: --pin split needs 2 CPUs")
    if args.runs < 5:
        log("bench: fewer than 5 runs per figure: fine for a try, not for docs/benchmarks.md")
    selected = [c for c in cases(args.full)
                if not args.only or c.workload in args.only.split(",")]
    # The rows asked for, and every row a selected table divides by.
    keep = set(args.rows.split(",")) | {BASE} | {c.base for c in selected}
    rows = [r for r in ROWS if not args.rows or r[0] in keep]
    perf = Perf()
    if perf.why_not:
        log(f"bench: no syscall column: {perf.why_not}")
    hdr = machine_header(args.build)
    if PIN:
        hdr["cpu"] += f"; http/echo servers and clients pinned ({PIN})"
    log(f"bench: {'full' if args.full else 'quick'} mode, {len(selected)} tables, "
        f"{args.runs} runs each; kernel {hdr['kernel']}, {hdr['cpu']}")
    t0 = time.time()
    results = run_cases(args, selected, rows, perf)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    outdir = os.path.join(ROOT, "bench", "results")
    svgdir = os.path.join(outdir, "svg", "full" if args.full else "quick")
    os.makedirs(svgdir, exist_ok=True)
    md = markdown(hdr, selected, results, args, perf, rows)
    md[1:1] = [""] + target_lines(results, args.full)
    md.append(f"Wall time of the run: {time.time() - t0:.0f} s.")
    md.append("")
    for case in selected:
        svg = svg_chart(case, results.get(case.key, {}), rows)
        if svg:
            with open(os.path.join(svgdir, slug(case) + ".svg"), "w") as f:
                f.write(svg)
    name = f"{stamp}-{'full' if args.full else 'quick'}"
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump({"header": hdr, "full": args.full, "results": results}, f, indent=1)
    text = "\n".join(md) + "\n"
    with open(os.path.join(outdir, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "latest.md"), "w") as f:
        f.write(text)
    log(f"bench: wrote bench/results/{name}.md, latest.md and svg/ ({time.time() - t0:.0f} s)")
    if args.update_docs:
        doc = os.path.join(ROOT, "docs", "benchmarks.md")
        with open(doc) as f:
            s = f.read()
        begin, end = "<!-- results:begin -->", "<!-- results:end -->"
        if begin in s and end in s:
            body = text.replace("](svg/", "](../bench/results/svg/")
            s = s[:s.index(begin) + len(begin)] + "\n" + body + s[s.index(end):]
            with open(doc, "w") as f:
                f.write(s)
            log("bench: updated docs/benchmarks.md")
    print(text)


if __name__ == "__main__":
    main()
