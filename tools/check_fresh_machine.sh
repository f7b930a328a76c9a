#!/usr/bin/env bash
# Runs the README's Quick start commands, as the README writes them (tools/readme_commands.py),
# on a fresh stock Debian 12 machine: a container with its own Docker engine, made by the
# workplace's fresh-machine tool (FRESH_MACHINE, default ../shared/tools/fresh-machine.sh next
# to the checkout). Needs a running engine and the suite's base image (`margo-conformance setup`).
# Exit: that of the first failing README command; 0 with a "not run" line when the tool is absent.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tool=${FRESH_MACHINE:-$(dirname "$repo")/shared/tools/fresh-machine.sh}
[ -x "$tool" ] || tool=/work/shared/tools/fresh-machine.sh
if [ ! -x "$tool" ]; then
  echo "== fresh machine: NOT RUN: no fresh-machine tool at ${FRESH_MACHINE:-../shared/tools/fresh-machine.sh}"
  exit 0
fi
mapfile -t commands < <(python3 "$repo/tools/readme_commands.py")
echo "== fresh machine: ${#commands[@]} README commands in a fresh Debian 12 container ($tool)"
FRESH_BASE_IMAGE=${FRESH_BASE_IMAGE:-margo-conformance/base:bookworm} \
  "$tool" --timeout "${FRESH_TIMEOUT_S:-2400}" "$repo" "${commands[@]}"
