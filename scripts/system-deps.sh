#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only when they are missing:
# a PostgreSQL server (storage and concurrency tests start a throwaway cluster from its
# binaries) and fonts for PDF rendering. Needs root or sudo when something is missing.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    need+=(postgresql)
fi
# Fonts for PDF rendering: DejaVu (Latin, €) and IPA Gothic (Japanese invoices).
FONT_PACKAGES="fonts-dejavu-core fonts-ipafont-gothic"
for pkg in $FONT_PACKAGES ${LMS_BILLING_APT_PACKAGES:-}; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
[ "${#need[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "Missing system packages: ${need[*]}; install them (apt-get install ${need[*]})." >&2
    exit 1
fi
echo "== installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
