#!/usr/bin/env bash
# The project's test command (README): make sure the test tooling is there, then lint, front-end
# unit tests, front-end lint and type check, the documentation site (mkdocs build --strict, the
# notebooks executed), and every Python test, browser tests included.
# Extra arguments go to pytest.
#
#   bash scripts/test.sh                                  # everything (what CI runs)
#   bash scripts/test.sh -m "not browser and not slow"   # quick loop
#   IMACS_SKIP_INSTALL=1 bash scripts/test.sh             # never install anything
#
# Installs only what is missing: Debian's chromium (apt, as root), the package with its test
# extra (pip install -e ".[test]", which also builds the front end), js/node_modules (npm ci).
# Every stage runs even if an earlier one failed; pytest runs last so its summary is the last
# thing printed; the exit status is non-zero if any stage failed or if pytest ran no test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
PY="${PYTHON:-python}"
failed=()

if [ "${IMACS_SKIP_INSTALL:-0}" != "1" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      echo "== apt-get install chromium (browser tests)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q && apt-get install -y -q --no-install-recommends chromium chromium-driver \
        || failed+=("apt-get install chromium")
    else
      echo "!! /usr/bin/chromium is missing and this is not root: browser tests will be skipped" >&2
    fi
  fi
  if ! "$PY" -c "import imacs_widget, pytest, playwright, jupyterlab, nbformat, ipykernel, ruff, shap, keras, tensorflow, torch, transformers, onnxruntime, datasets, jax, ray, zarr, pyarrow, umap, quantus, mkdocs, mkdocs_jupyter, mkdocstrings" \
       >/dev/null 2>&1; then
    echo "== pip install -e .[test]"
    "$PY" -m pip install -q -e ".[test]" || failed+=("pip install")
  fi
  if [ ! -d js/node_modules ] || [ ! -x js/node_modules/.bin/eslint ] || [ ! -x js/node_modules/.bin/tsc ]; then
    echo "== npm ci (js/)"
    (cd js && npm ci --no-audit --no-fund) || failed+=("npm ci")
  fi
fi

echo "== ruff check ."
"$PY" -m ruff check . || failed+=("ruff")

echo "== front end: build + vitest + eslint + tsc --checkJs (js/)"
# Rebuild imacs_widget/static/ so the browser tests exercise the current js/src.
(cd js && npm run build) || failed+=("npm run build")
(cd js && npm test) || failed+=("vitest")
(cd js && npm run lint) || failed+=("eslint")
(cd js && npm run typecheck) || failed+=("tsc")

echo "== documentation site: mkdocs build --strict (notebooks executed)"
# Broken links, references and anchors fail; the site goes to a temporary folder.
site_dir="$(mktemp -d)"
NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict --site-dir "$site_dir" || failed+=("mkdocs")
rm -rf "$site_dir"

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED before pytest: ${failed[*]}"
fi

echo "== pytest"
rc=0
"$PY" -m pytest -q -rfEs --durations=15 "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
if [ "$rc" -ne 0 ]; then
  exit "$rc"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "stages failed: ${failed[*]}" >&2
  exit 1
fi
