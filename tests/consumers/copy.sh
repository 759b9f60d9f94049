# Way 1: smalloc.h copied into a fresh project, built with a plain cc line (README: consume:copy).
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh copy
snippet copy "$W/app"
export SMALLOC="$W/smalloc"
run_snippet "$W/app" "$W/log"
[ -f "$W/app/smalloc.h" ] || die "the snippet did not copy smalloc.h into the project"
say OK
