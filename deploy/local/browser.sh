#!/usr/bin/env bash
# Headless Chromium from Debian's packages, for the console's browser tests (tests/browser).
#
#   deploy/local/browser.sh
#
# Idempotent: installs `chromium` and a CJK font (`fonts-noto-cjk`, so Chinese names are
# drawn as glyphs, not boxes) only when they are missing, then prints Chromium's version.
# Playwright drives this binary through `executable_path`; it never downloads a browser
# (do not run `playwright install`).
set -euo pipefail

CHROMIUM="/usr/bin/chromium"
CJK_FONT_PACKAGE="fonts-noto-cjk"

log() { printf '[browser] %s\n' "$*"; }
die() { printf '[browser] ERROR: %s\n' "$*" >&2; exit 1; }

missing=()
[[ -x "${CHROMIUM}" ]] || missing+=(chromium)
dpkg-query -W -f='${Status}' "${CJK_FONT_PACKAGE}" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("${CJK_FONT_PACKAGE}")

if ((${#missing[@]})); then
    [[ "$(id -u)" -eq 0 ]] || die "missing ${missing[*]} and this is not root: apt-get install -y ${missing[*]}"
    log "installing ${missing[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[[ -x "${CHROMIUM}" ]] || die "${CHROMIUM} is still missing after the install"
"${CHROMIUM}" --headless --no-sandbox --disable-gpu --version 2>/dev/null || "${CHROMIUM}" --version
