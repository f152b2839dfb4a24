#!/usr/bin/env python3
"""5-grams shared between lines added since BASE and the benchmark prompts (dev tasks.toml and
tests/eval/public.toml). Prints the count and the shared 5-grams; must print `0 []`."""
import os, re, subprocess, sys, tomllib
base = sys.argv[1] if len(sys.argv) > 1 else "HEAD~1"
def words(s): return re.findall(r"[a-z0-9_]+", s.lower())
def grams(ws, n=5): return {tuple(ws[i:i+n]) for i in range(len(ws)-n+1)}
prompts = []
for f in [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "eval", "tasks.toml"), os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "public.toml")]:
    d = tomllib.load(open(f, "rb"))
    for t in d.get("task", d.get("tasks", [])):
        prompts.append(t.get("prompt", ""))
pg = set()
for p in prompts: pg |= grams(words(p))
here = os.path.dirname(os.path.abspath(__file__))
top = subprocess.run(["git", "-C", here, "rev-parse", "--show-toplevel"], capture_output=True, text=True).stdout.strip()
# The request lists of this folder are measurement data of their own: not compared.
diff = subprocess.run(["git", "-C", top, "diff", base, "--", ".", ":(exclude)tests/eval/fresh/*.txt"], capture_output=True, text=True).stdout
added = [l[1:] for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
shared = set()
for l in added: shared |= grams(words(l)) & pg
print(len(shared), sorted(" ".join(g) for g in shared))
