#!/bin/sh
# Differential test against DataScript, the reference implementation of
# Datahike's query semantics (npm package pinned in scripts/package.json,
# installed by scripts/install-deps --test): a fixed list of queries and 150
# generated at random from a fixed seed (DH_DIFF_SEED to vary it) run on
# DataScript and through dh-query over the same generated database; results
# must be equal as sets.
. "$(dirname "$0")/lib.sh"

if ! command -v node >/dev/null 2>&1 || [ ! -d "$DH_TOP/scripts/node_modules/datascript" ]; then
	echo "1..0 # SKIP node or the datascript npm package is missing (scripts/install-deps --test)"
	exit 0
fi
NODE_PATH="$DH_TOP/scripts/node_modules" node "$DH_TOP/tests/diff/datascript-diff.js" "$TRASH" "${DH_DIFF_N:-150}"
