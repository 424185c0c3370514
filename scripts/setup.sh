#!/usr/bin/env bash
# Create ./.venv and install pairflow with every dependency; safe to run again.
# Re-installs only when pyproject.toml changed since the last successful run.
# --test also installs what only the test suite runs: Debian's Prometheus and Alertmanager
# (promtool tests the alert rules, amtool checks the Alertmanager config, both servers run in tests)
# and Debian's chromium, which the browser tests drive through Playwright.
# The web UI (api/web) is built with npm when its sources changed since the last build; Node.js and npm
# come from apt when missing. A failed UI build is reported but does not fail setup: the API still runs.
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
    apt_install prometheus prometheus-alertmanager chromium
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

build_web() {
    # Build api/web/dist when its sources changed; `npm ci` only when the lock file changed.
    local web=api/web
    [ -f "$web/package-lock.json" ] || return 0
    if ! command -v npm >/dev/null; then
        apt_install nodejs npm
    fi
    local want_web
    # src/api/schema.d.ts is generated from openapi.json by the build, so it is not part of the hash
    want_web="$(cd "$web" && cat package.json package-lock.json index.html vite.config.ts tsconfig.json openapi.json \
        $(find src -type f ! -path src/api/schema.d.ts | sort) | sha256sum | cut -d' ' -f1)"
    if [ -f "$web/dist/index.html" ] && [ -f "$web/.build-stamp" ] && [ "$(cat "$web/.build-stamp")" = "$want_web" ]; then
        return 0
    fi
    local lock_want
    lock_want="$(sha256sum "$web/package-lock.json" | cut -d' ' -f1)"
    local log=.venv/web-build.log
    echo "building the web UI (api/web) ..."
    : >"$log"
    if [ ! -d "$web/node_modules" ] || [ "$(cat "$web/node_modules/.lock-stamp" 2>/dev/null)" != "$lock_want" ]; then
        (cd "$web" && npm ci --no-audit --no-fund) >"$log" 2>&1 || return 1
        echo "$lock_want" > "$web/node_modules/.lock-stamp"
    fi
    (cd "$web" && npm run build) >>"$log" 2>&1 || return 1
    echo "$want_web" > "$web/.build-stamp"
}

if ! build_web; then
    tail -n 20 .venv/web-build.log >&2 || true
    echo "warning: the web UI could not be built (full log in .venv/web-build.log); the API runs without it" >&2
fi
