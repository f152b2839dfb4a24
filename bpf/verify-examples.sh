#!/bin/sh
# Load, verify and attach every curated example on this host, then exit.
# Usage (root): bpf/verify-examples.sh [FILE.bt ...]   (default: bpf/examples/*.bt)
# Exit code: number of failing programs (0 = all pass).
# bpftrace 0.17 has no dry run: appending `BEGIN { exit(); }` makes it load every
# program through the kernel verifier, attach every probe, then exit.
# rc 1 = semantic error, 255 = load/attach error. The "couldn't set
# RLIMIT_MEMLOCK" line on stderr is harmless on this kernel.
# bpftrace 0.17 rejects a second BEGIN block, so examples must not define BEGIN.
set -u
BPFTRACE=${BPFTRACE:-bpftrace}
dir=$(dirname "$0")
[ $# -gt 0 ] || set -- "$dir"/examples/*.bt
tmp=$(mktemp /tmp/kgent-verify.XXXXXX.bt)
trap 'rm -f "$tmp" "$tmp.err"' EXIT
fail=0
for f in "$@"; do
  { cat "$f"; echo; echo 'BEGIN { exit(); }'; } > "$tmp"
  if timeout 60 "$BPFTRACE" "$tmp" >/dev/null 2>"$tmp.err"; then
    echo "ok    $f"
  else
    rc=$?
    echo "FAIL  $f (rc=$rc)"
    grep -v RLIMIT_MEMLOCK "$tmp.err" | sed 's/^/      /' | tail -n 5
    fail=$((fail + 1))
  fi
done
exit $fail
