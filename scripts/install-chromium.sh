#!/usr/bin/env bash
# Makes sure headless Chromium is on PATH for tests/status_dashboard_browser.rs (it screenshots the
# status dashboard). Does nothing when `chromium` is already there; as root, installs Debian's
# package quietly (with a font, so the screenshot has text); otherwise prints the command to run
# and fails, so that the test is never skipped silently.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-chromium: chromium is not on PATH; the dashboard test needs it. Run as root:" >&2
  echo "  apt-get update && apt-get install -y chromium fonts-dejavu-core" >&2
  exit 1
fi
echo "install-chromium: installing Debian's chromium package (for the dashboard browser test)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "install-chromium: apt-get finished but chromium is still not on PATH" >&2; exit 1; }
echo "install-chromium: $(chromium --version 2>/dev/null || echo chromium installed)"
