#!/bin/sh
# The same conformance cases run in-process over the in-memory transactor
# (dh_query_source_tx): the engine without the database layer, so a failure
# here and not in 3001 points at the engine, and the reverse at the tools or
# the database.
. "$(dirname "$0")/lib.sh"

query-cases "$DH_TOP"/tests/data/query/*.edn
