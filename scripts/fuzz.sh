#!/usr/bin/env bash
# Coverage-guided fuzzing of the readers (tests/QuantSharp.Fuzz: SharpFuzz-instrumented ONNX, .npy, PNG and JPEG readers
# driven by the repo's own mutator). Usage: scripts/fuzz.sh [--no-build] [SECONDS_PER_TARGET] [TARGET...]
# (default 600 s each over onnx npy npz png jpeg; ./test.sh runs 15 s each). One line per target
# ("fuzz check: ok TARGET: …" or "fuzz check: FAILED TARGET: …"); findings are written to fuzz-findings/ and the exit
# code is 1 when there is one. A target that runs past its time by a minute is killed and counted as a hang.
set -uo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = "--no-build" ] && { build=0; shift; }
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(onnx npy npz png jpeg)
if [ "$build" -eq 1 ]; then
  dotnet build tests/QuantSharp.Fuzz -c Release -nologo -v q 2>&1 | tail -n 2
fi
failed=0
for t in "${targets[@]}"; do
  out=$(timeout $((seconds + 60)) dotnet tests/QuantSharp.Fuzz/bin/Release/net10.0/QuantSharp.Fuzz.dll "$t" --seconds "$seconds" --findings fuzz-findings 2>&1)
  code=$?
  summary=$(printf '%s\n' "$out" | grep "^fuzz $t:" | grep -v FINDING | tail -n 1)
  if [ "$code" -eq 0 ] && [ -n "$summary" ]; then
    echo "fuzz check: ok $t: ${summary#fuzz $t: }"
  else
    failed=1
    why=$(printf '%s\n' "$out" | grep -m1 FINDING || printf '%s\n' "$out" | tail -n 1)
    [ "$code" -eq 124 ] && why="killed after $((seconds + 60)) s (a hang)"
    echo "fuzz check: FAILED $t: $why"
  fi
done
exit $failed
