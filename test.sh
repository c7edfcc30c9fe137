#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is missing (as root, Debian/Ubuntu):
#   python3-torch + python3-numpy  (PyTorch interop tests: .pth files we write must load in real PyTorch)
#   postgresql-15                  (journal tests start a throwaway PostgreSQL cluster in a temp dir; they fail,
#                                   never skip, without it. As root they run it as the 'postgres' user via runuser.)
#   chromium                       (the dashboard test loads the control endpoint's page in headless Chromium and keeps
#                                   a screenshot; it fails, never skips, without /usr/bin/chromium)
#   nodejs                         (the dashboard script's pure functions are tested under node; fails without /usr/bin/node)
# A test that hangs for 15 minutes fails the run with a hang dump (--blame-hang-timeout) instead of eating CI's time.
# Prints a closing line "tests: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

need=()
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null || need+=(python3-torch python3-numpy)
[ -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] || need+=(postgresql-15)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/node ] || need+=(nodejs)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing Debian packages ${need[*]}; install them (sudo apt-get install ${need[*]}) or run as root." >&2
    exit 1
  fi
  echo "test.sh: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The Debian package starts a system cluster on 5432; the tests do not use it (they start their own on a free port).
# The process tests bind fixed loopback ports in 47400-47899. Those lie in Linux's ephemeral range, so an outgoing
# connection of another test could hold one as its local port at the moment a node binds it ("Address already in use");
# as root, reserve the range so that the kernel never hands those ports out as ephemeral ones.
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]; then
  reserved=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)
  case ",$reserved," in *",47400-47899,"*) ;; *) echo "${reserved:+$reserved,}47400-47899" > /proc/sys/net/ipv4/ip_local_reserved_ports ;; esac
fi

log=$(mktemp)
set +e
dotnet test MiniMind.Actors.sln -c Release --blame-hang-timeout 15m "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 11, Skipped: 0, ...").
summary=$(grep -E '(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+' "$log" \
  | sed -E 's/.*Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+).*/\1 \2 \3/' \
  | awk '{f+=$1; p+=$2; s+=$3} END {printf "%d passed, %d failed, %d skipped", p, f, s}')
failed=$(grep -E '^\s+Failed [A-Za-z]' "$log" | sed -E 's/^\s+//' || true)
if [ -n "$failed" ]; then echo "failed tests:"; echo "$failed" | sed 's/^/  /'; fi
if grep -qE 'Catastrophic failure|No test is available' "$log"; then
  echo "a test assembly did not run (see 'Catastrophic failure' / 'No test is available' above)"; rc=1
fi
rm -f "$log"
echo "tests: ${summary:-0 passed, 0 failed, 0 skipped}"
exit "$rc"
