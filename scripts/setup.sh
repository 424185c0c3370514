#!/usr/bin/env bash
# Create ./.venv and install pairflow with every dependency; safe to run again.
# Re-installs only when pyproject.toml changed since the last successful run.
# --test also installs what only the test suite runs: Debian's Prometheus and Alertmanager
# (promtool tests the alert rules, amtool checks the Alertmanager config, both servers run in tests).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "error: pairflow needs Python >= 3.11 (found: $("$PYTHON" --version 2>&1))" >&2
    exit 2
fi

apt_install() {
    # Install Debian packages that are missing; quiet when everything is present.
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null; then
        echo "error: missing system packages ${missing[*]} and no apt-get to install them" >&2
        exit 2
    fi
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

if [ "${1:-}" = "--test" ]; then
    apt_install prometheus prometheus-alertmanager
fi

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
        apt_install python3-venv
        "$PYTHON" -m venv .venv
    fi
fi

stamp=.venv/.pairflow-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing pairflow and its dependencies into .venv ..."
    log=.venv/pip-install.log
    if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e '.[dev]'; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "error: installing the Python dependencies failed; full log in $log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
