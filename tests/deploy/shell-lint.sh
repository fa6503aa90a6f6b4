#!/usr/bin/env bash
# Runs bash -n and shellcheck on every shell script in deploy/, scripts/, tests/lib/ and
# tests/deploy/: files named *.sh and files whose first line names sh or bash. Prints each
# file's result and exits 1 when any file fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
command -v shellcheck >/dev/null || {
    echo "shell-lint: shellcheck is missing; run scripts/setup" >&2
    exit 1
}

scripts=()
while IFS= read -r -d '' file; do
    if [[ "$file" == *.sh ]] || head -n 1 "$file" | grep -Eq '^#!.*[/ ](ba)?sh( |$)'; then
        scripts+=("$file")
    fi
done < <(find deploy scripts tests/lib tests/deploy -type f -print0 | sort -z)

if ((${#scripts[@]} == 0)); then
    echo "shell-lint: no scripts found" >&2
    exit 1
fi

failed=0
for file in "${scripts[@]}"; do
    if ! bash -n "$file"; then
        echo "FAIL bash -n $file"
        failed=1
    elif ! shellcheck --external-sources --source-path=SCRIPTDIR "$file"; then
        echo "FAIL shellcheck $file"
        failed=1
    else
        echo "ok $file"
    fi
done
exit "$failed"
