# The Makefile's dependency check and `make demo`, on a machine without libstb-dev or libcjson-dev
# (README: the two commands). Played on a snapshot of this repository with a pkg-config that knows
# neither stb nor libcjson, and DEPS_INSTALL=no so that nothing is installed even as root:
#   1. STB_CFLAGS names a copy of stb_ds.h: `make demo` builds with it and runs every example but
#      06_cjson, then names 06_cjson and libcjson-dev once, at the end, and succeeds;
#   2. a copy of stb_ds.h beside smalloc.h and no STB_CFLAGS: an example builds with it;
#   3. STB_CFLAGS that names no directory holding stb_ds.h: make stops and says so.
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh make-deps
S=$W/smalloc

# A stb_ds.h to copy, wherever this machine has one.
real_pc=$(command -v "$PKG_CONFIG") || die "no $PKG_CONFIG"
stb_h=
for f in $(printf '#include <stb/stb_ds.h>\n' | cc -M -x c - 2>/dev/null) \
         $(printf '#include "stb_ds.h"\n' | cc $("$real_pc" --cflags stb 2>/dev/null) -M -x c - 2>/dev/null); do
    case $f in */stb_ds.h) stb_h=$f ;; esac
done
[ -n "$stb_h" ] || die "no stb_ds.h on this machine to copy (Debian: apt-get install libstb-dev)"
mkdir -p "$W/stb-copy" "$W/bin"
cp "$stb_h" "$W/stb-copy/stb_ds.h"

# pkg-config as on a machine without libstb-dev and libcjson-dev.
cat > "$W/bin/pkg-config" <<PC
#!/bin/sh
for a; do case \$a in stb|libcjson) exit 1 ;; esac; done
exec "$real_pc" "\$@"
PC
chmod +x "$W/bin/pkg-config"
MK="make -C $S --no-print-directory PKG_CONFIG=$W/bin/pkg-config DEPS_INSTALL=no"

# 1.
$MK demo STB_CFLAGS="-I$W/stb-copy" > "$W/log-demo" 2>&1 || { cat "$W/log-demo"; die "make demo failed"; }
grep -q -- "-isystem $W/stb-copy " "$W/log-demo" || { cat "$W/log-demo"; die "make demo did not build with STB_CFLAGS"; }
ran=$(grep -c '^=== ' "$W/log-demo")
grep -q '^=== build/examples/01_basics' "$W/log-demo" || { cat "$W/log-demo"; die "make demo did not run 01_basics"; }
! grep -q '^=== build/examples/06_cjson' "$W/log-demo" || die "make demo ran 06_cjson without libcjson"
n=$(grep -c '06_cjson (libcjson-dev)' "$W/log-demo")
[ "$n" -eq 1 ] || { cat "$W/log-demo"; die "make demo named the skipped 06_cjson $n times (once expected)"; }
tail -n 2 "$W/log-demo" | grep -q '06_cjson (libcjson-dev)' || { cat "$W/log-demo"; die "the skipped example is not named at the end"; }
say "STB_CFLAGS with a copy, no libcjson: make demo ran $ran examples and ended:"
tail -n 2 "$W/log-demo" | sed 's/^/    /'

# 2.
rm -rf "$S/build"
cp "$W/stb-copy/stb_ds.h" "$S/stb_ds.h"
$MK build/examples/01_basics > "$W/log-beside" 2>&1 || { cat "$W/log-beside"; die "a build with stb_ds.h beside smalloc.h failed"; }
"$S/build/examples/01_basics" > /dev/null || die "01_basics built with stb_ds.h beside smalloc.h failed"
rm -f "$S/stb_ds.h"
say "stb_ds.h beside smalloc.h: 01_basics built and ran"

# 3.
if $MK deps STB_CFLAGS="-I$W/nowhere" > "$W/log-bad" 2>&1; then
    die "make deps accepted STB_CFLAGS=-I$W/nowhere"
fi
grep -q "STB_CFLAGS='-I$W/nowhere' names no directory with stb_ds.h" "$W/log-bad" \
    || { cat "$W/log-bad"; die "make deps did not say what is wrong with STB_CFLAGS"; }
say "STB_CFLAGS without stb_ds.h: $(grep -o 'make: STB_CFLAGS.*' "$W/log-bad")"
say OK
