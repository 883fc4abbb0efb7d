#!/usr/bin/env bash
# A CJK TrueType font for PDF exports (Chinese names must render), from Debian's packages.
# Idempotent: installs fonts-wqy-zenhei only when it is missing.
set -euo pipefail
FONT=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
if [[ -f "$FONT" ]]; then
  echo "[fonts] CJK font present: $FONT"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "[fonts] ERROR: $FONT missing; run as root or: sudo apt-get install fonts-wqy-zenhei" >&2
  exit 1
fi
echo "[fonts] installing fonts-wqy-zenhei"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3 4 5 6; do
  if apt-get install -y -qq fonts-wqy-zenhei >/dev/null 2>&1; then break; fi
  apt-get update -qq >/dev/null 2>&1 || true
  sleep $((attempt * 5))  # another apt may hold the lock
done
[[ -f "$FONT" ]] || { echo "[fonts] ERROR: could not install fonts-wqy-zenhei" >&2; exit 1; }
echo "[fonts] installed $FONT"
