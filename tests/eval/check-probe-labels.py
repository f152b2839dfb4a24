#!/usr/bin/env python3
"""Check tests/eval/probe-labels.toml against the running host.

Every attach point named in `expect` or `wrong` must exist here: tracepoints under
/sys/kernel/tracing/events, uprobe functions in the ELF's symbol table (readelf -Ws),
perf software events from the kernel's fixed list, profile/interval with a positive rate.
kprobe/kretprobe/kfunc/fentry/fexit and hardware events are refused: this kernel has none.
Each label needs a query and a source; expect and wrong must be disjoint; an empty expect
needs a `why`. Prints a summary and exits 1 on any problem.

Usage: python3 tests/eval/check-probe-labels.py [path/to/probe-labels.toml]
"""

import collections
import os
import re
import subprocess
import sys
import tomllib

TRACEFS = "/sys/kernel/tracing/events"
# perf_event software counters (include/uapi/linux/perf_event.h, PERF_TYPE_SOFTWARE), by the
# names bpftrace accepts.
SOFTWARE = {
    "cpu-clock", "cpu", "task-clock", "page-faults", "faults", "context-switches", "cs",
    "cpu-migrations", "minor-faults", "major-faults", "alignment-faults",
    "emulation-faults", "dummy", "bpf-output",
}
KEYS = {"query", "expect", "wrong", "source", "why"}
MIN_LABELS = 200
MIN_SYSTEMS = 25

_symbols = {}


def elf_functions(path):
    """Function names defined in an ELF (dynamic and static symbol tables), cached."""
    if path not in _symbols:
        out = subprocess.run(["readelf", "-Ws", "--dyn-syms", path], capture_output=True,
                             text=True, check=False).stdout
        names = set()
        for line in out.splitlines():
            cols = line.split()
            # Num: Value Size Type Bind Vis Ndx Name
            if len(cols) >= 8 and cols[3] == "FUNC" and cols[6] != "UND":
                names.add(cols[7].split("@")[0])
        _symbols[path] = names
    return _symbols[path]


def probe_problem(name):
    """None when `name` exists on this host, else what is wrong with it."""
    kind, _, rest = name.partition(":")
    if kind == "tracepoint":
        system, _, event = rest.partition(":")
        if not system or not event or ":" in event:
            return "not tracepoint:SYSTEM:EVENT"
        if not os.path.isfile(os.path.join(TRACEFS, system, event, "format")):
            return f"no {TRACEFS}/{system}/{event}"
        return None
    if kind == "software":
        event = rest.split(":")[0]
        return None if event in SOFTWARE else f"unknown software event {event!r}"
    if kind in ("profile", "interval"):
        if re.fullmatch(r"(hz|s|ms|us):[1-9][0-9]*", rest):
            return None
        return f"{kind} needs UNIT:N"
    if kind == "uprobe":
        path, _, func = rest.rpartition(":")
        if not path.startswith("/") or not func:
            return "uprobe needs /absolute/path:function"
        if not os.path.isfile(path):
            return f"no file {path}"
        if func not in elf_functions(path):
            return f"{func} is not a function in {path}"
        return None
    return f"attach family {kind!r} is not available on this kernel"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "probe-labels.toml")
    with open(path, "rb") as f:
        labels = tomllib.load(f).get("label", [])

    problems = []
    systems = collections.Counter()
    queries = collections.Counter()
    no_answer = 0
    for i, label in enumerate(labels, start=1):
        where = f"label {i} ({label.get('query', '?')[:50]!r})"
        unknown = set(label) - KEYS
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("query", "source"):
            if not isinstance(label.get(key), str) or not label[key].strip():
                problems.append(f"{where}: missing {key}")
        queries[label.get("query", "").strip().lower()] += 1
        expect = label.get("expect")
        wrong = label.get("wrong", [])
        if not isinstance(expect, list) or not isinstance(wrong, list):
            problems.append(f"{where}: expect and wrong must be lists")
            continue
        if not expect:
            no_answer += 1
            if not str(label.get("why", "")).strip():
                problems.append(f"{where}: empty expect needs a why")
        elif "why" in label:
            problems.append(f"{where}: why is only for labels with an empty expect")
        if len(wrong) > 3:
            problems.append(f"{where}: more than 3 wrong neighbours")
        for dup in sorted(n for n, c in collections.Counter(expect + wrong).items() if c > 1):
            problems.append(f"{where}: {dup} appears twice (expect and wrong must be disjoint)")
        for name in dict.fromkeys(expect + wrong):
            problem = probe_problem(name)
            if problem:
                problems.append(f"{where}: {name}: {problem}")
            elif name.startswith("tracepoint:"):
                systems[name.split(":")[1]] += name in expect
    for query, count in queries.items():
        if count > 1:
            problems.append(f"query used {count} times: {query!r}")
    answered = sorted(s for s, n in systems.items() if n)
    if len(labels) < MIN_LABELS:
        problems.append(f"only {len(labels)} labels (want at least {MIN_LABELS})")
    if len(answered) < MIN_SYSTEMS:
        problems.append(f"only {len(answered)} tracepoint systems in expect (want {MIN_SYSTEMS})")

    print(f"{len(labels)} labels ({no_answer} with no answer on this host), "
          f"{len(answered)} tracepoint systems in expect:")
    print("  " + " ".join(answered))
    for problem in problems:
        print("PROBLEM: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
