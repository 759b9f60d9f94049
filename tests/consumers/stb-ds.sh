# stb_ds as a program meets it: a project that holds a copy of smalloc.h (and no stb_ds.h) and
# the files of tests/consumers/stb_ds/, built with plain cc lines. Each case is a way a user
# trips over the dependency; each must build, link and print OK, or fail with the message that
# says what to do:
#   one-define   SMALLOC_IMPLEMENTATION alone: nothing about stb_ds to define; no stbds_* exported
#   no-flags     no -I at all: Debian's <stb/stb_ds.h> is found (where libstb-dev is installed)
#   missing      no stb_ds.h anywhere (a sysroot without /usr/include/stb): the #error names
#                stb_ds.h, libstb-dev, the upstream repository and the version tested
#   beside       a copy of stb_ds.h beside smalloc.h is the one used
#   two-static   two libraries that each embed smalloc with SMALLOC_STATIC, in a program that
#                compiles and uses stb_ds itself and has smalloc's implementation in a file that
#                uses stb_ds too: links, and the libraries export one symbol each
#   own-arrlen   a file with its own arrlen(a, n) compiles smalloc's implementation
#   strict       -Wall -Wextra -Wpedantic -Wundef -Wconversion ... -Werror with stb_ds.h found
#                through -I (pkg-config --cflags stb), with cc, clang, c++ and clang++ where present
#   stb-first    a file that compiles stb_ds's implementation before smalloc's
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh stb-ds
A=$W/app
cp "$W/smalloc/smalloc.h" "$HERE"/stb_ds/*.c "$A/"
rm -f "$A/main.c"
cd "$A"

# A directory that holds stb_ds.h: from pkg-config, or where the compiler finds <stb/stb_ds.h>.
STB_CFLAGS=$("$PKG_CONFIG" --cflags stb 2>/dev/null || :)
stb_h=
for f in $(printf '#include <stb/stb_ds.h>\n' | cc $STB_CFLAGS -M -x c - 2>/dev/null) \
         $(printf '#include "stb_ds.h"\n' | cc $STB_CFLAGS -M -x c - 2>/dev/null); do
    case $f in */stb_ds.h) stb_h=$f ;; esac
done
[ -n "$stb_h" ] || die "no stb_ds.h on this machine (Debian: apt-get install libstb-dev)"
STB_DIR=$(dirname "$stb_h")
[ -n "$STB_CFLAGS" ] || STB_CFLAGS="-I$STB_DIR"
say "stb_ds.h: $stb_h; STB_CFLAGS=$STB_CFLAGS"

# build LOG COMMAND...: run COMMAND, its output in LOG; show the log and fail if it fails.
build() {
    log=$1; shift
    "$@" > "$log" 2>&1 || { cat "$log"; die "failed: $*"; }
}
# ok PROGRAM: run it; it must print OK.
ok() {
    "./$1" > "$1.out" 2>&1 || { cat "$1.out"; die "$1 exited with status $?"; }
    grep -qx OK "$1.out" || { cat "$1.out"; die "$1 did not print OK"; }
}
# Every global symbol an object file defines.
defined() { nm -g --defined-only "$1" | awk 'NF >= 3 { print $3 }'; }

# one-define
build log-one cc -std=c99 -O2 $STB_CFLAGS -c plain.c -o plain.o
build log-one cc plain.o -o plain -pthread
ok plain
bad=$(defined plain.o | grep -v -e '^sm_[A-Za-z0-9]' -e '^sm__fast_tls$' -e '^main$' || :)
[ -z "$bad" ] || die "one-define: the implementation exports more than sm_* names and sm__fast_tls: $bad"
say "one-define: SMALLOC_IMPLEMENTATION alone builds, links and runs; only sm_* names (and the inline fast path's sm__fast_tls) exported"

# no-flags: only where the compiler finds <stb/stb_ds.h> by itself.
if printf '#include <stb/stb_ds.h>\n' | cc -E -x c - > /dev/null 2>&1; then
    build log-no-flags cc -std=c99 -O2 plain.c -o plain-no-flags -pthread
    ok plain-no-flags
    say "no-flags: built without -I, with <stb/stb_ds.h>"
else
    say "no-flags: not run (the compiler finds no <stb/stb_ds.h> by itself)"
fi

# missing: a sysroot that is the machine's /usr/include less stb/, so neither "stb_ds.h" nor
# <stb/stb_ds.h> is found.
mkdir -p "$W/sysroot/usr/include"
for e in /usr/include/*; do
    [ "$e" = /usr/include/stb ] || ln -s "$e" "$W/sysroot/usr/include/"
done
mkdir -p "$W/missing"
cp smalloc.h plain.c "$W/missing/"
for c in cc clang; do
    command -v $c > /dev/null 2>&1 || continue
    if (cd "$W/missing" && $c --sysroot="$W/sysroot" -std=c99 -fsyntax-only plain.c) > log-missing-$c 2>&1; then
        die "missing: $c compiled smalloc's implementation without stb_ds.h"
    fi
    for want in 'stb_ds.h' 'libstb-dev' 'https://github.com/nothings/stb' 'v0.67'; do
        grep -q "error.*smalloc.h needs stb_ds.h.*$want" log-missing-$c \
            || { cat log-missing-$c; die "missing: $c's error does not name $want"; }
    done
    n=$(grep -cE ':[0-9]+:[0-9]+: (fatal )?error:' log-missing-$c)
    [ "$n" -le 2 ] || { cat log-missing-$c; die "missing: $c went on after the #error ($n errors)"; }
done
say "missing: $(grep -o 'smalloc.h needs stb_ds.h[^"]*' log-missing-cc | head -n 1)"

# beside: a copy next to smalloc.h wins over every other.
mkdir -p "$W/beside"
cp smalloc.h plain.c "$stb_h" "$W/beside/"
(cd "$W/beside" && cc -std=c99 -M plain.c) > log-beside-deps 2>&1 || { cat log-beside-deps; die "beside: cc -M failed"; }
tr ' \\' '\n\n' < log-beside-deps | grep -qx 'stb_ds.h' \
    || { cat log-beside-deps; die "beside: the copy beside smalloc.h was not the stb_ds.h used"; }
(cd "$W/beside" && cc -std=c99 -O2 plain.c -o plain -pthread && ./plain) > log-beside 2>&1 \
    || { cat log-beside; die "beside: failed"; }
say "beside: the stb_ds.h beside smalloc.h is used, with no -I"

# two-static
for l in a b; do
    build log-static cc -std=c99 -O2 $STB_CFLAGS -c lib_$l.c -o lib_$l.o
    build log-static ar rcs lib$l.a lib_$l.o
    got=$(defined lib_$l.o | tr '\n' ' ')
    [ "$got" = "lib_${l}_work " ] || die "two-static: lib_$l.o exports more than lib_${l}_work: $got"
done
build log-static cc -std=c99 -O2 $STB_CFLAGS -c libs_main.c -o libs_main.o
build log-static cc -std=c99 -O2 $STB_CFLAGS -c stb_user.c -o stb_user.o
build log-static cc libs_main.o stb_user.o -L. -la -lb -o libs_main -pthread
ok libs_main
say "two-static: two SMALLOC_STATIC libraries, the program's own smalloc and its own stb_ds link together"

# own-arrlen
build log-arrlen cc -std=c99 -O2 $STB_CFLAGS own_arrlen.c -o own_arrlen -pthread
ok own_arrlen
say "own-arrlen: a file with its own arrlen(a, n) compiles smalloc's implementation"

# strict: the warnings a user's build commonly turns on (smalloc's own code under the full strict
# set, with stb_ds.h as a system header, is make standards' job).
STRICT='-Wall -Wextra -Wpedantic -Wundef -Wconversion -Wsign-conversion -Wshadow -Wcast-qual
        -Wcast-align -Wredundant-decls -Wdouble-promotion -Werror'
STRICT_C='-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition'
strict=
for c in cc clang; do
    command -v $c > /dev/null 2>&1 || continue
    build log-strict $c -std=c99 -O2 $STB_CFLAGS $STRICT $STRICT_C plain.c -o strict-$c -pthread
    ok strict-$c
    strict="$strict $c"
done
for c in c++ clang++; do
    command -v $c > /dev/null 2>&1 || continue
    build log-strict $c -x c++ -std=c++11 -O2 $STB_CFLAGS $STRICT plain.c -o strict-$c -pthread
    ok strict-$c
    strict="$strict $c"
done
say "strict: clean with$strict under -Werror and $STB_CFLAGS"

# stb-first
build log-first cc -std=c99 -O2 $STB_CFLAGS stb_first.c -o stb_first -pthread
ok stb_first
say "stb-first: a file that compiles stb_ds before smalloc shares it"
say OK
