#!/bin/sh
# meson install puts the library, headers, pkg-config file, tools and man
# pages in place, and a program builds against the installed library.
. "$(dirname "$0")/lib.sh"

test_expect_success 'meson install into a staging directory' '
	DESTDIR="$TRASH/stage" meson install -C "$DH_BUILD" --no-rebuild >log 2>&1 &&
	prefix=$(meson introspect --buildoptions "$DH_BUILD" | tr "{" "\n" | sed -n "s/.*\"name\": \"prefix\", \"value\": \"\([^\"]*\)\".*/\1/p") &&
	echo "$prefix" >prefix && test -n "$prefix"
'

root() { echo "$TRASH/stage$(cat prefix)"; }

test_expect_success 'library, headers, pkg-config file, tools and man pages are installed' '
	r=$(root) &&
	ls "$r"/lib*/libdh.so* "$r"/lib/*/libdh.so* 2>/dev/null | grep -q libdh.so &&
	test -f "$r/include/dh/dh.h" &&
	test -f "$r/include/dh/dh-backend.h" &&
	test -f "$r/include/dh/dh-value.h" &&
	ls "$r"/lib*/pkgconfig/dh.pc "$r"/lib/*/pkgconfig/dh.pc 2>/dev/null | grep -q dh.pc &&
	test -x "$r/bin/dh-store" &&
	test -f "$r/share/man/man1/dh-store.1" &&
	test -f "$r/share/man/man5/dh-store.5" &&
	test -f "$r/share/man/man7/dh.7"
'

test_expect_success 'a program compiles and runs against the installed library' '
	r=$(root) &&
	pc=$(dirname "$(ls "$r"/lib*/pkgconfig/dh.pc "$r"/lib/*/pkgconfig/dh.pc 2>/dev/null | head -1)") &&
	cat >prog.c <<-\EOF &&
	#include <dh.h>
	#include <stdio.h>
	int main(void)
	{
		char name[DH_HASH_HEX + 1];
		dh_node_name(name, "hello", 5);
		puts(name);
		return 0;
	}
	EOF
	# a sanitizer build of libdh needs its runtime in the program too
	cc ${DH_TEST_SANITIZE:+-fsanitize=address,undefined} -o prog prog.c $(PKG_CONFIG_SYSROOT_DIR="$TRASH/stage" PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs dh) &&
	LD_LIBRARY_PATH=$(dirname "$(ls "$r"/lib*/libdh.so "$r"/lib/*/libdh.so 2>/dev/null | head -1)") ./prog >out &&
	echo 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 >expect &&
	test_cmp expect out
'

test_expect_success 'network backends are modules, loaded from beside the installed library' '
	r=$(root) &&
	lib=$(dirname "$(ls "$r"/lib*/libdh.so "$r"/lib/*/libdh.so 2>/dev/null | head -1)") &&
	ls "$lib"/dh/modules/dh-backend-*.so >modules &&
	for m in $(sed -n "s|.*/dh-backend-\(.*\)\.so$|\1|p" modules); do
		case $m in
		sqlite) uri="sqlite:///nonexistent-dir-$$/x.db" want="nonexistent-dir" ;;
		redis) uri=redis://127.0.0.1:1/0 want="cannot connect" ;;
		postgresql) uri="postgresql://dh@127.0.0.1:1/x?connect_timeout=2" want="cannot connect" ;;
		cloud) uri="s3://dh-bucket/p?endpoint=http://127.0.0.1:1&region=us-east-1" want="Failed to connect to 127.0.0.1 port 1" ;;
		*) echo "unknown module $m"; false ;;
		esac &&
		LD_LIBRARY_PATH="$lib" AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y test_expect_code 1 \
			"$r/bin/dh-store" "$uri" has format 2>err &&
		cat err && ! grep "module" err && grep "$want" err || return 1
	done &&
	! ldd "$r/bin/dh-query" | grep -E "libcurl|libpq|libhiredis|libsqlite3|libcrypto"
'

test_expect_success 'a missing module is a clear error naming it; other stores still open' '
	r=$(root) &&
	lib=$(dirname "$(ls "$r"/lib*/libdh.so "$r"/lib/*/libdh.so 2>/dev/null | head -1)") &&
	test -f "$lib/dh/modules/dh-backend-redis.so" &&
	mv "$lib/dh/modules/dh-backend-redis.so" redis.so &&
	LD_LIBRARY_PATH="$lib" test_expect_code 1 "$r/bin/dh-store" redis://127.0.0.1:1/0 list 2>err &&
	grep "^dh-store: backend .redis. is module .$lib/dh/modules/dh-backend-redis.so., which is missing: No such file or directory (reinstall dh)$" err &&
	LD_LIBRARY_PATH="$lib" "$r/bin/dh-store" -c "$TRASH/st" list &&
	mv redis.so "$lib/dh/modules/dh-backend-redis.so"
'

test_done
