/*
 * hash.c - SHA-256 and hex, the naming scheme of nodes.
 *
 * Every node read is hashed, so this is a hot path, and every tool hashes
 * within its first milliseconds.  OpenSSL 3's EVP interface fetches the
 * algorithm from a provider, which loads openssl.cnf and builds the
 * provider tables: 1.4 ms of every process, and a lock on each one-shot
 * SHA256().  The low-level SHA256_* functions (deprecated, not removed, in
 * OpenSSL 3) run the same CPU-specific code (SHA extensions where
 * present) with none of that, and 15% faster on 1 MiB inputs.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <openssl/sha.h>

#include "dh.h"

void dh_sha256(unsigned char out[DH_HASH_LEN], const void *data, size_t len)
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

void dh_hex(char *out, const unsigned char *bin, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

/* One more than the value of each hex digit, by byte; 0 for any other byte (a table: node names are hot). */
static const signed char hexval[256] = {
	['0'] = 0 + 1, ['1'] = 1 + 1, ['2'] = 2 + 1, ['3'] = 3 + 1, ['4'] = 4 + 1,
	['5'] = 5 + 1, ['6'] = 6 + 1, ['7'] = 7 + 1, ['8'] = 8 + 1, ['9'] = 9 + 1,
	['a'] = 10 + 1, ['b'] = 11 + 1, ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1,
	['A'] = 10 + 1, ['B'] = 11 + 1, ['C'] = 12 + 1, ['D'] = 13 + 1, ['E'] = 14 + 1, ['F'] = 15 + 1,
};

int dh_unhex(unsigned char *out, const char *hex, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = hexval[(unsigned char)hex[2 * i]] - 1;
		int lo = hi < 0 ? -1 : hexval[(unsigned char)hex[2 * i + 1]] - 1;

		if (lo < 0)
			return dh_error_set(DH_EINVAL, "bad hex digit at offset %zu", 2 * i);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int dh_is_node_name(const char *s)
{
	int i;

	for (i = 0; i < DH_HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[DH_HASH_HEX] == '\0';
}
