#!/usr/bin/env bash
# Installs everything harken needs on a fresh Debian machine: system libraries (espeak-ng for the
# synthetic corpus, libsndfile for audio), a venv, CPU torch 2.13.0 when no torch is present, and
# harken itself with its test tools. Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

need_apt=()
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
ldconfig -p 2>/dev/null | grep -q libsndfile.so || need_apt+=(libsndfile1)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing torch==2.13.0 (CPU build)"
  "$PY" -m pip install -q "torch==2.13.0"
fi
stamp="$VENV/.harken-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing harken and its dependencies into $VENV"
  "$PY" -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  "$PY" -c "import harken, lightning, soundfile, soxr" && touch "$stamp"
fi
