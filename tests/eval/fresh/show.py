#!/usr/bin/env python3
"""Summarize a fresh-run directory: per request, outcome, seconds, iterations and the program
(or the no-answer reason); with -v, the progress timeline and failed checks."""
import json, sys, os
d = sys.argv[1]; verbose = "-v" in sys.argv
lst = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.path.basename(d.rstrip("/")).split("-")[0] + ".txt")
reqs = open(lst).read().splitlines() if os.path.exists(lst) else []
times = dict(l.split() for l in open(os.path.join(d, "times.txt")))
i = 1
while os.path.exists(os.path.join(d, f"{i}.json")):
    try: doc = json.load(open(os.path.join(d, f"{i}.json")))
    except Exception as e:
        print(f"## {i} ERROR {open(os.path.join(d, f'{i}.err')).read()[:300]}"); i += 1; continue
    req = reqs[i-1] if i-1 < len(reqs) else ""
    o = doc["outcome"]; a = doc.get("answer") or doc.get("no_answer")
    print(f"## {i} {o} {times.get(str(i))}s it={a['iterations']} tok={a['usage']}  {req}")
    if o == "answer": print(a["program"].strip())
    else: print("  reason:", a["reason"][:600])
    if verbose:
        for e in doc["events"]:
            if "progress" in e:
                p = e["progress"]; print(f"   [{p['elapsed_ms']/1000:6.1f}] {p['stage']}: {p['detail'][:150]}")
            elif "check" in e and not e["check"]["passed"]:
                c = e["check"]; print(f"   FAIL {c['name']}: {c['detail'][:300]}")
            elif "candidate" in e:
                print("   cand:", e["candidate"]["source"].strip().replace("\n", " | ")[:300])
    i += 1
