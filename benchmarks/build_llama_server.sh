#!/bin/sh
# Builds llama.cpp's own server (continuous batching, --parallel N) from the llama.cpp
# tree vendored in the pinned llama-cpp-python sdist, for benchmarks/local_throughput.py.
# About 10 minutes on 2 cores; the binary lands in benchmarks/llama-server/llama-server.
set -eu
VERSION=0.3.36
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$HERE/llama-server"
PIP="${PIP:-$HERE/../.venv/bin/pip}"
mkdir -p "$OUT"
cd "$OUT"
SRC="llama_cpp_python-$VERSION/vendor/llama.cpp"
if [ ! -d "$SRC" ]; then
  [ -f "llama_cpp_python-$VERSION.tar.gz" ] || "$PIP" download "llama-cpp-python==$VERSION" --no-binary :all: --no-deps -d .
  tar xzf "llama_cpp_python-$VERSION.tar.gz"
fi
# the same CPU flags as the Makefile: the native build dies with "Illegal instruction" here
GENERATOR=""
command -v ninja >/dev/null && GENERATOR="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$SRC" -B build $GENERATOR -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
cmake --build build --target llama-server -j2
cp build/bin/llama-server ./llama-server
echo "built $OUT/llama-server"
