#!/usr/bin/env bash
# Soak test (not run in CI): the embedded demo at high speed for N minutes, sampling the process's
# resident memory (RSS), open file descriptors and threads every INTERVAL seconds, then counting the
# error and critical records it logged (to stderr and to the logs table).
#
#   scripts/soak.sh [MINUTES=10] [SPEED=20] [INTERVAL=10]
#
# Writes soak-<time>/samples.csv (elapsed_s,rss_kib,open_fds,threads) and prints a summary; exits 1
# when the demo failed or logged errors. Bounded memory and files show as flat columns after warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${1:-10}"
speed="${2:-20}"
interval="${3:-10}"
python="${PYTHON:-.venv/bin/python}"
out="soak-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
duration=$((minutes * 60))

"$python" -m app demo --duration "$duration" --speed "$speed" --data-dir "$out/demo" \
    >"$out/demo.stdout" 2>"$out/demo.stderr" &
demo=$!
trap 'kill "$demo" 2>/dev/null || true' INT TERM

echo "elapsed_s,rss_kib,open_fds,threads" >"$out/samples.csv"
start=$(date +%s)
while kill -0 "$demo" 2>/dev/null; do
    if [ -r "/proc/$demo/status" ]; then
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$demo/status" 2>/dev/null || true)
        threads=$(awk '/^Threads:/ {print $2}' "/proc/$demo/status" 2>/dev/null || true)
        fds=$(ls "/proc/$demo/fd" 2>/dev/null | wc -l)
        [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss,$fds,$threads" | tee -a "$out/samples.csv"
    fi
    sleep "$interval"
done
status=0
wait "$demo" || status=$?

stderr_errors=$(grep -c -E '"level": ?"(error|critical)"' "$out/demo.stderr" || true)
stored_errors=$(PAIRFLOW_STORAGE__DSN="chdb://$PWD/$out/demo/chdb" "$python" -m app logs --level error --limit 100000 2>/dev/null \
    | grep -c -i -E 'error|critical' || true)
samples=$(($(wc -l <"$out/samples.csv") - 1))
echo
echo "demo exit status:        $status"
echo "samples:                 $samples (every ${interval}s, $out/samples.csv)"
if [ "$samples" -ge 2 ]; then
    awk -F, 'NR == 2 {first_rss = $2; first_fds = $3}
             NR > 1  {if ($2 > max_rss) max_rss = $2; if ($3 > max_fds) max_fds = $3; last_rss = $2; last_fds = $3}
             END {printf "RSS KiB first/max/last:  %d / %d / %d\nopen fds first/max/last: %d / %d / %d\n",
                         first_rss, max_rss, last_rss, first_fds, max_fds, last_fds}' "$out/samples.csv"
fi
echo "error lines on stderr:   $stderr_errors"
echo "error records in store:  $stored_errors"
[ "$status" -eq 0 ] && [ "$stderr_errors" -eq 0 ] && [ "$stored_errors" -eq 0 ]
