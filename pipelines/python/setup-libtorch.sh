#!/usr/bin/env bash
# Prepares libtorch for tailor's `tch` feature (burn-tch 0.22 → tch 0.22 → torch-sys) in a local
# venv, without system changes: the PyPI torch wheel is libtorch plus headers, and torch-sys
# builds against it with LIBTORCH_USE_PYTORCH=1. The linux wheel pulls its nvidia-* wheels (CUDA
# runtime, cuBLAS, cuDNN, …) even for CPU use: libtorch_cuda.so links them.
#
# Usage: setup-libtorch.sh VENV TORCH_VERSION [PYTHON3]
# Writes VENV/tailor-tch.env (source it) and prints the same exports.
set -euo pipefail
venv=${1:?usage: setup-libtorch.sh VENV TORCH_VERSION [PYTHON3]}
version=${2:?usage: setup-libtorch.sh VENV TORCH_VERSION [PYTHON3]}
python3=${3:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python3" -m venv "$venv"
fi
venv=$(cd "$venv" && pwd)
# pip's cache makes a second venv with the same torch version (e.g. .venv-hf's) a local copy.
# numpy only silences torch's import warning ("Failed to initialize NumPy").
"$venv/bin/pip" install "torch==$version" numpy

torch_lib=$("$venv/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
installed=$("$venv/bin/python" -c 'import torch; print(torch.__version__)')
env_file="$venv/tailor-tch.env"
{
  echo "# tailor --features tch against torch $installed in $venv (written by make setup-libtorch)"
  echo "export LIBTORCH_USE_PYTORCH=1"
  # tch 0.22 checks for libtorch 2.9; other versions need the bypass (2.11 measured to work).
  echo "export LIBTORCH_BYPASS_VERSION_CHECK=1"
  echo "export VIRTUAL_ENV=$venv"
  echo "export PATH=$venv/bin:\$PATH"
  echo "export LD_LIBRARY_PATH=$torch_lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
} > "$env_file"

echo
echo "libtorch ready: torch $installed, libraries in $torch_lib"
echo "Before building or running with --features tch, run:  source $env_file"
echo "which sets:"
sed -n 's/^export /  export /p' "$env_file"
