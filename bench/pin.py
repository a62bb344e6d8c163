# SPDX-License-Identifier: MIT
"""pin.py — where a benchmark's servers and their client run (--pin of
bench/run.py and bench/compare/coro_side_by_side.py).

Unpinned, a round trip's cost on a 2-CPU paravirtualised VM depends on
whether the scheduler put server and client on one CPU or two (a cross-CPU
wake-up is an interrupt), which moved one server 82k-115k round trips/s
between invocations. split: servers on CPU 1, the client on CPU 0; shared:
all on CPU 0 (the rate is then set by CPU time alone).
"""

MODES = ["split", "shared"]


def taskset(mode, server):
    """The command prefix that runs a server (or the client) per `mode`."""
    if not mode:
        return []
    return ["taskset", "-c", "1" if server and mode == "split" else "0"]
