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
	cc -o prog prog.c $(PKG_CONFIG_SYSROOT_DIR="$TRASH/stage" PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs dh) &&
	LD_LIBRARY_PATH=$(dirname "$(ls "$r"/lib*/libdh.so "$r"/lib/*/libdh.so 2>/dev/null | head -1)") ./prog >out &&
	echo 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 >expect &&
	test_cmp expect out
'

test_done
