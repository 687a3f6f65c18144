#!/usr/bin/env bash
# `make demo`: the whole pipeline on the embedded profile, on a small generated data set.
# Everything is written under the data home (LAKEFORGE_HOME, default .lakeforge/ in the checkout).
set -euo pipefail
step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }

step "Settings"
lakeforge config
