# Way 3b: cmake --install into a fresh prefix, then a CMake project with
# find_package(smalloc CONFIG) (README: consume:cmake-package). Then the same project against a
# prefix written by make install, and find_package with a version smalloc does not satisfy.
. "$SMALLOC_REPO/tests/consumers/lib.sh"
fresh cmake-package
snippet cmake-package "$W/app"
export SMALLOC="$W/smalloc" PREFIX="$W/prefix"
run_snippet "$W/app" "$W/log"

# What cmake --install wrote: the same files as make install, less the manifest.
expect="./include/smalloc.h
./share/cmake/smalloc/smallocConfig.cmake
./share/cmake/smalloc/smallocConfigVersion.cmake
./share/pkgconfig/smalloc.pc"
got=$(cd "$PREFIX" && find . -type f | LC_ALL=C sort)
[ "$got" = "$expect" ] || die "cmake --install wrote: $got"
# Its smalloc.pc is relative to itself (cmake --install --prefix chooses the prefix late).
flags=$(PKG_CONFIG_PATH="$PREFIX/share/pkgconfig" "$PKG_CONFIG" --cflags smalloc)
# shellcheck disable=SC2086 # $flags is split into words on purpose
(cd "$W/app" && cc -std=c99 $flags main.c -o app-pc -pthread && ./app-pc) > "$W/log-pc" 2>&1 \
    || { cat "$W/log-pc"; die "a build with cmake --install's smalloc.pc failed"; }
say "cmake --install's smalloc.pc works too: $flags"

# The same consumer, configured afresh against a prefix that make install wrote.
make -s -C "$W/smalloc" install PREFIX="$W/prefix-make" > "$W/log-make-install" 2>&1 \
    || { cat "$W/log-make-install"; die "make install failed"; }
(cd "$W/app" && "$CMAKE" -S . -B build-make -DCMAKE_PREFIX_PATH="$W/prefix-make" \
     && "$CMAKE" --build build-make && ./build-make/app) > "$W/log-make" 2>&1 \
    || { cat "$W/log-make"; die "find_package against make install's prefix failed"; }
grep -qx OK "$W/log-make" || die "the program built against make install's prefix did not print OK"
say "find_package(smalloc CONFIG) works against make install's files too"

# A version that 0.x does not satisfy is refused (and the package is not found).
mkdir -p "$W/app-v"
cat > "$W/app-v/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(app_v C)
find_package(smalloc 1.0 CONFIG)
if(smalloc_FOUND)
  message(FATAL_ERROR "smalloc ${smalloc_VERSION} accepted for find_package(smalloc 1.0)")
endif()
find_package(smalloc 0.2 CONFIG REQUIRED)
message(STATUS "smalloc ${smalloc_VERSION} found for 0.2, refused for 1.0")
CMAKE
"$CMAKE" -S "$W/app-v" -B "$W/app-v/build" -DCMAKE_PREFIX_PATH="$PREFIX" > "$W/log-v" 2>&1 \
    || { cat "$W/log-v"; die "the version check failed"; }
say "$(grep -o 'smalloc [0-9.]* found for 0.2, refused for 1.0' "$W/log-v")"
say OK
