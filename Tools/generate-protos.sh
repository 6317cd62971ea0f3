#!/usr/bin/env bash
# Regenerates the service's protobuf code from proto/ (the output is committed; CI never runs this):
#   Sources/Service/Generated/  Swift messages (protoc-gen-swift) and gRPC stubs (protoc-gen-grpc-swift-2)
#   python/lifelong/v1/         Python messages and stubs (grpcio-tools), shipped in the package
# Needs protoc (Debian's protobuf-compiler), grpcio-tools in .venv (pip install grpcio-tools==1.85.1), and the
# two Swift plugins, built once (slow) from the package's own dependencies:
#   swift build -c release --product protoc-gen-swift          (in a checkout of swift-protobuf 1.39.0)
#   swift build -c release --product protoc-gen-grpc-swift-2   (in a checkout of grpc-swift-protobuf 2.4.1)
# Usage: Tools/generate-protos.sh PLUGIN_FOLDER   (the folder holding both plugin executables)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
plugins=${1:?usage: Tools/generate-protos.sh PLUGIN_FOLDER}
cd "$here"
out=Sources/Service/Generated
rm -rf "$out" && mkdir -p "$out"
protoc --proto_path=proto \
  --plugin=protoc-gen-swift="$plugins/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift-2="$plugins/protoc-gen-grpc-swift-2" \
  --swift_out="$out" --swift_opt=Visibility=Public,UseAccessLevelOnImports=true \
  --grpc-swift-2_out="$out" --grpc-swift-2_opt=Visibility=Public,UseAccessLevelOnImports=true \
  lifelong/v1/scorer.proto grpc/health/v1/health.proto
# (Both generators mark their files `swift-format-ignore-file`.)
.venv/bin/python -m grpc_tools.protoc -I proto --python_out=python --pyi_out=python --grpc_python_out=python \
  lifelong/v1/scorer.proto
touch python/lifelong/v1/__init__.py
echo "generated: $out, python/lifelong/v1"
