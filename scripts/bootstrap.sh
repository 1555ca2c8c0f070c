#!/usr/bin/env bash
# Creates .venv and installs the project (with test tools) when missing or when
# pyproject.toml changed since the last install. Safe to run again: a no-op then.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.installed-pyproject.sha256"

python=""
for candidate in python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ]; then
  echo "arrears: Python 3.11 is needed (python3.11 or python3 on PATH)" >&2
  exit 1
fi

# The Data Docs' static files (pinned npm tarballs, infra/docs_assets.py), fetched once into
# the per-user cache: the quality report must render on an intranet. Fails when offline and
# the cache is empty.
assets() { (cd "$root" && "$venv/bin/python" -m infra.docs_assets >/dev/null); }

want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  assets
  exit 0
fi
echo "arrears: setting up $venv (first run or pyproject.toml changed)..." >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
# setuptools warns (a UserWarning) that folders named like the packages may shadow them in
# an editable install: they are the packages. A clerk should not read that.
PYTHONWARNINGS="ignore::UserWarning" "$venv/bin/python" -m pip install --quiet -e "$root[dev]" >&2
echo "$want" > "$stamp"
assets
