# Way 4: make install PREFIX=<fresh prefix>, a plain cc line with pkg-config --cflags/--libs
# smalloc, then make uninstall (README: consume:make-install). The prefix holds files and
# directories of its own beforehand, and must be exactly as it was afterwards. Then the same
# with DESTDIR, and with install run twice.
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh make-install
snippet make-install "$W/app"
export SMALLOC="$W/smalloc" PREFIX="$W/prefix"
mkdir -p "$PREFIX/include" "$PREFIX/share/doc"
echo "not smalloc's" > "$PREFIX/share/doc/other.txt"
tree "$PREFIX" > "$W/before"
run_snippet "$W/app" "$W/log"
grep -q "$PREFIX/share/pkgconfig/smalloc.pc" "$W/log" || die "make install did not write smalloc.pc"
tree "$PREFIX" > "$W/after"
diff -u "$W/before" "$W/after" || die "make uninstall left the prefix changed (above)"
say "make uninstall left $PREFIX exactly as it was"

# DESTDIR: files under DESTDIR, smalloc.pc naming PREFIX alone; installed twice, then removed.
stage="$W/stage"
mkdir -p "$stage"
for round in 1 2; do
    make -s -C "$SMALLOC" install DESTDIR="$stage" PREFIX=/opt/smalloc > "$W/log-destdir" 2>&1 \
        || { cat "$W/log-destdir"; die "make install DESTDIR=... failed (round $round)"; }
done
[ -f "$stage/opt/smalloc/include/smalloc.h" ] || die "DESTDIR: no $stage/opt/smalloc/include/smalloc.h"
grep -qx 'prefix=/opt/smalloc' "$stage/opt/smalloc/share/pkgconfig/smalloc.pc" \
    || die "DESTDIR: smalloc.pc does not say prefix=/opt/smalloc"
n=$(grep -c '' "$stage/opt/smalloc/share/smalloc/install-manifest.txt")
make -s -C "$SMALLOC" uninstall DESTDIR="$stage" PREFIX=/opt/smalloc > "$W/log-destdir" 2>&1 \
    || { cat "$W/log-destdir"; die "make uninstall DESTDIR=... failed"; }
left=$(cd "$stage" && find . -mindepth 1)
[ -z "$left" ] || die "DESTDIR: make uninstall left $left"
say "DESTDIR: installed twice under $stage/opt/smalloc ($n manifest entries), then nothing left"
say OK
