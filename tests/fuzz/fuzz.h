/*
 * fuzz.h - the one entry point every fuzz harness defines.  Built with clang
 * and -fsanitize=fuzzer it is driven by libFuzzer (scripts/fuzz); built by
 * meson with replay.c it replays the committed corpus in the regular suite.
 */
#ifndef DH_FUZZ_H
#define DH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
