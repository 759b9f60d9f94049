# Sourced by tests/consumers/NAME.sh (run by `make consumer-NAME` / `make consumers`).
# Environment from mk/packaging.mk: SMALLOC_REPO (this repository, absolute), CONSUMERS_DIR
# (build/consumers, absolute), CMAKE, GIT, PKG_CONFIG.
#
# Each consumer test starts from an empty directory $W = $CONSUMERS_DIR/NAME holding
#   $W/smalloc  a snapshot of this repository: the files git tracks plus untracked ones it does
#               not ignore, as they are in the working tree (uncommitted changes included), so
#               the test sees what the next commit will hold; build/ and .git are not copied
#   $W/app      the consumer project: tests/consumers/main.c and the README's files for the way
# and runs the README's shell snippet for its way in $W/app (see snippet below).
set -eu

: "${SMALLOC_REPO:?run this through make consumers}"
: "${CONSUMERS_DIR:?run this through make consumers}"
CMAKE=${CMAKE:-cmake}
GIT=${GIT:-git}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
README=$SMALLOC_REPO/README.md
HERE=$SMALLOC_REPO/tests/consumers

# A consumer builds as a user would: no make variables, flags or pkg-config paths leaking in
# from the make that runs the test, and git with neither the user's nor the system's config.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL CFLAGS CPPFLAGS LDFLAGS LDLIBS CC PREFIX DESTDIR \
      PKG_CONFIG_PATH CMAKE_PREFIX_PATH CMAKE_GENERATOR CMAKE_BUILD_TYPE SMALLOC SMALLOC_URL || :
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=consumer GIT_AUTHOR_EMAIL=consumer@example.invalid
export GIT_COMMITTER_NAME=consumer GIT_COMMITTER_EMAIL=consumer@example.invalid

say() { printf '%s\n' "consumer $NAME: $*"; }
die() { printf '%s\n' "consumer $NAME: FAILED: $*" >&2; exit 1; }

# fresh NAME: $W = an empty $CONSUMERS_DIR/NAME with the snapshot in $W/smalloc and main.c in $W/app.
fresh() {
    NAME=$1
    W=$CONSUMERS_DIR/$NAME
    rm -rf "$W"
    mkdir -p "$W/smalloc" "$W/app"
    if files=$("$GIT" -C "$SMALLOC_REPO" ls-files --cached --others --exclude-standard 2>/dev/null) \
       && [ -n "$files" ]; then
        # Tracked files deleted in the working tree are left out.
        (cd "$SMALLOC_REPO" && printf '%s\n' "$files" | while IFS= read -r f; do
             [ -e "$f" ] && printf '%s\n' "$f"; done | tar -cf - -T -) | tar -xf - -C "$W/smalloc"
    else
        # Not a git checkout (or git refuses it): everything but build/ and .git.
        (cd "$SMALLOC_REPO" && tar -cf - --exclude=./build --exclude=./.git .) | tar -xf - -C "$W/smalloc"
    fi
    [ -f "$W/smalloc/smalloc.h" ] || die "no smalloc.h in the snapshot of $SMALLOC_REPO"
    cp "$HERE/main.c" "$W/app/main.c"
    say "in $W"
}

# snippet NAME DIR: the README's snippets for NAME. Each marker line
#   <!-- consume:NAME -->              the next fenced block is shell, appended to DIR/snippet.sh
#   <!-- consume:NAME file=PATH -->    the next fenced block is written to DIR/PATH
# must be followed (blank lines aside) by a fenced block starting in column 0.
snippet() {
    awk -v name="$1" -v dir="$2" '
        function fail(msg) { print "README.md: " msg > "/dev/stderr"; bad = 1; exit 1 }
        state == 0 && $0 ~ ("^<!-- consume:" name "( file=[^ ]+)? -->$") {
            file = ""
            if (match($0, / file=[^ ]+/)) file = substr($0, RSTART + 6, RLENGTH - 6)
            state = 1; next
        }
        state == 1 && /^```/ {
            out = dir "/" (file == "" ? "snippet.sh" : file)
            if (!(out in seen)) { seen[out] = 1; printf "" > out }
            state = 2; blocks++; next
        }
        state == 1 && /^[ \t]*$/ { next }
        state == 1 { fail("<!-- consume:" name " --> is not followed by a fenced block") }
        state == 2 && /^```/ { state = 0; next }
        state == 2 { print >> out; next }
        END {
            if (bad) exit 1
            if (state != 0) fail("unterminated block after <!-- consume:" name " -->")
            if (!blocks) fail("no <!-- consume:" name " --> snippets")
        }' "$README"
    [ -s "$2/snippet.sh" ] || die "README.md has no shell snippet for consume:$1"
}

# run_snippet DIR LOG: run DIR/snippet.sh in DIR (sh -eux: every command shown, the first
# failure or unset variable stops it); the program it runs must print a line "OK".
run_snippet() {
    say "running the README's snippet:"
    sed 's/^/    | /' "$1/snippet.sh"
    (cd "$1" && sh -eux ./snippet.sh) > "$2" 2>&1 || { cat "$2"; die "the README snippet failed (log: $2)"; }
    sed 's/^/    /' "$2"
    grep -qx OK "$2" || die "the program did not print OK (log: $2)"
}

# tree DIR: every path under DIR with its type and, for files, checksum (to compare a prefix).
tree() {
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while IFS= read -r p; do
        if [ -f "$p" ]; then printf 'f %s %s\n' "$p" "$(cksum < "$p")"
        elif [ -d "$p" ]; then printf 'd %s\n' "$p"
        else printf 'o %s\n' "$p"; fi
    done)
}
