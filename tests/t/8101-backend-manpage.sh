#!/bin/sh
# dh-backend(3): its complete example, cut out of the page, compiles
# against the installed headers alone, loads as a plugin into the real
# tools and passes the store conformance suite, so the page cannot rot.
. "$(dirname "$0")/lib.sh"

page=$DH_TOP/man/dh-backend.3

test_expect_success 'cut the example out of the man page' '
	awk "/^\.Sh EXAMPLES/ { ex = 1 } ex && /^\.Ed/ && on { exit } on { print } ex && /^\.Bd -literal/ { on = 1 }" \
		"$page" | sed -e "s/\\\\e/\\\\/g" -e "s/\\\\&//g" >sub.c &&
	test $(wc -l <sub.c) -gt 100 &&
	grep -q "^DH_BACKEND_PLUGIN(&sub_ops)" sub.c
'

test_expect_success 'the page passes mandoc -T lint' '
	mandoc -T lint -W warning "$page"
'

test_expect_success 'install libdh into a staging root' '
	meson install -C "$DH_BUILD" --no-rebuild --quiet --destdir "$TRASH/root" >install.log 2>&1 &&
	pc=$(find "$TRASH/root" -name dh.pc) &&
	test -n "$pc" &&
	echo "$(dirname "$pc")" >pcdir
'

dhpkg() {
	PKG_CONFIG_SYSROOT_DIR="$TRASH/root" PKG_CONFIG_LIBDIR="$(cat "$TRASH/pcdir")" PKG_CONFIG_PATH= \
		pkg-config "$@" dh
}

test_expect_success 'dh-backend.h is self-sufficient (C99, C17, C++)' '
	printf "#include <dh/dh-backend.h>\n" >one.c &&
	cc -std=c99 -Wall -Wextra -pedantic -Werror -c -o one.o one.c $(dhpkg --cflags) &&
	cc -std=c17 -Wall -Wextra -Werror -c -o one.o one.c $(dhpkg --cflags) &&
	if command -v c++ >/dev/null; then
		cp one.c one.cc && c++ -Wall -Wextra -Werror -c -o one.o one.cc $(dhpkg --cflags)
	fi &&
	printf "#include <dh-backend.h>\n" >two.c &&
	cc -std=c17 -Wall -Werror -c -o two.o two.c $(dhpkg --cflags)
'

test_expect_success 'the example compiles with the installed headers and pkg-config' '
	mkdir plugins &&
	cc -std=c17 -Wall -Wextra -Werror -shared -fPIC -o plugins/sub.so sub.c $(dhpkg --cflags --libs) &&
	nm -D --defined-only plugins/sub.so >syms &&
	grep " dh_plugin_api_version$" syms &&
	grep " dh_plugin_backends$" syms &&
	test $(dhpkg --variable=backenddir) = "$TRASH/root$(dhpkg --variable=libdir | sed "s|^$TRASH/root||")/dh/backends"
'

DH_BACKEND_PATH=$TRASH/plugins
export DH_BACKEND_PATH

test_expect_success 'the tools open sub: stores through the plugin' '
	dh-store -c "sub:?store=$TRASH/all&prefix=team1" put format </dev/null &&
	dh-store -c "sub:?store=$TRASH/all&prefix=team2" put format <<-\EOF &&
	two
	EOF
	test -f all/team1/format &&
	test -f all/team2/format &&
	n=$(printf hello | dh-store "sub:?store=$TRASH/all&prefix=team1" node-put) &&
	dh-store "sub:?store=$TRASH/all&prefix=team1" cas heads/db - $n &&
	dh-store "sub:?store=$TRASH/all&prefix=team1" list | sort >actual &&
	printf "format\nheads/db\nnodes/%s/%s\n" $(echo $n | cut -c1-2) $(echo $n | cut -c3-) >expect &&
	test_cmp expect actual &&
	dh-store "sub:?store=$TRASH/all&prefix=team1" node-get $n >out &&
	printf hello >expect && test_cmp expect out &&
	dh-store "sub:?store=$TRASH/all&prefix=team2" get format >out &&
	echo two >expect && test_cmp expect out &&
	test_expect_code 4 dh-store "sub:?store=$TRASH/all&prefix=team2" has heads/db
'

test_expect_success 'the example refuses a bad URI with its own message' '
	test_expect_code 2 dh-store "sub:?store=$TRASH/all" list 2>err &&
	grep "use sub:?store=URI&prefix=FOLDER" err
'

test_tap_import test-store "sub:?store=file://$TRASH/conformance&prefix=inner"

test_done
