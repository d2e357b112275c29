#!/usr/bin/env bash
# Installs what is missing, builds in Release, runs the main job on an embedded default.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/common.sh
need_dotnet
apt_install dataset-fashion-mnist
dotnet build samples/QuantSharp.Demo -c Release -nologo -v q 2>&1 | tail -n 3
exec dotnet samples/QuantSharp.Demo/bin/Release/net10.0/QuantSharp.Demo.dll "$@"
