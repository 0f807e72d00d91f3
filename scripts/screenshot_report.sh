#!/usr/bin/env bash
# Renders a `harken data report` page in headless Chromium and saves a screenshot (checked by hand; the
# test suite checks the page's structure). Usage: scripts/screenshot_report.sh REPORT.html OUT.png
# Needs chromium (apt-get install chromium).
set -euo pipefail
html=$(realpath "$1"); out=$(realpath -m "$2")
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1800 \
  --screenshot="$out" "file://$html" 2>/dev/null
echo "screenshot: $out"
