# Way 2: a consumer git repository, made here, that vendors smalloc as a git submodule and
# builds with its own Makefile (README: consume:submodule).
#
# The submodule's URL is $W/smalloc: the snapshot of this working tree (see lib.sh) made a git
# repository with one commit, so the test sees uncommitted changes too and never commits in
# this repository. Local clones need protocol.file.allow=always since git 2.38.1; it is given
# through the environment so that the README's snippet stays what a user types.
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh submodule
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=protocol.file.allow GIT_CONFIG_VALUE_0=always

( cd "$W/smalloc" && "$GIT" init -q && "$GIT" add -A && "$GIT" commit -q -m "smalloc snapshot" )
( cd "$W/app" && "$GIT" init -q )
snippet submodule "$W/app"
[ -f "$W/app/Makefile" ] || die "README.md has no consume:submodule file=Makefile block"
export SMALLOC_URL="$W/smalloc"
run_snippet "$W/app" "$W/log"
[ -f "$W/app/third_party/smalloc/.git" ] || die "third_party/smalloc is not a submodule"

# Someone else clones the consumer with its submodule and builds it.
( cd "$W/app" && "$GIT" add main.c Makefile && "$GIT" commit -q -m "consumer of smalloc" )
"$GIT" clone -q --recurse-submodules "$W/app" "$W/app-clone"
( cd "$W/app-clone" && make && ./app ) > "$W/log-clone" 2>&1 || { cat "$W/log-clone"; die "the clone did not build"; }
grep -qx OK "$W/log-clone" || die "the clone's program did not print OK"
say "a git clone --recurse-submodules of the consumer builds and runs too"
say OK
