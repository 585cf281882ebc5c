#!/bin/sh
# The fuzz harnesses (tests/fuzz) replay their committed corpora through a
# plain build: every input that ever mattered to the fuzzer still runs clean.
# scripts/fuzz runs the same harnesses under libFuzzer with sanitizers.
. "$(dirname "$0")/lib.sh"

for h in edn json cbor-dump node uri; do
	test_expect_success "fuzz-$h replays its corpus" "
		n=\$(ls \"\$DH_TOP/tests/fuzz/corpus/$h\" | wc -l) &&
		test \$n -gt 0 &&
		\"\$DH_BUILD/tests/fuzz/fuzz-$h\" \"\$DH_TOP/tests/fuzz/corpus/$h\" >out &&
		grep \"^ok 1 - .*: \$n inputs replayed\" out
	"
done

test_done
