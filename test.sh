#!/usr/bin/env bash
# Installs what is missing, builds, runs every test; the last line is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh
need_dotnet
apt_install dataset-fashion-mnist libonnx-testdata chromium libjpeg-turbo-progs netpbm

if command -v npm >/dev/null && [ ! -d tools/ort/node_modules ]; then  # ONNX Runtime for the OrtCrossCheck tests
  log "installing onnxruntime-node (tools/ort)…"
  (cd tools/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent >/dev/null 2>&1) || log "npm install failed; OrtCrossCheck tests will skip"
fi

log "building (Release)…"
dotnet build QuantSharp.slnx -c Release -nologo -v q 2>&1 | tail -n 3

out=$(mktemp)
status=0
dotnet test QuantSharp.slnx -c Release --no-build -nologo 2>&1 | tee "$out" || status=$?

# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12 …").
passed=$(grep -Eo 'Passed: +[0-9]+' "$out" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$out" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$out" | awk '{s+=$2} END {print s+0}')
rm -f "$out"
cat TestResults/onnx-conformance.txt 2>/dev/null | grep '^onnx-conformance' || true
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # build or runner failure counts as a failure
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
