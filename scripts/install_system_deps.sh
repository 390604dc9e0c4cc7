#!/usr/bin/env bash
# System packages the test suite needs: Debian's headless Chromium for the HTML report check, Slurm + munge for
# the cluster tests (tests/run/cluster/test_run.py starts its own one-node cluster), and OpenLink Virtuoso for the SPARQL
# engine tests (tests/kg/test_virtuoso.py starts its own virtuoso-t on 127.0.0.1); the Debian services stay disabled.
# Skipped when already present, or when not root (then those tests are skipped with a reason).
set -u
want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
for tool in slurmctld slurmd sbatch munged; do
  if ! command -v "$tool" >/dev/null 2>&1; then want+=(slurmctld slurmd slurm-client munge); break; fi
done
command -v virtuoso-t >/dev/null 2>&1 && command -v isql-vt >/dev/null 2>&1 || want+=(virtuoso-opensource)
if [ ${#want[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  # policy-rc.d 101: install the daemons without starting Debian's own instances (the tests start theirs).
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null || \
    echo "warning: could not install ${want[*]}; the report / cluster / Virtuoso tests will be skipped" >&2
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
else
  echo "note: ${want[*]} not installed (needs root); the report / cluster / Virtuoso tests will be skipped" >&2
fi
exit 0
