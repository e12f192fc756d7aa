#!/usr/bin/env bash
# Install the servers the test suite runs privately (tests/servers.py): Dovecot, Redis, PostgreSQL
# and Chromium. Quiet and idempotent when everything is present. As root on Debian/Ubuntu it installs
# what is missing with apt-get; otherwise it says in one line what to install and exits 1.
# It never starts or stops a system daemon: the tests run their own instances on free ports.
set -euo pipefail

PACKAGES="python3-venv dovecot-imapd redis-server postgresql chromium"

have_initdb() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

have_chromium() {
    [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1 \
        || command -v chromium-browser >/dev/null 2>&1
}

missing=()
[ -x /usr/sbin/dovecot ] || missing+=("dovecot-imapd")
command -v redis-server >/dev/null 2>&1 || missing+=("redis-server")
have_initdb || missing+=("postgresql")
have_chromium || missing+=("chromium")
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=("python3-venv")

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing test services: install ${missing[*]} (Debian/Ubuntu, as root:" \
        "apt-get install -y --no-install-recommends $PACKAGES)" >&2
    exit 1
fi

echo "Installing test services: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if grep -qi '^ID=ubuntu' /etc/os-release 2>/dev/null; then
    # Ubuntu's chromium is a snap wrapper (best effort: snapd may be absent, e.g. in containers).
    apt-get install -y -qq --no-install-recommends ${PACKAGES/chromium/} >/dev/null
    have_chromium || apt-get install -y -qq --no-install-recommends chromium-browser >/dev/null \
        || echo "Could not install chromium-browser: the browser tests need a Chromium" >&2
else
    apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi
