#!/usr/bin/env bash
# Ask a running kgentd every request of LIST.txt (one per line); one JSON verdict per request in
# OUT (default: LIST-<commit> beside this script), seconds per ask in OUT/times.txt.
#   usage: tests/eval/fresh/run.sh LIST.txt [SOCKET] [OUT]
# Start kgentd with a fresh --state-dir first: a kept verified answer would be reused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
list=$1; socket=${2:-/run/kgent/kgent.sock}
c=$(git -C "$here" rev-parse --short HEAD)
out=${3:-$here/$(basename "$list" .txt)-$c}
mkdir -p "$out"; : > "$out/times.txt"
kgentctl=${KGENTCTL:-kgentctl}
i=0
while IFS= read -r req; do
  i=$((i+1)); [ -z "$req" ] && continue
  s=$(date +%s.%N)
  "$kgentctl" --socket "$socket" ask --json "$req" > "$out/$i.json" 2> "$out/$i.err"
  e=$(date +%s.%N)
  printf '%d %.1f\n' "$i" "$(echo "$e - $s" | bc)" >> "$out/times.txt"
done < "$list"
echo "$out"
