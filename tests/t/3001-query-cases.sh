#!/bin/sh
# The query conformance cases of tests/data/query/*.edn, run through the real
# tools: each database is built with dh-create and dh-transact, each case
# runs through dh-query or dh-pull and its output is compared with the
# expected result (as a set, multiset or exactly).  See query-cases.c for the
# case format.
. "$(dirname "$0")/lib.sh"

query-cases --tools "$DH_TOP"/tests/data/query/*.edn
