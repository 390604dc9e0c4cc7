#!/usr/bin/env bash
# System packages the test suite needs: Debian's headless Chromium for the HTML report check.
# Skipped when already present, or when not root and no sudo (then the report test is skipped with a reason).
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || \
    echo "warning: could not install chromium; the report rendering test will be skipped" >&2
else
  echo "note: chromium not installed (needs root); the report rendering test will be skipped" >&2
fi
exit 0
