#!/usr/bin/env bash
# Leak check of the native backend (docs/native.md): runs scripts/leak-workload.mjs under valgrind
# memcheck and fails if the addon leaks or touches memory it must not.
# Usage: scripts/leakcheck.sh [cycles=20] [datagrams per cycle=2000]   (about 1 minute at the defaults)
# Not part of CI (valgrind makes Node ~30x slower); run it after changing native/udplab_mmsg.c.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-20}
per=${2:-2000}
command -v valgrind >/dev/null || { echo "leakcheck: valgrind missing (apt-get install valgrind)"; exit 2; }
[ -f native/build/Release/udplab_mmsg.node ] || node scripts/build-native.mjs
[ -f build/src/index.js ] || npm run build >/dev/null
log=$(mktemp /tmp/udplab-leakcheck.XXXXXX)
# --jitless: V8's JIT writes code valgrind would have to re-check; the addon's paths are the same.
# --expose-gc: the workload collects the closed sockets' handles before exit, so that what is
# left is really held, not merely not yet collected.
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --num-callers=40 \
  --log-file="$log" node --jitless --expose-gc scripts/leak-workload.mjs "$cycles" "$per" 2>/dev/null
summary=$(grep -A4 'LEAK SUMMARY' "$log" | sed 's/^==[0-9]*== *//')
echo "$summary"
# Every loss record or memory error whose stack passes through the addon.
# Not counted: V8's conservative stack scan (IteratePointersInStack) reads every word of the stack,
# uninitialised ones included, and its report names whichever frames were below the collection,
# the addon's callback into JS among them: V8's reading, not the addon's.
ours=$(awk '/^==[0-9]+== [^ ]/{ if (rec ~ /udplab_mmsg/ && rec !~ /IteratePointersInStack/ && rec ~ /(lost in loss record|Invalid|uninitialised|Mismatched)/) n++; rec="" } { rec = rec $0 "\n" } END { if (rec ~ /udplab_mmsg/ && rec !~ /IteratePointersInStack/ && rec ~ /(lost|Invalid|uninitialised)/) n++; print n+0 }' "$log")
definite=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | grep -o '[0-9,]*' | tr -d , || echo 0)
echo "records through udplab_mmsg: $ours; definitely lost in the whole process: ${definite:-0} bytes (log: $log)"
if [ "$ours" != 0 ] || [ "${definite:-0}" != 0 ]; then
  echo "leakcheck: FAILED"
  exit 1
fi
echo "leakcheck: ok"
