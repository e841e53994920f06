#!/usr/bin/env bash
# Makes sure headless Chromium is on PATH for tests/status_dashboard_browser.rs (it screenshots the
# status dashboard), with a font so the screenshot has text. Without root it prints the command to
# run and fails, so that the test is never skipped silently.
set -euo pipefail
source "$(dirname "$0")/debian-package.sh"
ensure_command chromium required "the dashboard browser test needs it" chromium fonts-dejavu-core
