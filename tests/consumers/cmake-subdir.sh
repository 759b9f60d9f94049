# Way 3a: a CMake project with this repository in third_party/smalloc, add_subdirectory and
# smalloc::smalloc (README: consume:cmake-subdir).
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh cmake-subdir
mkdir -p "$W/app/third_party"
mv "$W/smalloc" "$W/app/third_party/smalloc"
snippet cmake-subdir "$W/app"
run_snippet "$W/app" "$W/log"
# add_subdirectory must not install anything by default (SMALLOC_INSTALL is off in a subproject).
if (cd "$W/app" && "$CMAKE" --install build --prefix "$W/prefix") > "$W/log-install" 2>&1 \
   && [ -e "$W/prefix" ]; then
    die "cmake --install of the consumer installed smalloc's files: $(find "$W/prefix" -type f)"
fi
say OK
