#!/usr/bin/env bash
# Packs the NuGet packages (the four libraries and the quantsharp .NET tool) into a temporary folder, checks what the
# packages hold, installs the tool into a temporary tool path and runs it as a user would: --version, a tiny quickstart
# for a model, calib on Fashion-MNIST and deploy (which loads ONNX Runtime's native library from the installed tool).
# One line per check ("pack check: ok NAME" or "pack check: FAILED NAME: why"), then "pack checks: N passed, N failed";
# the exit code is 1 when a check failed. --no-build packs what a Release build left (./test.sh builds first).
set -uo pipefail
cd "$(dirname "$0")/.."
no_build=()
[ "${1:-}" = "--no-build" ] && no_build=(--no-build)

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "pack check: ok $1"; }
fail() { failed=$((failed + 1)); echo "pack check: FAILED $1: $2"; }
finish() { echo "pack checks: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }
mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1048576 }'; }

if ! command -v unzip >/dev/null 2>&1; then fail "packages" "'unzip' is not installed (apt-get install unzip)"; finish; fi
work=$(mktemp -d -t quantsharp-pack.XXXXXX)
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
tools="$work/tools"

# The tool package is the publish folder; files left there by an earlier publish would be packed too.
rm -rf src/QuantSharp.Cli/bin/Release/net10.0/publish
start=$(date +%s.%N)
if ! dotnet pack QuantSharp.slnx -c Release "${no_build[@]}" -nologo -v q -o "$feed" >"$work/pack.log" 2>&1; then
  fail "dotnet pack" "$(grep -m1 -E 'error' "$work/pack.log" || tail -n 1 "$work/pack.log")"
  finish
fi
pack_seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

tool_pkg=$(ls "$feed"/QuantSharp.Cli.*.nupkg 2>/dev/null | head -n 1)
if [ -z "$tool_pkg" ]; then fail "dotnet pack" "no QuantSharp.Cli package in $feed"; finish; fi
version=$(basename "$tool_pkg" .nupkg)
version=${version#QuantSharp.Cli.}
ok "dotnet pack: version $version in ${pack_seconds} s"

# (Listings go through variables: with pipefail, `unzip | grep -q` fails when grep stops reading early.)
# Every library package: the assembly, its XML docs (IntelliSense), the README, a license and a symbol package.
lib_problems=()
lib_sizes=()
for lib in Engine Onnx Quantization Data; do
  id="QuantSharp.$lib"
  pkg="$feed/$id.$version.nupkg"
  if [ ! -f "$pkg" ]; then lib_problems+=("$id.$version.nupkg missing"); continue; fi
  listing=$(unzip -Z1 "$pkg")
  for entry in "lib/net10.0/$id.dll" "lib/net10.0/$id.xml" "README.md"; do
    grep -qxF "$entry" <<<"$listing" || lib_problems+=("$id.$version.nupkg has no $entry")
  done
  grep -q '<license type="expression">' <<<"$(unzip -p "$pkg" "$id.nuspec")" || lib_problems+=("$id.nuspec has no license expression")
  if [ -f "$feed/$id.$version.snupkg" ]; then
    grep -qxF "lib/net10.0/$id.pdb" <<<"$(unzip -Z1 "$feed/$id.$version.snupkg")" || lib_problems+=("$id.$version.snupkg has no lib/net10.0/$id.pdb")
  else
    lib_problems+=("$id.$version.snupkg missing")
  fi
  lib_sizes+=("$id $(mb "$pkg")")
done
if [ ${#lib_problems[@]} -eq 0 ]; then ok "library packages hold dll, XML docs, README, license, symbols ($(IFS=,; echo "${lib_sizes[*]}" | sed 's/,/, /g'))"
else fail "library packages" "$(IFS=';'; echo "${lib_problems[*]}")"; fi

# The tool package: a DotnetTool named quantsharp with ONNX Runtime's desktop native libraries and nothing dotnet cannot load.
listing=$(unzip -Z1 "$tool_pkg")
tool_problems=()
grep -q 'Command Name="quantsharp"' <<<"$(unzip -p "$tool_pkg" tools/net10.0/any/DotnetToolSettings.xml 2>/dev/null)" \
  || tool_problems+=("tools/net10.0/any/DotnetToolSettings.xml does not name the command quantsharp")
for rid in linux-x64 linux-arm64 osx-arm64 win-x64 win-arm64; do
  grep -q "^tools/net10.0/any/runtimes/$rid/native/[^/]*onnxruntime\.\(so\|dylib\|dll\)$" <<<"$listing" \
    || tool_problems+=("no ONNX Runtime native library for $rid")
done
unwanted=$(grep -E '/runtimes/(android|ios)/|\.lib$' <<<"$listing" | head -n 3 | tr '\n' ' ')
[ -z "$unwanted" ] || tool_problems+=("holds files dotnet never loads: $unwanted")
if [ ${#tool_problems[@]} -eq 0 ]; then ok "tool package $(basename "$tool_pkg") ($(mb "$tool_pkg"))"
else fail "tool package" "$(IFS=';'; echo "${tool_problems[*]}")"; fi

# Install from the packed folder only, so that neither nuget.org nor a cached package of the same version is what runs.
cat >"$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="packed" value="$feed" /></packageSources></configuration>
EOF
start=$(date +%s.%N)
if ! dotnet tool install QuantSharp.Cli --version "$version" --tool-path "$tools" --configfile "$work/nuget.config" >"$work/install.log" 2>&1; then
  fail "dotnet tool install" "$(tail -n 2 "$work/install.log" | tr '\n' ' ')"
  finish
fi
install_seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
printed=$("$tools/quantsharp" --version 2>&1)
if [ "$printed" = "$version" ]; then ok "dotnet tool install in ${install_seconds} s; quantsharp --version prints $printed"
else fail "quantsharp --version" "printed '$printed', expected '$version'"; fi

# A real session with the installed command: a tiny model (the quickstart, 256 images, one epoch), calib, deploy.
fmnist=/usr/share/datasets/fashion-mnist
run="$work/run"
mkdir -p "$run"
if [ ! -f "$fmnist/train-images-idx3-ubyte.gz" ]; then
  fail "installed quantsharp calib/deploy" "Fashion-MNIST is not in $fmnist (apt-get install dataset-fashion-mnist)"
elif ! (cd "$run" && "$tools/quantsharp" quickstart --epochs 1 --qat-epochs 0 --subset 256 --test-subset 100 --output q) >"$work/quickstart.log" 2>&1; then
  fail "installed quantsharp quickstart" "$(grep -m1 'error' "$work/quickstart.log" || tail -n 1 "$work/quickstart.log")"
elif ! (cd "$run" && "$tools/quantsharp" calib --model q/quickstart.onnx --data "$fmnist" --subset-len 64 --output quant) >"$work/calib.log" 2>&1; then
  fail "installed quantsharp calib" "$(grep -m1 'error' "$work/calib.log" || tail -n 1 "$work/calib.log")"
elif ! (cd "$run" && "$tools/quantsharp" deploy --quant quant --output deploy) >"$work/deploy.log" 2>&1; then
  fail "installed quantsharp deploy" "$(grep -m1 'error' "$work/deploy.log" || tail -n 1 "$work/deploy.log")"
elif ! grep -Eq '^ONNX Runtime \(all optimizations\) .*: (ok$|reported)' "$work/deploy.log"; then
  fail "installed quantsharp deploy" "no ONNX Runtime check line in its output: $(tail -n 3 "$work/deploy.log" | tr '\n' ' ')"
else
  ok "installed quantsharp: calib ($(grep -m1 -o 'calibrated [0-9]* quantizers on [0-9]* samples' "$work/calib.log")), deploy checked in ONNX Runtime"
fi
finish
