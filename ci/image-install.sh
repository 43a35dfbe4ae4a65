#!/bin/sh
# Install match-staging into a fresh venv at TARGET: what the Containerfile's build stage runs,
# and what tests/system/test_image.py runs in a plain venv (no image can be built there).
#   sh ci/image-install.sh TARGET [SOURCE] [EXTRAS]     e.g. EXTRAS=whatsapp
set -eu
target="${1:?usage: image-install.sh TARGET [SOURCE] [EXTRAS]}"
source="${2:-.}"
extras="${3:-}"
python3 -m venv "$target"
"$target/bin/python" -m pip install --quiet "$source${extras:+[$extras]}"
# pip and setuptools are build tools: a job runs match-staging, never pip
"$target/bin/python" -m pip uninstall --quiet --yes pip setuptools 2>/dev/null || true
# bytecode once, at build time: every job starts the CLI cold
"$target/bin/python" -m compileall -q "$target/lib"
"$target/bin/match-staging" --version
