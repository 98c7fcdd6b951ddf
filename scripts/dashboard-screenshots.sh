#!/usr/bin/env bash
# Regenerates the dashboard screenshots in docs/images/ from the browser
# test (orchestration/web/dashboard_test.go), which drives headless
# chromium against a real server and database. Needs chromium and
# PostgreSQL, as the tests do (scripts/ensure-services.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  { echo "dashboard-screenshots: chromium is not installed (scripts/ensure-services.sh installs it)" >&2; exit 1; }
mkdir -p docs/images
TASKER_DASHBOARD_SCREENSHOTS="$PWD/docs/images" go test -count=1 -run 'TestDashboardInBrowser$|TestDashboardFlows$' ./orchestration/web/
ls -l docs/images/dashboard-*.png
