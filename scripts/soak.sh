#!/usr/bin/env bash
# Soak test (not run in CI): the embedded demo at high speed for N minutes, sampling the process's
# resident memory (RSS), open file descriptors, threads and the collector's trade lag (receive minus
# exchange time on the venue's clock, mean over the interval, from its /metrics) every INTERVAL
# seconds, then counting the error and critical records it logged (its log lines on stdout and stderr, and
# the logs table it writes with logging.to_clickhouse).
#
#   scripts/soak.sh [MINUTES=10] [SPEED=20] [INTERVAL=10]
#
# Writes soak-<time>/samples.csv (elapsed_s,rss_kib,open_fds,threads,trade_lag_s) and
# soak-<time>/threads.csv (elapsed_s,name,count: the process's threads by their kernel name, so a
# growing pool can be told by name) and prints a summary; exits 1 when the demo failed or logged
# errors. Bounded memory and files show as flat columns after warm-up.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes="${1:-10}"
speed="${2:-20}"
interval="${3:-10}"
python="${PYTHON:-.venv/bin/python}"
out="soak-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
duration=$((minutes * 60))
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The demo writes its log lines to stdout (JSON when not on a terminal), and with logging.to_clickhouse also
# into its store's logs table: both are searched for errors below.
PAIRFLOW_LOGGING__TO_CLICKHOUSE=true \
    "$python" -m app demo --duration "$duration" --speed "$speed" --data-dir "$out/demo" --metrics-port "$port" \
    >"$out/demo.stdout" 2>"$out/demo.stderr" &
demo=$!
trap 'kill "$demo" 2>/dev/null || true' EXIT INT TERM

echo "elapsed_s,rss_kib,open_fds,threads,trade_lag_s" >"$out/samples.csv"
echo "elapsed_s,name,count" >"$out/threads.csv"
start=$(date +%s)
previous_sum=0
previous_count=0
while kill -0 "$demo" 2>/dev/null; do
    if [ -r "/proc/$demo/status" ]; then
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$demo/status" 2>/dev/null || true)
        threads=$(awk '/^Threads:/ {print $2}' "/proc/$demo/status" 2>/dev/null || true)
        # Threads and the process itself may end between listing /proc and reading it: a sample then
        # misses them, and the soak goes on (with pipefail, a vanished entry would otherwise end the script).
        fds=$(ls "/proc/$demo/fd" 2>/dev/null | wc -l || true)
        read -r lag_sum lag_count < <(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" 2>/dev/null \
            | awk '/^pairflow_collector_lag_seconds_sum\{channel="trades"\}/ {s = $2}
                   /^pairflow_collector_lag_seconds_count\{channel="trades"\}/ {c = $2}
                   END {print s + 0, c + 0}')
        lag=$(awk -v s="$lag_sum" -v c="$lag_count" -v ps="$previous_sum" -v pc="$previous_count" \
            'BEGIN {if (c > pc) printf "%.3f", (s - ps) / (c - pc)}')
        previous_sum=$lag_sum
        previous_count=$lag_count
        elapsed=$(( $(date +%s) - start ))
        [ -n "$rss" ] && echo "$elapsed,$rss,$fds,$threads,${lag}" | tee -a "$out/samples.csv"
        cat /proc/"$demo"/task/*/comm 2>/dev/null | sort | uniq -c \
            | awk -v t="$elapsed" '{c = $1; $1 = ""; sub(/^ /, ""); printf "%s,%s,%d\n", t, $0, c}' >>"$out/threads.csv" \
            || true
    fi
    sleep "$interval"
done
status=0
wait "$demo" || status=$?

logged_errors=$(cat "$out/demo.stdout" "$out/demo.stderr" | grep -c -E '"level": ?"(error|critical)"|Traceback' || true)
stored_errors=$(PAIRFLOW_STORAGE__DSN="chdb://$PWD/$out/demo/chdb" "$python" -m app logs --level error --limit 100000 2>/dev/null \
    | grep -c -i -E 'error|critical' || true)
samples=$(($(wc -l <"$out/samples.csv") - 1))
echo
echo "demo exit status:           $status"
echo "samples:                    $samples (every ${interval}s, $out/samples.csv)"
if [ "$samples" -ge 2 ]; then
    awk -F, 'NR > 1 && !warm && $1 >= 60 {first_rss = $2; first_fds = $3; warm = 1}
             NR > 1  {if ($2 > max_rss) max_rss = $2; if ($3 > max_fds) max_fds = $3; last_rss = $2; last_fds = $3
                      if ($5 != "") {lag_sum += $5; lags++; if ($5 > max_lag) max_lag = $5}}
             END {printf "RSS KiB at 1 min/max/last:  %d / %d / %d\nopen fds at 1 min/max/last: %d / %d / %d\n",
                         first_rss, max_rss, last_rss, first_fds, max_fds, last_fds
                  if (lags) printf "trade lag s mean/max:       %.2f / %.2f\n", lag_sum / lags, max_lag}' "$out/samples.csv"
fi
echo "error lines logged:          $logged_errors"
echo "error records in store:     $stored_errors"
[ "$status" -eq 0 ] && [ "$logged_errors" -eq 0 ] && [ "$stored_errors" -eq 0 ]
