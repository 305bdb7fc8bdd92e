#!/usr/bin/env bash
# Creates .venv and installs the project with everything it needs, offline-safe and idempotent.
# llama-cpp-python is compiled here with portable CPU flags: a native build uses AMX
# instructions that segfault on the first decode on our machines, and pip's wheel cache
# ignores CMAKE_ARGS, so the build never reads from (or writes to) that cache.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=${1:-}   # "test" installs the test dependencies too
LLAMA_CPP_VERSION=0.3.36
export CMAKE_ARGS="${RAG_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip="$VENV/bin/python -m pip"

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$VENV/bin/python -c "import torch" 2>/dev/null || $pip install "torch==2.13.0"

if ! $VENV/bin/python -c "import llama_cpp" 2>/dev/null; then
  echo "Building llama-cpp-python $LLAMA_CPP_VERSION (about 4 minutes on 2 cores)..."
  $pip install --no-cache-dir "llama-cpp-python==$LLAMA_CPP_VERSION"
fi

if [ -n "$EXTRAS" ]; then
  $pip install -e ".[$EXTRAS]"
else
  $pip install -e .
fi
