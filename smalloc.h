/* smalloc.h - v0.2.0 - RPC stub memory management as a fast, safe arena allocator.
   Public domain or MIT, your choice: see the end of this file.

   Do this in exactly one C file of your program:

       #define SMALLOC_IMPLEMENTATION
       #include "smalloc.h"

   and include "smalloc.h" plainly everywhere else. The implementation needs C99 (or C++) and
   stb_ds.h beside smalloc.h or on the include path (Debian: libstb-dev, which it finds by
   itself; `pkg-config --cflags stb`); it compiles the part of stb_ds it uses privately. Build
   with -pthread on POSIX systems.

CONTENTS
   1. What it is                                  8. Client allocator pair
   2. Options                                     9. The raising family (RpcSs*)
   3. Environments                               10. Statuses
   4. Strings, zeroed blocks, printf             11. Threads
   5. Cleanups and child environments            12. Costs
   6. Debugging: sites, leak reports, poisoning, describe    13. Revision history
   7. Thread-implicit allocation (RpcSm*) and thread handles

1. WHAT IT IS
   An *environment* (sm_env) is an arena: allocations are cheap bumps of a pointer inside chunks
   obtained from a backing allocator, and everything is given back at once when the environment is
   destroyed or reset. Freeing a block only *marks* it free (RpcSmFree), except that freeing the
   block allocated last moves the bump back, so scoped temporaries cost nothing. Marking free is
   checked exactly: a pointer that is not the start of a live block of the environment gets
   SM_INVALID_ARG and changes nothing.
   Like Microsoft RPC's stub memory package, a thread may have a *current* environment
   (sm_enable_allocate ... sm_disable_allocate) that sm_allocate uses, and other threads may share
   it through its thread handle (sm_get_thread_handle / sm_set_thread_handle).

   RpcSmEnableAllocate      sm_enable_allocate        RpcSmGetThreadHandle      sm_get_thread_handle
   RpcSmDisableAllocate     sm_disable_allocate       RpcSmSetThreadHandle      sm_set_thread_handle
   RpcSmAllocate            sm_allocate               RpcSmSetClientAllocFree   sm_set_client_alloc_free
   RpcSmFree                sm_free                   RpcSmSwapClientAllocFree  sm_swap_client_alloc_free
   RpcSmClientFree          sm_client_free            RpcSs*                    sm_ss_*

2. OPTIONS (define before including the header)
   SMALLOC_IMPLEMENTATION          compile the implementation into this file.
   SMALLOC_STB_DS_IMPLEMENTATION   not needed (accepted, for programs written for 0.2.0): the
                                   implementation compiles the part of stb_ds it uses itself,
                                   with internal linkage, and exports no stbds_* symbol. A file
                                   that compiles stb_ds (STB_DS_IMPLEMENTATION) before it includes
                                   the implementation lends that one to smalloc instead.
   SMALLOC_STATIC                  give every function internal linkage (static); for programs
                                   that include the implementation privately in one file.
   SMALLOC_DEF                     the linkage of the public functions (default: extern, or static
                                   with SMALLOC_STATIC); define it for dll export or visibility.
   SMALLOC_ASSERT(x)               checks the library's own invariants (default: assert(x)).
                                   Never used for anything a caller can get wrong: that is a status.
   SMALLOC_NO_THREADS              build without threads: no locks, atomics or thread-local storage;
                                   "the calling thread" is the whole program.
   SMALLOC_C11_THREADS             use C11 <threads.h> instead of POSIX threads (non-Windows).
                                   Windows uses Win32 threads (SRW locks, fiber-local storage).
                                   Threads need the GCC/Clang atomic builtins (gcc, clang,
                                   mingw-w64); other compilers build with SMALLOC_NO_THREADS.
   SMALLOC_DEFAULT_CHUNK_SIZE      the first chunk's size when sm_config.chunk_size is 0 (8192);
                                   sizes below 4096 (a page) are raised to 4096.
   SMALLOC_CACHE_SIZE              the bytes the process-wide cache of released memory keeps
                                   however small the environments released lately (default
                                   64 MiB; 0 turns the cache off). See COSTS.
   SMALLOC_TLS_DYNAMIC             use the compiler's default thread-local storage model. Without
                                   it, gcc and clang on ELF targets use initial-exec (local-exec
                                   when compiling for an executable), so that a shared library's
                                   fast path reads its thread state directly; a library loaded
                                   with dlopen then takes about 250 bytes of the static TLS that
                                   glibc reserves for that. A program that defines it defines it
                                   in every file: in those without the implementation it turns
                                   the inline fast path off, which reads that state with
                                   initial-exec too.
   SMALLOC_NO_INLINE               call sm_env_allocate and sm_allocate in this file instead of
                                   taking their inline fast path (see COSTS).
   SMALLOC_DEBUG                   check the library's invariants with SMALLOC_ASSERT: the functions
                                   that need an environment's lock assert that the calling thread
                                   holds it, and each time the lock is let go every chunk of the
                                   environment is checked (no start or freed bit at or above its
                                   top, every freed bit on a block's start or on padding, site
                                   records in address order) and every SM_RECYCLE list the thread
                                   can see (each entry a marked-free block of the environment).
                                   Costs O(chunks) per locked call; for testing smalloc itself.
   SMALLOC_VALGRIND                SM_POISON tells Valgrind Memcheck which memory is released
                                   (needs <valgrind/memcheck.h>: Debian's valgrind package).
   SMALLOC_REALLOC(p, n), SMALLOC_FREE(p)
                                   the allocator of smalloc's bookkeeping (the stb_ds containers and
                                   the table of thread handles; default realloc and free). Used for
                                   stb_ds too, unless the file compiles stb_ds itself beforehand.
   Version: SMALLOC_VERSION_MAJOR, _MINOR, _PATCH, SMALLOC_VERSION (MAJOR*10000 + MINOR*100 +
   PATCH) and SMALLOC_VERSION_STRING.
   Where they matter: SMALLOC_STATIC and SMALLOC_DEF change the declarations, so every file that
   includes smalloc.h for the same implementation must define them alike. All the others matter
   only in the file that defines SMALLOC_IMPLEMENTATION: the other files may define them or not,
   except that SMALLOC_NO_INLINE and SMALLOC_TLS_DYNAMIC turn the inline fast path off in each
   file that defines them.

3. ENVIRONMENTS
   sm_env_create(config, &status)   a new environment; config NULL means all defaults. Calls the
       backing allocator once (for the environment itself). SM_INVALID_ARG for a config with
       exactly one of alloc/free NULL, an unknown flag or a report function without SM_TRACK;
       SM_OUT_OF_MEMORY when memory runs out. Flags (sm_config.flags, any combination):
         SM_TRACK    records each block's allocation site and requested size (section 4);
         SM_POISON   released memory becomes inaccessible (section 4);
         SM_RECYCLE  later allocations reuse marked-free blocks, so that a long-lived
                     environment with allocate/free churn stays bounded in memory.
       An environment with flags does not take the inline fast path of allocation: each of its
       allocations is a function call more (see COSTS); environments without are unaffected.
   sm_env_destroy(env)              releases every block and the environment, after destroying
       its children and running its cleanups (section 5); threads still attached get
       SM_INVALID_HANDLE from then on. NULL: SM_INVALID_ARG. An environment that
       sm_enable_allocate made (sm_current_env returns it) may be destroyed by the thread that
       enabled it, as its disable would when it is current; another thread gets SM_INVALID_ARG,
       nothing changed (in a child process, the forking thread may destroy every environment).
   sm_env_reset(env)                destroys the children and runs the cleanups (section 5), then
       releases every block but keeps the normal chunks for the next
       allocations, so an environment reused per request stops calling the backing allocator
       for them once it has grown to its largest request. Blocks large enough for a chunk of
       their own (see COSTS) go back at reset and are obtained again each time.
   sm_env_allocate(env, size, &status), sm_env_allocate_aligned(env, size, alignment, &status)
       a block of at least size bytes (0 gives a unique block), aligned to alignof(max_align_t)
       or to alignment (a power of two, else SM_INVALID_ARG). NULL with SM_OUT_OF_MEMORY when the
       size overflows or the backing allocator fails; the environment is then unchanged.
   sm_env_free(env, node)           marks node free. NULL: SM_OK. Anything but the start of a
       live block of env (double free, interior pointer, another environment's block, malloc's
       memory): SM_INVALID_ARG, nothing changed. The memory is reused only after reset/destroy,
       except that freeing the last block allocated (by this thread) reclaims it, together with
       the marked-free blocks right before it (not with SM_RECYCLE, whose marked-free blocks
       wait on lists for reuse). With SM_RECYCLE a block on a list is still refused as a double
       free; once reused, its address names the new block. A freed block with a chunk of its own
       goes back to the backing allocator at once with SM_RECYCLE.
   sm_env_reallocate(env, node, old_size, new_size, &status)   grows or shrinks node. Shrinking
       stays in place; so does growing the last block of the calling thread's chunk while the
       chunk has room, or growing within the block's usable size. Otherwise a new block is
       allocated, old_size bytes (new_size if fewer) are copied and node is marked free (a node
       with a chunk of its own gives that chunk back at once, so a large block grown by steps
       holds memory in proportion to its final size); with
       SM_TRACK the new block keeps node's site. node NULL allocates new_size bytes. A node
       that is not a live block of env, or an old_size larger than its usable size:
       NULL + SM_INVALID_ARG, nothing changed. SM_OUT_OF_MEMORY: node is untouched.
   sm_env_stats(env, &stats)        live and marked-free blocks and bytes, bytes held from the
       backing allocator (now and peak, the environment itself and its cursors included) and
       the number of chunks.
       Block bytes are usable sizes (rounded to the alignment granule). Exact while no other
       thread allocates or marks free in env; a snapshot otherwise. It counts under env's lock,
       which allocations that fit and mark-frees do not take, a word of bitmap per 64 granules
       plus the blocks marked free, but a chunk that no thread bumps any more only when one of
       its blocks changed since the last call: on an environment where little changes, a call
       costs about the size of the threads' current chunks (on 200,000 blocks, a third of them
       marked free: 4.9 million instructions the first time, 0.3 million after).
   sm_env_handle(env)               the thread handle of env, for sm_set_thread_handle.
   The backing allocator (sm_config.alloc/free/context) is called for chunks, for the
   environment and for one small cursor per thread that allocates in it; free receives the size
   that alloc was asked for. Its memory may have any alignment (a pool allocator's 8 bytes, even
   1): smalloc asks for a granule more where it needs one and aligns what it places there.

4. STRINGS, ZEROED BLOCKS, PRINTF
   Ordinary blocks of the environment (mark-free, describe and reports treat them as any other;
   the allocation site recorded is NULL and 0). For each: env NULL gives SM_INVALID_ARG.
   sm_env_allocate_zeroed(env, count, size, &status)   calloc in env: count * size bytes, all
       zero. A product that overflows: NULL + SM_OUT_OF_MEMORY, no backing allocator call.
   sm_env_strdup(env, s, &status), sm_env_strndup(env, s, n, &status)   a copy of the string s
       (at most n characters of it), always terminated. s NULL: SM_INVALID_ARG.
   sm_env_memdup(env, p, n, &status)   a copy of n bytes at p. p NULL with n > 0: SM_INVALID_ARG.
   sm_env_printf(env, &status, format, ...), sm_env_vprintf(env, &status, format, args)
       formats into one block of exactly the length needed plus the terminating 0. format NULL,
       or a format the C library cannot convert (vsnprintf fails): SM_INVALID_ARG. The compiler
       checks the arguments against the format where it can (gcc and clang).
   sm_current_env(&status)          the calling thread's current environment, owned or attached,
       so that every sm_env_* call works on it: NULL + SM_NO_ENVIRONMENT without one, NULL +
       SM_INVALID_HANDLE when the thread is attached to a destroyed one.
   sm_status_message(status)        the status explained in one English sentence; never NULL.

5. CLEANUPS AND CHILD ENVIRONMENTS (APR's cleanups and subpools, talloc's hierarchy)
   sm_env_add_cleanup(env, fn, data)   fn(data) will run when env releases its memory: at
       destroy (also the owner's disable and thread exit) and at reset, last added first, before
       any block is released, with no lock of smalloc held, so it may read the environment's
       blocks, allocate in env and add cleanups (they run too, before the release), and call
       smalloc on other environments. It must not destroy or reset env itself. Registering
       needs memory: SM_OUT_OF_MEMORY leaves the list unchanged. env or fn NULL:
       SM_INVALID_ARG. Several threads may add cleanups to one environment at once.
   sm_env_remove_cleanup(env, fn, data)   takes back the most recently added registration of
       exactly that pair; none: SM_INVALID_ARG. After a reset the list is empty.
   sm_env_create_child(parent, config, &status)   an environment that belongs to parent:
       destroying or resetting parent first destroys each of its children, last created first
       (grandchildren before children, each with its cleanups and its SM_TRACK report), then runs
       parent's cleanups. config NULL copies parent's configuration (backing allocator, context,
       chunk size, flags, report). A child has its own handle, blocks and figures (parent's do
       not include it); destroying it before its parent is allowed, and parent forgets it. A
       handle of a child destroyed with its parent is stale. parent NULL: SM_INVALID_ARG.
       Children of one parent may be created and destroyed from several threads at once.

6. DEBUGGING: SITES, LEAK REPORTS, POISONING, DESCRIBE
   sm_allocate_at, sm_env_allocate_at, and the macros SM_ALLOCATE, SM_ENV_ALLOCATE that pass
   __FILE__ and __LINE__ (PALLOCMEM's file and line): when the allocation needs new memory, the
   backing allocator receives that site (otherwise NULL and 0). With SM_TRACK the environment
   also keeps it with the block (the strings are not copied: pass literals); plain calls are
   recorded with NULL and 0.
   sm_env_report(env, fn, user)     with SM_TRACK, calls fn(user, file, line, blocks, bytes) once
       per site with the blocks still live there and their bytes as requested, in order of file
       and line: the leak report. Marked-free blocks are not counted. fn may call smalloc, even
       on env. SM_INVALID_ARG without SM_TRACK; SM_OUT_OF_MEMORY if the records could not be
       gathered. If sm_config.report is set, destroying the environment (sm_env_destroy, the
       owner's disable, thread exit) first reports what is still live to it the same way (one
       call per block if memory to group them runs out).
       Recording a site needs memory now and then (smalloc's bookkeeping allocator): when that
       fails, the allocation fails with SM_OUT_OF_MEMORY; it never succeeds untracked.
   SM_POISON   a block marked free, everything a reset releases and the part of each chunk not
       handed out yet become inaccessible: under AddressSanitizer (detected from the compiler)
       through its manual poisoning, under Valgrind with SMALLOC_VALGRIND through client
       requests; otherwise they are filled with 0xDD. A block is made accessible for the size
       asked when it is handed out, so reading past its end is caught too. Memory in the chunk
       cache is hidden from both tools whatever the flags.
   sm_env_describe(env, ptr, &info)   the block of env that contains ptr (anywhere inside it):
       its start, usable size, whether it is live or marked free, and with SM_TRACK its site.
       SM_INVALID_ARG for a pointer env does not own, alignment padding, or a block whose
       memory has been reclaimed (rolled back, reset).

7. THREAD-IMPLICIT ALLOCATION (RpcSm*) AND THREAD HANDLES
   sm_enable_allocate(), sm_enable_allocate_with(config)   creates an environment owned by the
       calling thread and makes it current; the previous current one (if any) comes back at the
       matching disable. Statuses as sm_env_create.
   sm_disable_allocate()            destroys the current environment, which the calling thread
       must own (else SM_INVALID_ARG, nothing changed); SM_NO_ENVIRONMENT without one.
   sm_allocate, sm_allocate_aligned, sm_free, sm_reallocate   as the sm_env_ twins, on the
       current environment; without one: NULL + SM_NO_ENVIRONMENT / SM_NO_ENVIRONMENT
       (sm_free(NULL) is SM_OK).
   A thread that exits still owning environments has them destroyed.
   sm_get_thread_handle(&status)    the current environment's handle; NULL + SM_OK without one.
   sm_set_thread_handle(h)          makes h's environment current for the calling thread without
       taking ownership; NULL detaches. A stale handle (its environment destroyed, even long ago
       and its memory reused) gives SM_INVALID_HANDLE and changes nothing. A thread still attached
       to a destroyed environment gets SM_INVALID_HANDLE from every call that uses the current
       environment (sm_allocate*, sm_free of a block, sm_get_thread_handle, sm_disable_allocate,
       the default client pair) until it attaches elsewhere, detaches or enables.
   Handles are checked by generation, not by address: a handle is a slot of the handle table and
   the slot's generation when its environment was created. A slot is retired for good before its
   generation could wrap (after 2^40 environments on 64-bit targets, 2^16 on 32-bit ones), so a
   stale handle is never mistaken for a live one. The price on 32-bit targets: a process can
   create about 4 billion environments in all (65,280 slots of 65,535), after which creating
   one fails with SM_OUT_OF_MEMORY. The table's pages (a few words per environment
   alive at once) stay allocated for the life of the process, so that a thread still attached to
   a destroyed environment reads memory that is still there.

8. CLIENT ALLOCATOR PAIR
   sm_set_client_alloc_free(alloc, free), sm_swap_client_alloc_free(alloc, free, &old_a, &old_f)
       set the calling thread's pair (NULL functions: SM_INVALID_ARG); swap returns the pair in
       force before, the default pair's functions when none was set.
   sm_client_allocate(size), sm_client_free(ptr)   call the thread's pair. The default pair
       allocates from the current environment when there is one, else with malloc (size 0 gives
       1 byte) and free; sm_client_free returns the mark-free status (SM_OK otherwise).

9. THE RAISING FAMILY (RpcSs*)
   sm_ss_* behave as their sm_ twins but call the raise handler instead of returning a status
   other than SM_OK. sm_set_raise_handler(handler) installs a process-wide handler and returns
   the previous one (NULL for the default, which prints to stderr and aborts); NULL restores the
   default. A handler may longjmp; if it returns, the library aborts.

10. STATUSES
   SM_OK (0), SM_INVALID_HANDLE (6), SM_OUT_OF_MEMORY (14), SM_INVALID_ARG (87), the values of
   RPC_S_OK, ERROR_INVALID_HANDLE, RPC_S_OUT_OF_MEMORY and RPC_S_INVALID_ARG; and
   SM_NO_ENVIRONMENT (1765), smalloc's own. sm_status_string names them, sm_status_message
   explains them. Every sm_status *status parameter may be NULL.

11. THREADS
   Every function may be called from any thread. Several threads may allocate and mark free in
   one environment at once, explicitly or attached through its handle: each thread bumps its own
   cursor, so allocation takes no lock. sm_env_destroy, sm_env_reset and the owner's disable must
   not run while another thread is inside a call on the same environment. A pointer into the
   blocks of another environment gets SM_INVALID_ARG from mark-free, describe and reallocate,
   even while another thread resets or destroys that environment: the lookup reads nothing of
   another environment's chunks.
   Thread exit is noticed through a POSIX thread-specific key, a C11 tss_t or a Win32 fiber-local
   storage slot (with fibers, that of the fiber that first allocated or enabled). No such hook runs when the
   whole process exits (exit() or a return from main): disable what the main thread enabled
   before that.
   A thread that allocates has a small record, its identity, freed after it exits. Its cursor
   in an environment stays there when it exits: the next thread that needs a cursor there takes
   it over, with its chunk and its SM_RECYCLE lists, and a thread whose own lists run dry takes
   the lists of threads that have exited. An environment shared by a pool whose threads come
   and go therefore holds about as many cursors as threads run at once.
   fork (POSIX threads): a child process may go on using every environment it inherited
   (allocate, mark free, reset, destroy), from the thread that called fork, even if other
   threads were inside smalloc at that moment: pthread_atfork handlers, installed with the
   first environment, take smalloc's locks around the fork. Without fork (Windows) there is
   nothing to do; with SMALLOC_C11_THREADS there are no fork hooks, so fork only while no other
   thread is inside smalloc.
   Callbacks: the backing allocator (alloc and free), report functions and cleanups run with no
   lock of smalloc held, so they may block (wait for threads that use the same environment) and
   call smalloc. A backing allocator may read the figures of the environment it serves, and use
   any other environment; it must not allocate in, mark free in, reset or destroy the one it
   serves, and it must return (report failure with NULL, never by longjmp or a C++ exception).
   It may enable, disable or attach the calling thread: an sm_allocate under way still ends in
   the environment it began in, and the thread's next calls serve the one current then. At the
   owner's disable and at thread exit the environment is no longer current when its cleanups and
   report run (the one before it is): sm_allocate there serves that one, sm_disable_allocate
   disables that one, and sm_enable_allocate enables a new one, current once the disable
   returns; the environment being released is still there for sm_env_* calls until they all
   return. None of them may call fork.
   Unloading: a shared library that embeds smalloc privately (SMALLOC_STATIC) may be unloaded
   (dlclose, FreeLibrary) once its environments are destroyed: built with gcc or clang (mingw
   on Windows), it deletes its thread-exit key as it goes, so threads that exit later do not
   call into it. The records of other threads that used it (a few dozen bytes each) stay.
   Signals: no smalloc function is async-signal-safe.

12. COSTS
   sm_env_allocate, sm_allocate: a bump in the calling thread's cursor; no lock, hash lookup or
   system call unless a new chunk is needed. Chunks double from chunk_size up to 256 times it
   (at most 64 MiB, unless chunk_size itself is larger); a request larger than a quarter of the
   next chunk gets a chunk of its own and does not make later chunks larger. Each block costs
   its size rounded up to the granule (alignof(max_align_t)) plus two bits of bitmap.
   With gcc or clang on 64-bit x86 and Arm ELF targets (Linux, the BSDs), sm_env_allocate and
   sm_allocate are also macros whose common case runs inline in the caller: for an environment
   without flags whose calling thread's cursor has room, a compare with a thread-local word,
   the fit test, the start bit and the new top (about 25 instructions, none a call); anything
   else calls the function. The macros read the first fields of the environment, of the
   cursor and of a handle slot, and the exported thread-local sm__fast_tls (initial-exec), so
   all files of a program must include the same smalloc.h. (sm_env_allocate)(...), or a pointer
   to the function, always calls it; SMALLOC_NO_INLINE makes a whole file call it.
   The first thread that allocates in an environment uses a cursor kept inside it: its fast
   path compares one word. Other threads remember their cursor in the last four environments
   they used by name (direct-mapped on the handle), and in an environment without flags their
   sm_env_allocate and sm_env_free take the same bump and mark-free in the function; one that
   alternates between more environments may take the lock when it switches. The fields that
   every thread reads come first in an environment, on another cache line than the first
   thread's cursor, which changes at each of its allocations.
   sm_free: O(1) and without a lock, whichever thread allocated the block and whichever chunk
   holds it: a process-wide page map leads from any address to its chunk. A block of the
   calling thread's current chunk costs a bitmap test and a locked bit set (a few dozen
   instructions with the call), and about twice that when it is the chunk's last block and the
   bump moves back; one elsewhere, the page map's three loads more (about a hundred), except
   that a thread remembers the chunk of its last such mark-free, and the next one in there
   skips the page map (about sixty: a collector's sweep, a request's temporaries). Blocks
   with a chunk of their own, and every block of an SM_TRACK environment, are marked free under
   the environment's lock. Rolling the bump back takes no lock: it waits for the mark-frees of
   other threads in progress in that chunk, so that a double free racing with it is refused
   cleanly; a chunk whose thread has moved on to another is never rolled back, and mark-frees
   there skip that handshake. The page map costs 48 bytes (24 on 32-bit targets) per 4 KiB page
   that chunks have occupied, in nodes from SMALLOC_REALLOC kept for the life of the process
   (leaves of 192 KiB and inner nodes of 32 KiB; leaves of 96 KiB on 32-bit targets).
   Destroy and reset: proportional to the number of chunks.
   Create and destroy in steady state: a thread keeps the last four environments it destroyed
   (those using malloc, SMALLOC_CACHE_SIZE > 0) with up to 256 KiB of their chunks (single
   chunks too, reused for the next large blocks), their lock and their handle slot, and the
   next sm_env_create or sm_enable_allocate of that thread takes one without a lock or a malloc
   call, its first cursor still on its chunk (one made with the defaults is not configured
   again, and one whose blocks fit its first chunk is released without a walk of its lists: a
   small request's create, allocation and destroy take about 190 instructions, enable,
   allocation and disable about 250); its handles
   are new, the old ones stale, and its figures (sm_env_stats: chunks, backing_bytes) start
   with the chunks it kept. sm_cache_trim and thread exit give them back.
   Environments with flags: an allocation is a call, a cache lookup and the bump; SM_TRACK adds
   a record (its array grows under the lock), SM_POISON the poisoning. SM_RECYCLE first looks
   at the list of the block's size class: one class per granule count up to 32 granules, each
   taken whole; above, one per power of two, where up to eight blocks are looked at for one
   long enough before the first of the next class. When an exact class is empty, a block two to
   five granules longer is cut to size and its rest stays marked free on its own list. With
   SM_RECYCLE alone, the first thread's allocations and mark-frees go straight to the lists:
   a mark-free of one of its blocks in a chunk it has moved on from is the page map (skipped
   for the chunk of its last such mark-free), the bitmaps (to find where the block ends) and a
   list push. Mark-free takes no
   lock with SM_POISON and SM_RECYCLE (a block another thread allocated goes on that thread's
   remote list, which it takes back when its own lists run dry), but does with SM_TRACK;
   rolling back takes it with SM_RECYCLE. Recycled memory is not merged with its neighbours:
   a long-lived environment whose sizes drift holds more than malloc would.
   The chunk cache: environments whose backing allocator is malloc (config NULL, or alloc and
   free NULL) give their chunks, cursors and themselves to a process-wide cache when they are
   destroyed or reset chunks go back, and the next ones take from it (a lock taken once per
   chunk, not per allocation): a server creating an environment per request reaches a state
   with no malloc calls and no fresh pages. The cache keeps SMALLOC_CACHE_SIZE bytes (64 MiB),
   or the bytes of the largest environment released lately if that is more, so that a big
   environment made again and again stays warm too: that figure follows each larger release at
   once and loses an eighth at each smaller one, so it falls back after a few dozen releases
   of smaller environments, and the cache gives back what is above it as releases come.
   A chunk remembers the thread that bumped it last, and of the smallest chunks that fit, a
   thread takes its own if there is one: threads whose environments are made again and again
   then write over memory their own processors' caches may still hold, not over another's
   (two threads doing so at once ran three times slower each than one alone without it).
   At most 256 pieces are kept. sm_cache_limit(bytes) bounds the whole at run time (0 turns the
   cache off), and sm_cache_trim(keep) gives the rest back to free and returns how many bytes it
   gave. Environments with their own backing allocator never use the cache.
   Bookkeeping failures: stb_ds does not check realloc. smalloc grows its containers before it
   changes anything, and a failed growth in its own copy of stb_ds returns to smalloc, which
   reports SM_OUT_OF_MEMORY with nothing changed. When the file compiles stb_ds itself before
   smalloc's implementation (and smalloc uses that copy), its STBDS_REALLOC decides what a
   failure does.

13. REVISION HISTORY
   next   (on main since 0.2.0; the version macros still say 0.2.0) zeroed, string and printf
          allocation, cleanups and child environments, sm_current_env, sm_status_message,
          sm_cache_limit; an O(1) page map and mark-free without a lock; released environments
          reused per thread; callbacks run with no lock held; fork handlers; unloading;
          backing memory of any alignment; threads that exit leave their cursors to others;
          SMALLOC_DEBUG; SM_RECYCLE looks further into its larger classes and cuts larger
          blocks to size; the inline fast path of sm_env_allocate and sm_allocate
          (SMALLOC_NO_INLINE); SM_RECYCLE's first thread goes straight to its lists;
          sm_env_destroy of an environment the calling thread enabled takes it off the
          thread's list (thread exit destroyed whatever took its memory next), and another
          thread's is refused; a mark-free outside the thread's chunk remembers that chunk for
          the next; reuse of a released environment without calls; two threads marking the
          same large block free no longer read its chunk after it went back; SM_RECYCLE's
          first thread marks free and reallocates in fewer steps; a thread takes from the
          chunk cache the chunks it used last.
   0.2.0  SM_TRACK with sm_env_report and report at destroy, SM_POISON (ASan, Valgrind,
          pattern), SM_RECYCLE, sm_env_describe, sm_env_reallocate and sm_reallocate, the
          process-wide chunk cache and sm_cache_trim.
   0.1.0  first release: environments, mark-free, thread handles, client pair, RpcSs family.
*/
#ifndef SMALLOC_H_INCLUDED
#define SMALLOC_H_INCLUDED

#include <stdarg.h>
#include <stddef.h>

#define SMALLOC_VERSION_MAJOR  0
#define SMALLOC_VERSION_MINOR  2
#define SMALLOC_VERSION_PATCH  0
#define SMALLOC_VERSION        (SMALLOC_VERSION_MAJOR * 10000 + SMALLOC_VERSION_MINOR * 100 + SMALLOC_VERSION_PATCH)
#define SMALLOC_VERSION_STRING "0.2.0"

#ifndef SMALLOC_DEF
#ifdef SMALLOC_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define SMALLOC_DEF static __attribute__((unused))   /* a file may use only some functions */
#else
#define SMALLOC_DEF static
#endif
#else
#define SMALLOC_DEF extern
#endif
#endif

/* The compiler checks sm_env_printf's arguments against its format (mingw-w64: against the
   printf its C library uses). */
#if defined(__GNUC__) || defined(__clang__)
#ifdef __MINGW_PRINTF_FORMAT
#define SMALLOC__PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#else
#define SMALLOC__PRINTF(f, a) __attribute__((format(printf, f, a)))
#endif
#else
#define SMALLOC__PRINTF(f, a)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The result of every call that can fail. The numbers are those of the Windows codes. */
typedef enum sm_status {
    SM_OK             = 0,    /* RPC_S_OK */
    SM_INVALID_HANDLE = 6,    /* ERROR_INVALID_HANDLE: stale or destroyed environment */
    SM_OUT_OF_MEMORY  = 14,   /* RPC_S_OUT_OF_MEMORY */
    SM_INVALID_ARG    = 87,   /* RPC_S_INVALID_ARG */
    SM_NO_ENVIRONMENT = 1765  /* the calling thread has no current environment */
} sm_status;

/* The name of a status ("SM_OK", ...); never NULL, "SM_UNKNOWN_STATUS" for other values. */
SMALLOC_DEF const char *sm_status_string(sm_status status);
/* The status explained in one English sentence; never NULL. */
SMALLOC_DEF const char *sm_status_message(sm_status status);

typedef struct sm_env sm_env;
typedef struct sm_handle_ *sm_thread_handle;

/* Backing allocator: file and line name the allocation site that needed the memory, or are
   NULL and 0; they are not kept after the call. free receives the size given to alloc. */
typedef void *sm_backing_alloc_fn(void *context, size_t size, const char *file, int line);
typedef void  sm_backing_free_fn(void *context, void *ptr, size_t size);
typedef void  sm_report_fn(void *user, const char *file, int line, size_t blocks, size_t bytes);

enum { SM_TRACK = 1, SM_POISON = 2, SM_RECYCLE = 4 };

typedef struct sm_config {
    size_t               chunk_size;   /* first chunk; 0: SMALLOC_DEFAULT_CHUNK_SIZE */
    sm_backing_alloc_fn *alloc;        /* both NULL: malloc and free */
    sm_backing_free_fn  *free;
    void                *context;      /* passed to alloc and free */
    unsigned             flags;        /* SM_TRACK | SM_POISON | SM_RECYCLE, or 0 */
    sm_report_fn        *report;       /* SM_TRACK: called per site still live at destroy */
    void                *report_user;  /* passed to report */
} sm_config;

typedef struct sm_stats {
    size_t live_bytes;     /* blocks allocated and not marked free: usable bytes */
    size_t live_blocks;
    size_t freed_bytes;    /* blocks marked free, not yet reclaimed */
    size_t freed_blocks;
    size_t backing_bytes;  /* held from the backing allocator now */
    size_t backing_peak;   /* the most ever held at once */
    size_t chunks;         /* chunks held, spare and single-block ones included */
} sm_stats;

/* Creates an environment (config NULL: defaults). NULL on failure, with the reason in *status. */
SMALLOC_DEF sm_env *sm_env_create(const sm_config *config, sm_status *status);
/* Releases every block and the environment itself. */
SMALLOC_DEF sm_status sm_env_destroy(sm_env *env);
/* Releases every block; keeps the normal chunks for later allocations. */
SMALLOC_DEF sm_status sm_env_reset(sm_env *env);
/* A block of at least size bytes aligned to alignof(max_align_t); NULL on failure. */
SMALLOC_DEF void *sm_env_allocate(sm_env *env, size_t size, sm_status *status);
/* The same with a power-of-two alignment. */
SMALLOC_DEF void *sm_env_allocate_aligned(sm_env *env, size_t size, size_t alignment, sm_status *status);
/* sm_env_allocate that passes its caller's site to the backing allocator. */
SMALLOC_DEF void *sm_env_allocate_at(sm_env *env, size_t size, sm_status *status, const char *file, int line);
/* Marks a block free (exactly checked); NULL is a no-op. */
SMALLOC_DEF sm_status sm_env_free(sm_env *env, void *node);
/* Fills *stats with the environment's figures. */
SMALLOC_DEF sm_status sm_env_stats(const sm_env *env, sm_stats *stats);
/* The handle other threads attach to env with. NULL for env NULL. */
SMALLOC_DEF sm_thread_handle sm_env_handle(sm_env *env);
/* Leak report of an SM_TRACK environment: fn once per site still live; SM_INVALID_ARG for others. */
SMALLOC_DEF sm_status sm_env_report(const sm_env *env, sm_report_fn *fn, void *user);

/* What sm_env_describe knows about the block that contains a pointer. */
typedef struct sm_block_info {
    void       *start;     /* the block's first byte */
    size_t      size;      /* its usable size */
    int         live;      /* 1: allocated, 0: marked free */
    const char *file;      /* its allocation site with SM_TRACK, else NULL */
    int         line;
} sm_block_info;
/* Describes the block of env that contains ptr (anywhere inside it); SM_INVALID_ARG if none does. */
SMALLOC_DEF sm_status sm_env_describe(const sm_env *env, const void *ptr, sm_block_info *info);

/* Grows or shrinks a block (in place when it can), else moves it: allocates, copies old_size
   bytes and marks the old block free. node NULL allocates. NULL on failure, node untouched. */
SMALLOC_DEF void *sm_env_reallocate(sm_env *env, void *node, size_t old_size, size_t new_size, sm_status *status);
SMALLOC_DEF void *sm_reallocate(void *node, size_t old_size, size_t new_size, sm_status *status);

/* calloc in env: count * size zeroed bytes; SM_OUT_OF_MEMORY when the product overflows. */
SMALLOC_DEF void *sm_env_allocate_zeroed(sm_env *env, size_t count, size_t size, sm_status *status);
/* Copies of a string, of at most n characters of it (always terminated), of n bytes. */
SMALLOC_DEF char *sm_env_strdup(sm_env *env, const char *s, sm_status *status);
SMALLOC_DEF char *sm_env_strndup(sm_env *env, const char *s, size_t n, sm_status *status);
SMALLOC_DEF void *sm_env_memdup(sm_env *env, const void *p, size_t n, sm_status *status);
/* printf into a block of env of exactly the length needed (+1 for the terminating 0). */
SMALLOC_DEF char *sm_env_printf(sm_env *env, sm_status *status, const char *format, ...) SMALLOC__PRINTF(3, 4);
SMALLOC_DEF char *sm_env_vprintf(sm_env *env, sm_status *status, const char *format, va_list args)
    SMALLOC__PRINTF(3, 0);

/* A cleanup: run with its data when the environment releases its memory (destroy, reset). */
typedef void sm_cleanup_fn(void *data);
/* Adds fn(data) to env's cleanups (run last added first); SM_OUT_OF_MEMORY leaves them unchanged. */
SMALLOC_DEF sm_status sm_env_add_cleanup(sm_env *env, sm_cleanup_fn *fn, void *data);
/* Takes back the most recent registration of exactly fn and data; SM_INVALID_ARG if none. */
SMALLOC_DEF sm_status sm_env_remove_cleanup(sm_env *env, sm_cleanup_fn *fn, void *data);
/* An environment destroyed with parent (and when parent is reset); config NULL: parent's. */
SMALLOC_DEF sm_env *sm_env_create_child(sm_env *parent, const sm_config *config, sm_status *status);

/* Gives the process-wide cache of released chunks back to malloc until it holds at most
   keep bytes; returns the bytes given back. */
SMALLOC_DEF size_t sm_cache_trim(size_t keep);
/* Sets the most bytes the cache may ever hold (SIZE_MAX: no limit but its policy, the default;
   0: keep nothing) and gives back what is above it; returns the limit it replaces. */
SMALLOC_DEF size_t sm_cache_limit(size_t bytes);

/* RpcSmEnableAllocate: a new environment owned by the calling thread becomes current. */
SMALLOC_DEF sm_status sm_enable_allocate(void);
SMALLOC_DEF sm_status sm_enable_allocate_with(const sm_config *config);
/* RpcSmDisableAllocate: destroys the current environment; the previous one becomes current. */
SMALLOC_DEF sm_status sm_disable_allocate(void);
/* RpcSmAllocate: a block from the current environment. */
SMALLOC_DEF void *sm_allocate(size_t size, sm_status *status);
SMALLOC_DEF void *sm_allocate_aligned(size_t size, size_t alignment, sm_status *status);
SMALLOC_DEF void *sm_allocate_at(size_t size, sm_status *status, const char *file, int line);
/* RpcSmFree: marks a block of the current environment free. */
SMALLOC_DEF sm_status sm_free(void *node);

#define SM_ALLOCATE(size, status)          sm_allocate_at((size), (status), __FILE__, __LINE__)
#define SM_ENV_ALLOCATE(env, size, status) sm_env_allocate_at((env), (size), (status), __FILE__, __LINE__)

/* RpcSmGetThreadHandle: the current environment's handle, NULL (and SM_OK) without one. */
SMALLOC_DEF sm_thread_handle sm_get_thread_handle(sm_status *status);
/* RpcSmSetThreadHandle: attach to h's environment without owning it; NULL detaches. */
SMALLOC_DEF sm_status sm_set_thread_handle(sm_thread_handle h);
/* The calling thread's current environment (owned or attached), for the sm_env_* calls. */
SMALLOC_DEF sm_env *sm_current_env(sm_status *status);

typedef void *sm_client_alloc_fn(size_t size);
typedef void  sm_client_free_fn(void *ptr);
/* RpcSmSetClientAllocFree: the calling thread's client pair. */
SMALLOC_DEF sm_status sm_set_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free);
/* RpcSmSwapClientAllocFree: sets the pair and returns the one in force before. */
SMALLOC_DEF sm_status sm_swap_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free,
                                                sm_client_alloc_fn **old_alloc, sm_client_free_fn **old_free);
/* Allocates with the calling thread's client pair (what a client stub calls). */
SMALLOC_DEF void *sm_client_allocate(size_t size);
/* RpcSmClientFree: frees with the calling thread's client pair. */
SMALLOC_DEF sm_status sm_client_free(void *ptr);

/* The raising family: a status other than SM_OK calls the raise handler, which must not return. */
typedef void sm_raise_fn(sm_status status, const char *function);
SMALLOC_DEF sm_raise_fn *sm_set_raise_handler(sm_raise_fn *handler);
SMALLOC_DEF void  sm_ss_enable_allocate(void);
SMALLOC_DEF void  sm_ss_disable_allocate(void);
SMALLOC_DEF void *sm_ss_allocate(size_t size);
SMALLOC_DEF void  sm_ss_free(void *node);
SMALLOC_DEF sm_thread_handle sm_ss_get_thread_handle(void);
SMALLOC_DEF void  sm_ss_set_thread_handle(sm_thread_handle h);
SMALLOC_DEF void  sm_ss_set_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free);
SMALLOC_DEF void  sm_ss_swap_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free,
                                               sm_client_alloc_fn **old_alloc, sm_client_free_fn **old_free);

/* Private from here on: the calling thread's state that the allocation fast paths read. */
struct sm__cursor;
struct sm__slot;
struct sm__thread;
/* What a thread has attached: the environment and the generation its slot had then. */
typedef struct sm__attach {
    struct sm__slot *slot;        /* NULL: no current environment */
    size_t gen;
    sm_env *env;
} sm__attach;
typedef struct sm__fast_state {
    struct sm__cursor *fast;      /* its cursor in the current environment for sm_allocate, one
                                     without room if that has flags, NULL if none yet */
    sm__attach current;           /* the current environment */
    struct sm__thread *thread;    /* its identity, as cursors record it; NULL before it has one */
} sm__fast_state;

/* The inline fast path (COSTS): gcc and clang on 64-bit x86 and Arm ELF targets. There,
   sm_env_allocate and sm_allocate are also macros, which bump the calling thread's own cursor
   in the caller when it has room and call the functions otherwise. */
#if !defined(SMALLOC_NO_INLINE) && !defined(SMALLOC_STATIC) && !defined(SMALLOC_TLS_DYNAMIC) && \
    (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__) && (defined(__x86_64__) || defined(__aarch64__)) && \
    ((defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L) || defined(__cplusplus))
#define SM__INLINE_FAST_PATH 1
#define SM__SOLO_AT 12
extern __thread sm__fast_state sm__fast_tls __attribute__((tls_model("initial-exec")));

/* The implementation's fit test and bump (SM__FITS, sm__bump) on the first words of a cursor:
   top, end, base and the start bitmap (it checks that layout, and that a granule is 16 bytes
   here). clang-tidy does not see the cursor written through __atomic_store_n. */
#define SM__FITS_INLINE(cursor, top, size) \
    __builtin_expect((size) - 1 < (size_t)((cursor)[1] - (top)), 1)
static __inline__ void *sm__bump_inline(__UINTPTR_TYPE__ *cursor, /* NOLINT(readability-non-const-parameter) */
                                        __UINTPTR_TYPE__ top, size_t size, sm_status *status)
{
    size_t granule = (size_t)(top - cursor[2]) / 16;
    size_t *word = *(size_t **)(void *)&cursor[3] + granule / (sizeof(size_t) * 8);
    if (!top)   /* a cursor with room is on a chunk: the caller's test of the result goes */
        __builtin_unreachable();
    size_t bits = __atomic_load_n(word, __ATOMIC_RELAXED) | (size_t)1 << granule % (sizeof(size_t) * 8);
    __atomic_store_n(word, bits, __ATOMIC_RELAXED);
    __atomic_store_n(&cursor[0], top + ((size + 15) & ~(size_t)15), __ATOMIC_RELEASE);
    if (status)
        *status = SM_OK;
    return (void *)top;
}

/* An environment starts with the thread that may use its first cursor without a check (none
   while it has flags); that cursor is SM__SOLO_AT words in. */
static __inline__ void *sm__env_allocate_inline(sm_env *env, size_t size, sm_status *status)
{
    if (__builtin_expect(env != NULL, 1) &&
        __atomic_load_n((const void *const *)(const void *)env, __ATOMIC_RELAXED) ==
            (const void *)sm__fast_tls.thread) {
        __UINTPTR_TYPE__ *cursor = (__UINTPTR_TYPE__ *)(void *)((const void **)(void *)env + SM__SOLO_AT);
        __UINTPTR_TYPE__ top = __atomic_load_n(&cursor[0], __ATOMIC_RELAXED);
        if (SM__FITS_INLINE(cursor, top, size))
            return sm__bump_inline(cursor, top, size, status);
    }
    return (sm_env_allocate)(env, size, status);
}

/* A slot starts with its generation, which destroy changes. */
static __inline__ void *sm__allocate_inline(size_t size, sm_status *status)
{
    __UINTPTR_TYPE__ *cursor = (__UINTPTR_TYPE__ *)(void *)sm__fast_tls.fast;
    if (__builtin_expect(cursor != NULL, 1) &&
        __atomic_load_n((const size_t *)(const void *)sm__fast_tls.current.slot, __ATOMIC_ACQUIRE) ==
            sm__fast_tls.current.gen) {
        __UINTPTR_TYPE__ top = __atomic_load_n(&cursor[0], __ATOMIC_RELAXED);
        if (SM__FITS_INLINE(cursor, top, size))
            return sm__bump_inline(cursor, top, size, status);
    }
    return (sm_allocate)(size, status);
}

#define sm_env_allocate(env, size, status) sm__env_allocate_inline((env), (size), (status))
#define sm_allocate(size, status)          sm__allocate_inline((size), (status))
#endif

#ifdef __cplusplus
}
#endif
#endif /* SMALLOC_H_INCLUDED */

/* ======================================================================================== */
/*                                     IMPLEMENTATION                                       */
/* ======================================================================================== */
#if defined(SMALLOC_IMPLEMENTATION) && !defined(SMALLOC_IMPLEMENTATION_INCLUDED)
#define SMALLOC_IMPLEMENTATION_INCLUDED

/* HOW IT WORKS

   Chunks. An environment obtains chunks from its backing allocator: normal chunks, which
   double in size as a thread fills them, and single chunks that hold one large block. A
   normal chunk starts with its header and two bitmaps with one bit per granule (16 bytes on
   the usual targets) of its payload: `starts` marks where each block begins and `freed` which
   of them are marked free. Mark-free is exact because of them: a pointer is a live block iff it
   lies below the chunk's top, on a set start bit, with a clear freed bit.

   Cursors. Each thread that allocates in an environment bumps its own cursor (top, end) in a
   chunk of its own, so allocation takes no lock. The first such thread uses the cursor kept
   inside the environment (`solo`), found by comparing one word; others keep theirs in a small
   per-thread cache keyed by the environment's handle. Allocating is: the fit test, the start
   bit, the new top (sm_env_allocate, sm_allocate); the declarations repeat these few lines on
   the first words of the environment and cursor, to run them inline in the caller, and the
   layout they read is checked where the structures are defined. A cursor names its thread by
   the thread's record, which lives until the thread has exited and no cursor names it; a
   thread that needs a cursor first takes over one whose thread has exited, with its chunk and
   its lists.

   The page map. Every chunk enters each 4 KiB page its memory touches in a process-wide radix
   tree, two entries a page (the chunk that covers the page's start, one that starts inside it),
   so backing memory of any alignment can be looked up. Each entry also names the chunk's
   environment: sm_env_free of any pointer finds its chunk there in O(1), without a lock, and
   never reads a chunk of another environment, which that environment's threads may be giving
   back at the same moment. An entry of a chunk with one block says so, and such a chunk is
   read only under the lock: a racing mark-free of its block may give it back.

   Mark-free. A block of the calling thread's own chunk: set its freed bit; if it was the last
   block, move the top back over it (rollback; without SM_RECYCLE also over the marked-free
   blocks below). A block of a chunk another thread bumps: announce the free in the chunk's
   in-flight count, check the top and the start bit, set the freed bit, retract. A rollback
   clears start bits first, then waits for the count to reach zero before it clears freed bits,
   so the two never leave a stale bit behind. A chunk whose cursor has moved on is `retired`:
   nothing rolls it back until a reset, so a mark-free there only checks and sets. Only SM_TRACK
   and blocks with a chunk of their own take the environment's lock. Each cursor remembers the
   normal chunk of its thread's last mark-free outside its own (freed_in), which the next one
   checks before the page map: normal chunks stay until a reset, which forgets them.

   Stats. sm_env_stats counts blocks from the bitmaps, a word at a time. A retired chunk keeps
   its figures from the last count until a mark-free, reuse or cut there clears its census_ok,
   so a call mostly counts the chunks the threads are bumping. There are no running counters:
   each mark-free outside its thread's chunk would have to find its block's length for them,
   and each chunk be counted as its cursor moves on (measured: twice the instructions of such
   a mark-free, and 8 more per allocation while unmarshalling).

   Recycling (SM_RECYCLE). A marked-free block goes on a list of its size class, kept by the
   cursor that bumped its chunk (another thread's free goes on that cursor's remote list, taken
   over when its own lists run dry). An allocation takes a block of its class, or cuts one of a
   slightly larger class, before it bumps; the rest of a cut block is marked free in turn. The
   first thread's calls with SM_RECYCLE alone go straight to these lists (sm__recycle_allocate,
   sm__recycle_free).

   Locks. The environment's lock guards its chunk list, cursor list, spares, figures and
   recycling lists: taken for a new chunk or cursor, stats, reports and describe, never for
   an allocation that fits, and let go while the backing allocator runs. Process-wide locks
   guard the handle table and the chunk cache.

   Handles. An environment holds a slot of a process-wide table; its handle is the slot's index
   and generation, the generation mixed with a per-process key. Destroy advances the
   generation, so every handle to it is stale at once, and the table's pages are never freed,
   so a stale handle is recognised without reading released memory.

   Reuse. Reset keeps the normal chunks as spares. Destroy parks an environment that uses
   malloc, with its spares, lock and slot, in the calling thread's cache, where the next create
   finds it (the first thread's cursor still on its emptied chunk); other memory goes to the
   process-wide chunk cache. */

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SMALLOC_ASSERT
#include <assert.h>
#define SMALLOC_ASSERT(x) assert(x)
#endif
#ifndef SMALLOC_DEFAULT_CHUNK_SIZE
#define SMALLOC_DEFAULT_CHUNK_SIZE 8192
#endif
#ifndef SMALLOC_CACHE_SIZE
#define SMALLOC_CACHE_SIZE ((size_t)64 << 20)
#endif
#if defined(SMALLOC_REALLOC) != defined(SMALLOC_FREE)
#error "smalloc: define both SMALLOC_REALLOC and SMALLOC_FREE, or neither"
#endif
#ifndef SMALLOC_REALLOC
#define SMALLOC_REALLOC(p, n) realloc((p), (n))
#define SMALLOC_FREE(p)       free(p)
#endif

/* stb_ds holds the bookkeeping: stb_ds.h (v0.67 tested; Debian's libstb-dev), found beside
   smalloc.h, on the include path or as <stb/stb_ds.h>. smalloc compiles the part it uses here,
   under names of its own (sm__stbds_*) with internal linkage, so a program never compiles
   stb_ds for smalloc, and smalloc exports no stbds_* symbol (two libraries that embed it with
   SMALLOC_STATIC link together). Its growth goes through sm__stbds_realloc, which turns a
   failure into a jump back to the smalloc call that asked for room (sm__reserve), so nothing
   has changed yet when SM_OUT_OF_MEMORY is returned. A file that compiles stb_ds's own
   implementation (STB_DS_IMPLEMENTATION) before this one shares it with smalloc instead.
   When smalloc is the first to include stb_ds.h, stb_ds's short names (arrlen, ...) stay out of
   the file; and the warnings the file turns on are not raised inside stb_ds.h, whose code is
   not ours to change. */
#if defined(__has_include)
#if __has_include("stb_ds.h")
#define SMALLOC__STB_DS_H "stb_ds.h"
#elif __has_include(<stb/stb_ds.h>)
#define SMALLOC__STB_DS_H <stb/stb_ds.h>
#else
#error "smalloc.h needs stb_ds.h: install Debian's libstb-dev, or put stb_ds.h from https://github.com/nothings/stb (v0.67 tested) beside smalloc.h or in a directory given with -I. Nothing to define: smalloc compiles the part of stb_ds it uses."
/* The compiler stops at this #include. The "./" is for gcc before 13, which stays silent about a
   file that __has_include has looked for in vain. */
#define SMALLOC__STB_DS_H "./stb_ds.h"
#endif
#else
#define SMALLOC__STB_DS_H "stb_ds.h"
#endif

#if defined(STB_DS_IMPLEMENTATION)
/* The file's own stb_ds implementation, with its names and its STBDS_REALLOC. */
#undef SMALLOC_STB_DS_IMPLEMENTATION
#else
#ifndef SMALLOC_STB_DS_IMPLEMENTATION
#define SMALLOC_STB_DS_IMPLEMENTATION
#endif
#define SMALLOC__STB_DS_PRIVATE
/* stb_ds's external names, made smalloc's own. */
#define stbds_rand_seed     sm__stbds_rand_seed
#define stbds_hash_bytes    sm__stbds_hash_bytes
#define stbds_hash_string   sm__stbds_hash_string
#define stbds_stralloc      sm__stbds_stralloc
#define stbds_strreset      sm__stbds_strreset
#define stbds_arrgrowf      sm__stbds_arrgrowf
#define stbds_arrfreef      sm__stbds_arrfreef
#define stbds_hmfree_func   sm__stbds_hmfree_func
#define stbds_hmget_key     sm__stbds_hmget_key
#define stbds_hmget_key_ts  sm__stbds_hmget_key_ts
#define stbds_hmput_default sm__stbds_hmput_default
#define stbds_hmput_key     sm__stbds_hmput_key
#define stbds_hmdel_key     sm__stbds_hmdel_key
#define stbds_shmode_func   sm__stbds_shmode_func
#endif
#ifndef INCLUDE_STB_DS_H
#ifndef STBDS_NO_SHORT_NAMES
#define STBDS_NO_SHORT_NAMES
#define SMALLOC__STBDS_SHORT_NAMES_OFF
#endif
#endif

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Weverything"
#elif defined(__GNUC__) && __GNUC__ * 100 + __GNUC_MINOR__ >= 406
/* gcc has no switch for every warning: these are the ones a strict build may turn on, and
   -Wpragmas keeps quiet about those this gcc, or this language, does not know. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wundef"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wfloat-conversion"
#pragma GCC diagnostic ignored "-Warith-conversion"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-macros"
#pragma GCC diagnostic ignored "-Wredundant-decls"
#pragma GCC diagnostic ignored "-Wmissing-declarations"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wold-style-definition"
#pragma GCC diagnostic ignored "-Wold-style-declaration"
#pragma GCC diagnostic ignored "-Wc++-compat"
#pragma GCC diagnostic ignored "-Wbad-function-cast"
#pragma GCC diagnostic ignored "-Wdeclaration-after-statement"
#pragma GCC diagnostic ignored "-Wjump-misses-init"
#pragma GCC diagnostic ignored "-Wnested-externs"
#pragma GCC diagnostic ignored "-Wtraditional"
#pragma GCC diagnostic ignored "-Wtraditional-conversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wfloat-equal"
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wclobbered"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wswitch-default"
#pragma GCC diagnostic ignored "-Wswitch-enum"
#pragma GCC diagnostic ignored "-Wlogical-op"
#pragma GCC diagnostic ignored "-Wduplicated-branches"
#pragma GCC diagnostic ignored "-Wduplicated-cond"
#pragma GCC diagnostic ignored "-Wstrict-overflow"
#pragma GCC diagnostic ignored "-Wpadded"
#pragma GCC diagnostic ignored "-Wvla"
#pragma GCC diagnostic ignored "-Wwrite-strings"
#pragma GCC diagnostic ignored "-Wpointer-arith"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wuseless-cast"
#pragma GCC diagnostic ignored "-Wzero-as-null-pointer-constant"
#pragma GCC diagnostic ignored "-Wextra-semi"
#pragma GCC diagnostic ignored "-Wsuggest-attribute=pure"
#pragma GCC diagnostic ignored "-Wsuggest-attribute=const"
#pragma GCC diagnostic ignored "-Wsuggest-attribute=malloc"
#pragma GCC diagnostic ignored "-Wstack-protector"
#pragma GCC diagnostic ignored "-Winline"
#elif defined(_MSC_VER)
#pragma warning(push, 0)
#endif

#ifdef SMALLOC__STB_DS_PRIVATE
/* Declared static before stb_ds.h declares them extern, so that they keep internal linkage. */
#ifdef __cplusplus
extern "C" {
#endif
struct stbds_string_arena;
static void   stbds_rand_seed(size_t seed);
static size_t stbds_hash_bytes(void *p, size_t len, size_t seed);
static size_t stbds_hash_string(char *str, size_t seed);
static char  *stbds_stralloc(struct stbds_string_arena *a, char *str);
static void   stbds_strreset(struct stbds_string_arena *a);
/* A call, not inlined: sm__reserve calls it under setjmp, and nothing of it may live in that frame. */
#if defined(__GNUC__)
__attribute__((noinline))
#elif defined(_MSC_VER)
__declspec(noinline)
#endif
static void  *stbds_arrgrowf(void *a, size_t elemsize, size_t addlen, size_t min_cap);
static void   stbds_arrfreef(void *a);
static void   stbds_hmfree_func(void *a, size_t elemsize);
static void  *stbds_hmget_key(void *a, size_t elemsize, void *key, size_t keysize, int mode);
static void  *stbds_hmget_key_ts(void *a, size_t elemsize, void *key, size_t keysize, ptrdiff_t *temp,
                                 int mode);
static void  *stbds_hmput_default(void *a, size_t elemsize);
static void  *stbds_hmput_key(void *a, size_t elemsize, void *key, size_t keysize, int mode);
static void  *stbds_hmdel_key(void *a, size_t elemsize, void *key, size_t keysize, size_t keyoffset,
                              int mode);
static void  *stbds_shmode_func(size_t elemsize, int mode);
#ifdef __cplusplus
}
#endif
static void *sm__stbds_realloc(void *p, size_t n);
#undef STBDS_REALLOC
#undef STBDS_FREE
#define STBDS_REALLOC(context, p, n) ((void)(context), sm__stbds_realloc((p), (n)))
#define STBDS_FREE(context, p)       ((void)(context), SMALLOC_FREE(p))
#define STB_DS_IMPLEMENTATION
#include SMALLOC__STB_DS_H
#undef STB_DS_IMPLEMENTATION
#undef SMALLOC__STB_DS_PRIVATE
#elif !defined(INCLUDE_STB_DS_H)
#include SMALLOC__STB_DS_H
#endif

#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__) && __GNUC__ * 100 + __GNUC_MINOR__ >= 406
#pragma GCC diagnostic pop
#elif defined(_MSC_VER)
#pragma warning(pop)
#endif
#ifdef SMALLOC__STBDS_SHORT_NAMES_OFF
#undef STBDS_NO_SHORT_NAMES
#undef SMALLOC__STBDS_SHORT_NAMES_OFF
#endif

/* ---------------------------------------------------------------------------------------- */
/* Platform layer: alignment, bit scans, atomics, locks, thread-local storage, thread exit. */
/* ---------------------------------------------------------------------------------------- */

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define SM__MAX_ALIGN _Alignof(max_align_t)
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define SM__MAX_ALIGN alignof(max_align_t)
#else
/* C99 has no max_align_t: take the strictest of the usual scalar types. */
/* cppcheck-suppress unusedStructMember ; the members exist for their alignment only */
struct sm__align_probe { char c; union { long double ld; long long ll; double d; void *p; void (*f)(void); } u; };
#define SM__MAX_ALIGN offsetof(struct sm__align_probe, u)
#endif
/* Every block starts on a granule and is a whole number of granules long. */
#define SM__GRAIN     ((size_t)(SM__MAX_ALIGN < 8 ? 8 : SM__MAX_ALIGN))
#define SM__WBITS     (sizeof(size_t) * CHAR_BIT)
#define SM__NONE      ((size_t)-1)

#if defined(__GNUC__) || defined(__clang__)
#define SM__LIKELY(x)   __builtin_expect(!!(x), 1)
#define SM__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SM__NOINLINE    __attribute__((noinline))
#define SM__INLINE      __inline__ __attribute__((always_inline))
#else
#define SM__LIKELY(x)   (x)
#define SM__UNLIKELY(x) (x)
#define SM__NOINLINE
#define SM__INLINE
#endif

static unsigned sm__popcount(size_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_popcountll((unsigned long long)x);
#else
    unsigned n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
#endif
}

static unsigned sm__ctz(size_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned)__builtin_ctzll((unsigned long long)x);
#else
    unsigned n = 0;
    while (!(x & 1)) { x >>= 1; n++; }
    return n;
#endif
}

static unsigned sm__msb(size_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return 63u - (unsigned)__builtin_clzll((unsigned long long)x);
#else
    unsigned n = 0;
    while (x >>= 1) n++;
    return n;
#endif
}

/* Relaxed loads and stores cost what plain ones do on the common targets; they make the
   cursor and bitmap words readable by other threads (stats, mark-free) without data races. */
#if defined(SMALLOC_NO_THREADS)
#define SM__LOAD(p)         (*(p))
#define SM__LOAD_ACQ(p)     (*(p))
#define SM__STORE(p, v)     (*(p) = (v))
#define SM__STORE_REL(p, v) (*(p) = (v))
#define SM__LOAD_SC(p)      (*(p))
#define SM__STORE_SC(p, v)  (*(p) = (v))
static size_t sm__fetch_or(size_t *p, size_t v)  { size_t o = *p; *p = o | v; return o; }
static size_t sm__fetch_and(size_t *p, size_t v) { size_t o = *p; *p = o & v; return o; }
#define SM__EXCHANGE(p, v)  sm__exchange_fn((p), (v))
#define SM__FETCH_ADD(p, v) (*(p) += (v))
#define SM__CAS(p, expected, desired) (*(p) == (expected) ? (*(p) = (desired), 1) : 0)
#define SM__FENCE_ACQ()     ((void)0)
#define SM__FENCE_REL()     ((void)0)
#define SM__FENCE_SC()      ((void)0)
#define sm__fetch_or_sc     sm__fetch_or
#define sm__fetch_and_sc    sm__fetch_and
#define sm__relax()         ((void)0)
#elif defined(__GNUC__) || defined(__clang__)
#define SM__LOAD(p)         __atomic_load_n((p), __ATOMIC_RELAXED)
#define SM__LOAD_ACQ(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define SM__STORE(p, v)     __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define SM__STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define SM__LOAD_SC(p)      __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define SM__STORE_SC(p, v)  __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define sm__fetch_or(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_RELAXED)
#define sm__fetch_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_RELAXED)
#define SM__EXCHANGE(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define SM__FETCH_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define SM__FENCE_ACQ()     __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define SM__FENCE_REL()     __atomic_thread_fence(__ATOMIC_RELEASE)
#define SM__FENCE_SC()      __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* the same instructions as the relaxed ones on x86-64; ordered before a later SC load elsewhere */
#define sm__fetch_or_sc(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define sm__fetch_and_sc(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
/* desired is stored only if *p still holds expected: a page-map node installed by one thread */
#define SM__CAS(p, expected, desired) \
    sm__cas_ptr((void **)(void *)(p), (void *)(expected), (void *)(desired))
static int sm__cas_ptr(void **p, void *expected, void *desired)
{
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#if defined(__x86_64__) || defined(__i386__)
#define sm__relax() __builtin_ia32_pause()
#else
#define sm__relax() ((void)0)
#endif
#else
#error "smalloc: atomics need GCC or Clang builtins; define SMALLOC_NO_THREADS for other compilers"
#endif

/* Takes a whole list (SM_RECYCLE's remote lists), leaving it empty. */
#if defined(SMALLOC_NO_THREADS)
static void *sm__take_list(void **head) { void *p = *head; *head = NULL; return p; }
#else
static void *sm__take_list(void **head) { return __atomic_exchange_n(head, (void *)NULL, __ATOMIC_ACQ_REL); }
#endif

#if defined(SMALLOC_NO_THREADS)
#define SM__TLS
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define SM__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define SM__TLS _Thread_local
#else
#define SM__TLS __thread
#endif
/* The initial-exec model keeps the thread-local state one instruction away in a shared library
   too (the general-dynamic default calls __tls_get_addr on every access). Such a library takes
   its few hundred bytes from the static TLS reserve that glibc keeps for dlopen; define
   SMALLOC_TLS_DYNAMIC to use the default model instead. Code for an executable (-fPIE, or no
   -fPIC) uses local-exec, whose offset is a constant in the instruction. */
#if !defined(SMALLOC_NO_THREADS) && !defined(SMALLOC_TLS_DYNAMIC) && defined(__ELF__) && \
    (defined(__GNUC__) || defined(__clang__)) && (defined(__PIE__) || !defined(__PIC__))
#define SM__TLS_MODEL __attribute__((tls_model("local-exec")))
#elif !defined(SMALLOC_NO_THREADS) && !defined(SMALLOC_TLS_DYNAMIC) && defined(__ELF__) && \
    (defined(__GNUC__) || defined(__clang__))
#define SM__TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define SM__TLS_MODEL
#endif

#if defined(SMALLOC_NO_THREADS)
typedef int sm__mutex;
#define SM__MUTEX_INIT 0
static int  sm__mutex_init(sm__mutex *m)    { *m = 0; return 1; }
/* NOLINTBEGIN(readability-non-const-parameter): the signatures of the real locks below */
static void sm__mutex_destroy(sm__mutex *m) { (void)m; }
static void sm__lock(sm__mutex *m)          { (void)m; }
static void sm__unlock(sm__mutex *m)        { (void)m; }
/* NOLINTEND(readability-non-const-parameter) */
static void sm__yield(void)                 { }
#elif defined(_WIN32)
/* without the rarely used parts, and without the min and max macros, which break C++ code
   (std::min) of a file that includes smalloc.h first */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#define SM__UNDEF_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#define SM__UNDEF_NOMINMAX
#endif
#include <windows.h>
#ifdef SM__UNDEF_LEAN_AND_MEAN
#undef WIN32_LEAN_AND_MEAN
#undef SM__UNDEF_LEAN_AND_MEAN
#endif
#ifdef SM__UNDEF_NOMINMAX
#undef NOMINMAX
#undef SM__UNDEF_NOMINMAX
#endif
typedef SRWLOCK sm__mutex;
#define SM__MUTEX_INIT SRWLOCK_INIT
static int  sm__mutex_init(sm__mutex *m)    { InitializeSRWLock(m); return 1; }
static void sm__mutex_destroy(sm__mutex *m) { (void)m; }
static void sm__lock(sm__mutex *m)          { AcquireSRWLockExclusive(m); }
static void sm__unlock(sm__mutex *m)        { ReleaseSRWLockExclusive(m); }
static void sm__yield(void)                 { (void)SwitchToThread(); }
#elif defined(SMALLOC_C11_THREADS)
#include <threads.h>
typedef mtx_t sm__mutex;
static int  sm__mutex_init(sm__mutex *m)    { return mtx_init(m, mtx_plain) == thrd_success; }
static void sm__mutex_destroy(sm__mutex *m) { mtx_destroy(m); }
static void sm__lock(sm__mutex *m)          { (void)mtx_lock(m); }
static void sm__unlock(sm__mutex *m)        { (void)mtx_unlock(m); }
static void sm__yield(void)                 { thrd_yield(); }
#else
#include <pthread.h>
#include <sched.h>
typedef pthread_mutex_t sm__mutex;
#define SM__MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static int  sm__mutex_init(sm__mutex *m)    { return pthread_mutex_init(m, NULL) == 0; }
static void sm__mutex_destroy(sm__mutex *m) { pthread_mutex_destroy(m); }
static void sm__lock(sm__mutex *m)          { pthread_mutex_lock(m); }
static void sm__unlock(sm__mutex *m)        { pthread_mutex_unlock(m); }
static void sm__yield(void)                 { (void)sched_yield(); }
#endif

/* Thread exit: a thread-specific key whose destructor, sm__key_exit, receives the exiting
   thread's record (sm__exit_hook). On Windows a fiber-local storage slot, whose callback also
   runs when a fiber is deleted. */
#if !defined(SMALLOC_NO_THREADS)
static void sm__key_exit(void *rec);
#if defined(_WIN32)
typedef DWORD sm__key_t;
static VOID WINAPI sm__fls_exit(PVOID rec) { sm__key_exit(rec); }
static int sm__key_create(sm__key_t *k)      { return (*k = FlsAlloc(sm__fls_exit)) != FLS_OUT_OF_INDEXES; }
static int sm__key_set(sm__key_t k, void *v) { return FlsSetValue(k, v) != 0; }
static void sm__key_delete(sm__key_t k)      { (void)FlsFree(k); }
#elif defined(SMALLOC_C11_THREADS)
typedef tss_t sm__key_t;
static int sm__key_create(sm__key_t *k)      { return tss_create(k, sm__key_exit) == thrd_success; }
static int sm__key_set(sm__key_t k, void *v) { return tss_set(k, v) == thrd_success; }
static void sm__key_delete(sm__key_t k)      { tss_delete(k); }
#else
typedef pthread_key_t sm__key_t;
static int sm__key_create(sm__key_t *k)      { return pthread_key_create(k, sm__key_exit) == 0; }
static int sm__key_set(sm__key_t k, void *v) { return pthread_setspecific(k, v) == 0; }
static void sm__key_delete(sm__key_t k)      { (void)pthread_key_delete(k); }
#endif
#endif

/* Memory nobody may touch: released blocks (SM_POISON) and the chunk cache. AddressSanitizer
   and Valgrind (with SMALLOC_VALGRIND) are told; SM_POISON without either fills with a pattern. */
#if defined(__SANITIZE_ADDRESS__)
#define SM__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SM__ASAN 1
#endif
#endif
#ifdef SM__ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef SMALLOC_VALGRIND
#include <valgrind/memcheck.h>
#endif
#define SM__POISON_BYTE 0xDD
/* Whether a tool is told which memory may be touched: hiding and showing cost nothing else. */
#if defined(SM__ASAN) || defined(SMALLOC_VALGRIND)
#define SM__TOOLS 1
#else
#define SM__TOOLS 0
#endif

/* hide: inaccessible; show: accessible, contents undefined; reveal: accessible, contents kept
   as defined (what smalloc itself wrote there). */
enum { SM__HIDE, SM__SHOW, SM__REVEAL };
static void sm__mark(const void *p, size_t n, int how)
{
    (void)p; (void)n; (void)how;
#ifdef SM__ASAN
    if (how == SM__HIDE)
        ASAN_POISON_MEMORY_REGION(p, n);
    else
        ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#ifdef SMALLOC_VALGRIND
    if (how == SM__HIDE)
        (void)VALGRIND_MAKE_MEM_NOACCESS(p, n);
    else if (how == SM__SHOW)
        (void)VALGRIND_MAKE_MEM_UNDEFINED(p, n);
    else
        (void)VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
}
static void sm__hide(const void *p, size_t n)   { sm__mark(p, n, SM__HIDE); }
static void sm__show(const void *p, size_t n)   { sm__mark(p, n, SM__SHOW); }
static void sm__reveal(const void *p, size_t n) { sm__mark(p, n, SM__REVEAL); }

static void sm__poison(void *p, size_t n)
{
#if defined(SM__ASAN) || defined(SMALLOC_VALGRIND)
    sm__hide(p, n);
#else
    memset(p, SM__POISON_BYTE, n);
#endif
}

/* ---------------------------------------------------------------------------------------- */
/* Data structures                                                                          */
/* ---------------------------------------------------------------------------------------- */

/* A chunk: memory from the backing allocator. A normal chunk holds many blocks and two
   bitmaps with one bit per granule of its payload: `starts` marks where a block begins
   (written only by the thread bumping the chunk) and `freed` which of them are marked free
   (atomic read-modify-write, any thread). A single chunk holds one block and no bitmaps. */
/* SM_TRACK: where a block was allocated, and the size asked for. */
typedef struct sm__site {
    size_t at;                    /* the block's first granule in its chunk */
    size_t size;
    const char *file;
    int line;
} sm__site;

typedef struct sm__chunk {
    sm_env *env;                  /* the environment it belongs to (checked by mark-free) */
    unsigned char *base;          /* what the backing allocator returned, */
    size_t size;                  /* and its size, as passed back to the backing free */
    uintptr_t mapped;             /* the end of the pages it has entered in the page map */
    unsigned char *payload;       /* first granule (the block, for a single chunk) */
    unsigned char *limit;         /* end of the payload */
    uintptr_t used;               /* end of the last block once no cursor bumps here */
    struct sm__cursor *cursor;    /* the cursor bumping here, or NULL */
    struct sm__cursor *owner;     /* the cursor that bumped it last (SM_RECYCLE: its lists) */
    size_t *starts, *freed;       /* nwords words each; NULL for a single chunk */
    size_t nwords;
    size_t at;                    /* index in env->chunks */
    size_t inflight;              /* mark-frees by other threads in progress here (atomic) */
    size_t rolling;               /* SM_POISON: odd while a rollback is halfway (atomic) */
    int retired;                  /* its cursor has moved on: until reset, nothing rolls it back
                                     and nobody bumps it (atomic) */
    int census_ok;                /* retired: `census` holds its figures; cleared by any change of
                                     its bitmaps (atomic, see sm__census_stale) */
    size_t census[4];             /* live blocks and bytes, marked-free blocks and bytes; lock */
    int single_freed;
    unsigned bumped_by;           /* SM__TAG of the thread that bumped it last (chunk cache) */
    sm__site *sites;              /* SM_TRACK, normal chunk: stb_ds array in address order, */
    size_t nsites;                /* nsites of them in use; the bumping thread appends */
    sm__site site;                /* SM_TRACK, single chunk: its block */
    struct sm__chunk *next_out;   /* taken out under the lock, to give back once it is let go */
} sm__chunk;

/* Each thread that allocates in an environment bumps its own cursor, so allocation needs no
   lock; `top` is atomic because sm_env_stats reads it from other threads. */
typedef struct sm__cursor {
    uintptr_t top, end, base;     /* bump range in the current chunk; 0 without one */
    size_t *starts, *freed;       /* the current chunk's bitmaps */
    sm__chunk *chunk;
    const void *thread;           /* the owning thread's identity: its sm__t */
    size_t next_size;             /* the size of its next normal chunk: each thread grows alone */
    sm__chunk *last_single;       /* its latest single chunk, with the bump state right after it: */
    sm__chunk *last_chunk;        /* while both are unchanged, that block is its last allocation */
    uintptr_t last_top;
    void **bins;                  /* SM_RECYCLE: the marked-free blocks it may reuse, by size, */
    void *remote;                 /* and those other threads marked free in its chunks (atomic) */
    void *raw;                    /* what the backing allocator returned for it (not solo) */
    sm__chunk *freed_in;          /* the normal chunk of its thread's latest mark-free outside its
                                     own: the next in there skips the page map (reset and
                                     destroy clear it) */
} sm__cursor;

/* A slot of the handle table. Pages of slots are never freed, so a thread attached to a
   destroyed environment can still read its slot's generation, which destroy bumps. */
typedef struct sm__slot {
    size_t gen;
    sm_env *env;                  /* the environment its handles name now, or NULL */
    sm_env *holder;               /* the environment holding the slot, even while parked */
    size_t next_free;             /* free list: index + 1, 0 at the end */
} sm__slot;

struct sm__thread;

/* Fields that every thread reads at each allocation and mark-free come first (solo_fast,
   handle, flags), then fields that change rarely, so that the solo cursor, whose top its
   thread writes at each allocation, starts SM__SOLO_AT words in, on a later cache line: other
   threads' calls do not wait for that line. The inline fast path relies on solo_fast and
   SM__SOLO_AT (checked below). */
struct sm_env {
    const void *solo_fast;        /* the thread that owns `solo`, if the fast path may use it
                                     (SM__ME_RECYCLING: SM_RECYCLE's direct path) */
    uintptr_t handle;             /* (generation << SM__IDX_BITS ^ sm__handle_key) | (slot index + 1) */
    unsigned flags;               /* SM_TRACK | SM_POISON | SM_RECYCLE */
    int cached;                   /* uses malloc, and with it the process-wide chunk cache */
    sm__slot *slot;
    struct sm__thread *owner;     /* the thread that enabled it, NULL for sm_env_create */
    sm_backing_alloc_fn *alloc;
    sm_backing_free_fn *free;
    void *context;
    size_t chunk_size, max_size;  /* a thread's first normal chunk, and the cap of their growth */
    sm_report_fn *report;
    void *report_user;
    sm__cursor solo;              /* the cursor of the first thread that allocates here */
    sm__mutex lock;               /* chunk directory, cursors, growth, figures */
    sm__chunk **chunks;           /* stb_ds array sorted by address */
    sm__chunk **spares;           /* stb_ds array: chunks kept by reset, bitmaps cleared */
    sm__cursor **cursors;         /* stb_ds array */
    size_t backing_bytes, backing_peak;
    void *self_base;              /* what the backing allocator returned for this structure, */
    size_t self_size;             /* and its size (with orphans and alignment slack) */
    void **orphans;               /* SM_RECYCLE: blocks marked free outside their thread's chunk, */
    size_t norphans;              /* and a hint that there are some (atomic) */
    size_t exits_seen;            /* sm__exits when the lists of exited threads were last taken */
    sm_env *next_spare;           /* in a thread's cache of released environments */
    struct sm__cleanup *cleanups; /* stb_ds array, run last first; under the lock */
    sm_env *parent;               /* sm_env_create_child: released with it */
    sm_env *last_child;           /* the newest child; under the lock */
    sm_env *older, *newer;        /* the siblings, in the order of creation; under parent's lock */
    sm__attach enabled_prev;      /* enabled (owner set): what was current before it, */
    sm_env *enabled_older;        /* and the owner's environment enabled before it */
#ifdef SMALLOC_DEBUG
    const void *locked_by;        /* the thread holding the lock (its sm__t), or NULL */
#endif
};

typedef struct sm__cleanup { sm_cleanup_fn *fn; void *data; } sm__cleanup;

#ifdef SM__INLINE_FAST_PATH
/* The layout the inline fast path reads (sm__bump_inline, sm__env_allocate_inline and
   sm__allocate_inline): a compile error here means they no longer match. */
typedef char sm__inline_layout_check[
    offsetof(sm_env, solo_fast) == 0 && offsetof(sm_env, solo) == SM__SOLO_AT * sizeof(void *) &&
    offsetof(sm__cursor, top) == 0 && offsetof(sm__cursor, end) == sizeof(uintptr_t) &&
    offsetof(sm__cursor, base) == 2 * sizeof(uintptr_t) && offsetof(sm__cursor, starts) == 3 * sizeof(uintptr_t) &&
    offsetof(sm__slot, gen) == 0 && SM__GRAIN == 16 ? 1 : -1];
#endif

/* The environment's lock. With SMALLOC_DEBUG it knows its holder, for SM__ASSERT_LOCKED in the
   functions that need it (named *_locked), and checks the environment's invariants each time
   it is let go (sm__check_env). */
#ifdef SMALLOC_DEBUG
static void sm__check_env(const sm_env *env);
#define SM__HOLDER ((const void *)&sm__t)
#define SM__ASSERT_LOCKED(env) SMALLOC_ASSERT(SM__LOAD(&(env)->locked_by) == SM__HOLDER)
#else
#define SM__ASSERT_LOCKED(env) ((void)(env))
#endif

/* A thread that allocates: its identity (cursors name their thread by this record) and the
   part of its state that thread exit must see. Heap-allocated, handed to the thread-exit hook,
   and freed once the thread has exited and no cursor names it any more, so that no thread
   made later has the same identity. */
typedef struct sm__thread {
    sm_env *enabled;              /* the environments it enabled, newest first (enabled_older) */
    size_t refs;                  /* the running thread, and each cursor it owns (atomic) */
    int alive;                    /* 0 once the thread has exited (atomic) */
} sm__thread;

typedef struct sm__jmp { jmp_buf buf; } sm__jmp;

/* A thread's cursors in the last environments it used by name, direct-mapped on the handle's
   low bits (its slot index), so a thread working in a few environments stays lock-free. */
#define SM__CACHE_WAYS 4u
#define SM__CACHE_WAY(handle) ((size_t)(handle) & (SM__CACHE_WAYS - 1))

/* The calling thread's state. What the allocation fast paths read is apart, in sm__fast_tls
   (declared with the public functions, for the inline fast path). An environment with flags
   must not take those paths: for it, sm__fast_tls.fast is sm__blocked, a cursor without room,
   and the real cursor is sm__t.cursor. */
typedef struct sm__tls {
    uintptr_t cache_handle[SM__CACHE_WAYS];   /* handles of environments used through sm_env_*, */
    sm__cursor *cache_cursor[SM__CACHE_WAYS]; /* and this thread's cursors there, by SM__CACHE_WAY */
    sm__cursor *cursor;           /* the real cursor in the current environment, or NULL */
    sm_client_alloc_fn *client_alloc;
    sm_client_free_fn *client_free;
    sm__jmp *oom;                 /* where a failed stb_ds growth returns to */
    sm_env *spare_envs;           /* released environments kept for the next create */
    size_t nspare_envs;
} sm__tls;

static SM__TLS sm__tls sm__t SM__TLS_MODEL;
/* Exported where the inline fast path can read it (even from a file built without it), with
   __thread: C++'s thread_local would reach an extern variable through a wrapper call. */
#if !defined(SMALLOC_STATIC) && (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
__thread sm__fast_state sm__fast_tls SM__TLS_MODEL;
#else
static SM__TLS sm__fast_state sm__fast_tls SM__TLS_MODEL;
#endif
static sm__cursor sm__blocked;    /* no chunk, no room: never written */
/* The calling thread's identity, as cursors record it: its record (NULL before it has one), and
   the owner of a cursor nobody owns. */
#define SM__ME     ((const void *)sm__fast_tls.thread)
#define SM__NOBODY ((const void *)&sm__blocked)
/* What an environment with SM_RECYCLE alone has in solo_fast when the calling thread owns its
   solo cursor: the thread's identity with its low bit set, which no thread has, so that the
   inline fast path passes it by and sm_env_allocate and sm_env_free tell it with one compare. */
#define SM__ME_RECYCLING ((const void *)((uintptr_t)sm__fast_tls.thread | 1))
/* A thread's identity as an unsigned, which fits in the padding of a chunk's header: the chunk
   cache prefers a thread's own memory by it, and two threads that share one only share that
   preference. */
#define SM__TAG(thread) ((unsigned)((uintptr_t)(thread) / sizeof(void *)))
static size_t sm__exits;          /* threads with a record that have exited so far (atomic) */
static sm__thread *sm__self(void);

static void sm__env_lock(sm_env *env)
{
    sm__lock(&env->lock);
#ifdef SMALLOC_DEBUG
    SM__STORE(&env->locked_by, SM__HOLDER);
#endif
}

static void sm__env_unlock(sm_env *env)
{
#ifdef SMALLOC_DEBUG
    SM__ASSERT_LOCKED(env);
    sm__check_env(env);
    SM__STORE(&env->locked_by, (const void *)NULL);
#endif
    sm__unlock(&env->lock);
}

/* The handle table, under sm__global. */
#define SM__PAGE_SLOTS 256u
#define SM__IDX_BITS   (sizeof(uintptr_t) >= 8 ? 24u : 16u)
#define SM__IDX_MASK   (((uintptr_t)1 << SM__IDX_BITS) - 1)
#define SM__GEN_MAX    (UINTPTR_MAX >> SM__IDX_BITS)
static sm__slot **sm__pages;
static uintptr_t sm__handle_key;  /* per process, set with the first slot */
static size_t sm__slot_count;
static size_t sm__free_slot;
static sm_raise_fn *sm__raise_handler;

/* Two process-wide locks: sm__global for the handle table, sm__cache_mutex for the chunk cache.
   They and the environments' locks are taken in one order: global, then an environment's, then
   the cache's (the fork handlers take them all so); nothing takes the global lock while it
   holds an environment's. */
#if defined(SMALLOC_C11_THREADS) && !defined(SMALLOC_NO_THREADS) && !defined(_WIN32)
static sm__mutex sm__global, sm__cache_mutex;
static once_flag sm__locks_once = ONCE_FLAG_INIT;
static void sm__locks_init(void)
{
    (void)mtx_init(&sm__global, mtx_plain);
    (void)mtx_init(&sm__cache_mutex, mtx_plain);
}
static void sm__global_lock(void) { call_once(&sm__locks_once, sm__locks_init); (void)mtx_lock(&sm__global); }
static void sm__cache_lock(void) { call_once(&sm__locks_once, sm__locks_init); (void)mtx_lock(&sm__cache_mutex); }
#else
static sm__mutex sm__global = SM__MUTEX_INIT, sm__cache_mutex = SM__MUTEX_INIT;
static void sm__global_lock(void) { sm__lock(&sm__global); }
static void sm__cache_lock(void) { sm__lock(&sm__cache_mutex); }
#endif
static void sm__global_unlock(void) { sm__unlock(&sm__global); }
static void sm__cache_unlock(void) { sm__unlock(&sm__cache_mutex); }

#if defined(SMALLOC_NO_THREADS)
static sm_raise_fn *sm__exchange_fn(sm_raise_fn **p, sm_raise_fn *v) { sm_raise_fn *o = *p; *p = v; return o; }
#endif

/* ---------------------------------------------------------------------------------------- */
/* Bookkeeping growth that can fail without harm                                            */
/* ---------------------------------------------------------------------------------------- */

#ifdef SMALLOC_STB_DS_IMPLEMENTATION
static void *sm__stbds_realloc(void *p, size_t n)
{
    void *q = SMALLOC_REALLOC(p, n);
    if (!q && n && sm__t.oom)
        longjmp(sm__t.oom->buf, 1);
    return q;
}
#endif

/* Makes room for `more` elements in the stb_ds array `arr` and stores the (maybe moved) array in
   *out. Returns 0 when memory ran out; the array is then unchanged. Every stb_ds insertion of
   smalloc is preceded by this, so no stb_ds macro ever grows an array by itself. */
static int sm__reserve(void *arr, size_t elem, size_t more, void **out)
{
    sm__jmp guard;
    sm__jmp *outer = sm__t.oom;
    *out = arr;
    if (arr && stbds_header(arr)->length + more <= stbds_header(arr)->capacity)
        return 1;
    if (setjmp(guard.buf)) {
        sm__t.oom = outer;
        return 0;
    }
    sm__t.oom = &guard;
    *out = stbds_arrgrowf(arr, elem, more, 0);
    sm__t.oom = outer;
    return 1;
}

/* stbds_arrput after sm__reserve has made room: the store alone. stbds_arrput's own growth
   (never taken after sm__reserve) assigns stbds_arrgrowf's void * to the typed array pointer
   without a cast, which C++ rejects and -Wc++-compat reports in C. */
#define SM__ARRPUT(a, v) do { \
        SMALLOC_ASSERT(stbds_arrlenu(a) < stbds_arrcap(a)); \
        (a)[stbds_header(a)->length++] = (v); \
    } while (0)

/* a + b, or 0 when it overflows: the one place where sizes are checked. */
static int sm__add(size_t a, size_t b, size_t *sum)
{
    if (a > SIZE_MAX - b)
        return 0;
    *sum = a + b;
    return 1;
}

/* size rounded up to whole granules (at least one), or 0 on overflow */
static size_t sm__round(size_t size)
{
    size_t n;
    if (!sm__add(size ? size : 1, SM__GRAIN - 1, &n))
        return 0;
    return n & ~(SM__GRAIN - 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Bitmaps                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static int sm__bit(const size_t *map, size_t i)
{
    return (int)((SM__LOAD(&map[i / SM__WBITS]) >> (i % SM__WBITS)) & 1u);
}

/* The start bits of a chunk a cursor bumps have a single writer, the cursor's thread (those of
   a retired chunk are set with sm__fetch_or_sc: sm__bin_cut_from). */
static void sm__set_start(size_t *map, size_t i)
{
    size_t *w = &map[i / SM__WBITS];
    SM__STORE(w, SM__LOAD(w) | (size_t)1 << (i % SM__WBITS));
}

/* Sequentially consistent: see sm__rollback. */
static void sm__clear_start(size_t *map, size_t i)
{
    size_t *w = &map[i / SM__WBITS];
    SM__STORE_SC(w, SM__LOAD(w) & ~((size_t)1 << (i % SM__WBITS)));
}


/* Clears bits lo..hi (inclusive) of a bitmap that other threads may update. */
/* NOLINTNEXTLINE(readability-non-const-parameter): map is written through __atomic_fetch_and */
static void sm__clear_range(size_t *map, size_t lo, size_t hi)
{
    while (lo <= hi) {
        size_t k = lo / SM__WBITS, first = lo % SM__WBITS;
        size_t last = hi / SM__WBITS == k ? hi % SM__WBITS : SM__WBITS - 1;
        size_t mask = ((((size_t)2 << last) - 1) >> first) << first;
        if (SM__LOAD(&map[k]) & mask)
            (void)sm__fetch_and(&map[k], ~mask);
        lo = (k + 1) * SM__WBITS;
    }
}

/* The first set bit in [from, to), or `to`. */
static size_t sm__next_bit(const size_t *map, size_t from, size_t to)
{
    while (from < to) {
        size_t w = SM__LOAD(&map[from / SM__WBITS]) >> (from % SM__WBITS);
        if (w) {
            size_t i = from + sm__ctz(w);
            return i < to ? i : to;
        }
        from = (from / SM__WBITS + 1) * SM__WBITS;
    }
    return to;
}

/* The last set bit in [low, before), or SM__NONE. */
static size_t sm__prev_bit(const size_t *map, size_t low, size_t before)
{
    while (before > low) {
        size_t i = before - 1, base = i / SM__WBITS * SM__WBITS;
        unsigned shift = (unsigned)(SM__WBITS - 1 - i % SM__WBITS);
        size_t w = SM__LOAD(&map[i / SM__WBITS]) << shift;
        if (w) {
            size_t at = base + sm__msb(w) - shift;
            return at >= low ? at : SM__NONE;
        }
        before = base;
    }
    return SM__NONE;
}

/* Where the block starting at granule i ends: the next block or padding, or `to`. */
static SM__INLINE size_t sm__block_end(const sm__chunk *ch, size_t i, size_t to)
{
    size_t from = i + 1;
    while (from < to) {
        size_t k = from / SM__WBITS;
        size_t w = (SM__LOAD(&ch->starts[k]) | SM__LOAD(&ch->freed[k])) >> (from % SM__WBITS);
        if (w) {
            size_t at = from + sm__ctz(w);
            return at < to ? at : to;
        }
        from = (k + 1) * SM__WBITS;
    }
    return to;
}

/* ---------------------------------------------------------------------------------------- */
/* Handle table                                                                             */
/* ---------------------------------------------------------------------------------------- */

static sm__slot *sm__slot_at(size_t i) { return &sm__pages[i / SM__PAGE_SLOTS][i % SM__PAGE_SLOTS]; }

/* Handles are unique, and each is (generation << SM__IDX_BITS | slot index + 1) with the
   generation's bits mixed with a key made once per process from the clock and where the
   process's memory lies: a stale handle never names an environment, and neither does, with
   high probability, a small integer or other garbage passed as one. */
static uintptr_t sm__key_mix(uintptr_t x)
{
    x ^= x >> 15;
    x *= (uintptr_t)0x2C1B3C6Du;
    x ^= x >> 12;
    x *= (uintptr_t)0x297A2D39u;
    return x ^ (x >> 15);
}

static uintptr_t sm__handle_of(uintptr_t gen, size_t index)
{
    return (gen << SM__IDX_BITS ^ sm__handle_key) | (uintptr_t)(index + 1);
}

/* Gives env a slot and a handle; 0 when memory or the index space ran out. Global lock held. */
static int sm__slot_acquire(sm_env *env)
{
    size_t i;
    uintptr_t gen;
    sm__slot *s;
    if (!sm__handle_key) {
        uintptr_t seed = sm__key_mix((uintptr_t)&gen ^ (uintptr_t)time(NULL));
        seed = sm__key_mix(seed ^ (uintptr_t)clock() ^ (uintptr_t)&sm__handle_key);
        sm__handle_key = (seed << SM__IDX_BITS) | ((uintptr_t)1 << SM__IDX_BITS);   /* never 0 */
    }
    if (sm__free_slot) {
        i = sm__free_slot - 1;
        s = sm__slot_at(i);
        sm__free_slot = s->next_free;
    } else {
        if (sm__slot_count == (size_t)stbds_arrlen(sm__pages) * SM__PAGE_SLOTS) {
            void *grown;
            sm__slot *page;
            if (sm__slot_count + SM__PAGE_SLOTS >= (size_t)SM__IDX_MASK)
                return 0;
            if (!sm__reserve(sm__pages, sizeof *sm__pages, 1, &grown))
                return 0;
            sm__pages = (sm__slot **)grown;
            page = (sm__slot *)SMALLOC_REALLOC(NULL, SM__PAGE_SLOTS * sizeof *page);
            if (!page)
                return 0;
            memset(page, 0, SM__PAGE_SLOTS * sizeof *page);
            SM__ARRPUT(sm__pages, page);
        }
        i = sm__slot_count++;
        s = sm__slot_at(i);
        SM__STORE_REL(&s->gen, (uintptr_t)1);   /* never 0: small integers are never handles */
    }
    gen = SM__LOAD(&s->gen);
    SM__STORE_REL(&s->env, env);
    s->holder = env;
    env->slot = s;
    env->handle = sm__handle_of(gen, i);
    return 1;
}

/* Makes every handle of env stale, without a lock: the slot is env's alone until
   sm__slot_release. */
static void sm__slot_stale(sm_env *env)
{
    sm__slot *s = env->slot;
    SM__STORE_REL(&s->gen, SM__LOAD(&s->gen) + 1);
    SM__STORE_REL(&s->env, (sm_env *)NULL);
}

/* Gives env a new handle in the slot it keeps (sm__slot_stale made the old ones stale). */
static void sm__slot_renew(sm_env *env)
{
    sm__slot *s = env->slot;
    SM__STORE_REL(&s->env, env);
    env->handle = sm__handle_of(SM__LOAD(&s->gen), (size_t)(env->handle & SM__IDX_MASK) - 1);
}

/* Returns a slot made stale to the free list; one whose generation would no longer fit a
   handle is retired for good. Global lock held. */
static void sm__slot_release(sm_env *env)
{
    sm__slot *s = env->slot;
    s->holder = NULL;
    if (SM__LOAD(&s->gen) <= SM__GEN_MAX) {
        s->next_free = sm__free_slot;
        sm__free_slot = (size_t)(env->handle & SM__IDX_MASK);
    }
}

/* The live slot a handle names, or NULL. Global lock held. */
static sm__slot *sm__slot_lookup(sm_thread_handle h)
{
    uintptr_t v = (uintptr_t)h, gen = (v ^ sm__handle_key) >> SM__IDX_BITS;
    size_t i = (size_t)(v & SM__IDX_MASK);
    sm__slot *s;
    if (!i || i > sm__slot_count)
        return NULL;
    s = sm__slot_at(i - 1);
    return SM__LOAD_ACQ(&s->gen) == gen && SM__LOAD_ACQ(&s->env) ? s : NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* fork                                                                                     */
/* ---------------------------------------------------------------------------------------- */

/* A child process may go on using the environments it inherited, from the thread that called
   fork, even if other threads were inside smalloc at that moment. Before the fork, the prepare
   handler takes every lock of smalloc in the one order (global, each environment's in the
   order of their slots, the cache's), so that no structure is halfway through a change; after
   it, the parent releases them, and so does the child, which also forgets the mark-frees that
   other threads had in progress (they never finish there, and a rollback would wait for them).
   POSIX threads only: there is no fork on Windows, and C11 threads have no fork hooks. */
#if !defined(SMALLOC_NO_THREADS) && !defined(_WIN32) && !defined(SMALLOC_C11_THREADS)
static void sm__fork_each(void (*fn)(sm_env *env))
{
    size_t i;
    for (i = 0; i < sm__slot_count; i++)
        if (sm__slot_at(i)->holder)
            fn(sm__slot_at(i)->holder);
}

static void sm__fork_lock(sm_env *env) { sm__lock(&env->lock); }
static void sm__fork_unlock(sm_env *env) { sm__unlock(&env->lock); }

static void sm__fork_forget(sm_env *env)
{
    ptrdiff_t i;
    for (i = 0; i < stbds_arrlen(env->chunks); i++)
        env->chunks[i]->inflight = 0;
    /* one that a thread not in the child enabled: nobody will disable it, sm_env_destroy may */
    if (env->owner && env->owner != sm__fast_tls.thread)
        env->owner = NULL;
    sm__unlock(&env->lock);
}

static void sm__fork_prepare(void)
{
    sm__global_lock();
    sm__fork_each(sm__fork_lock);
    sm__cache_lock();
}

static void sm__fork_parent(void)
{
    sm__cache_unlock();
    sm__fork_each(sm__fork_unlock);
    sm__global_unlock();
}

static void sm__fork_child(void)
{
    sm__cache_unlock();
    sm__fork_each(sm__fork_forget);
    sm__global_unlock();
}

/* Installs the handlers once, with the first environment. Global lock held. */
static int sm__fork_hooked;
static void sm__fork_hook(void)
{
    if (!sm__fork_hooked)
        sm__fork_hooked = pthread_atfork(sm__fork_prepare, sm__fork_parent, sm__fork_child) == 0;
}
#else
static void sm__fork_hook(void) { }
#endif

/* ---------------------------------------------------------------------------------------- */
/* The page map: from any address to the chunk that holds it, without a lock                */
/* ---------------------------------------------------------------------------------------- */

/* Every chunk enters each 4 KiB page its memory touches. Backing memory may have any
   alignment, so a page may hold the end of one chunk and the start of the next: `low` is the
   chunk that covers the page's first byte, `high` one that starts inside it. Chunks are at
   least a page long (SM__MIN_CHUNK), so no page has more than these two. The map is a radix
   tree over the address (three levels on 64-bit targets, for addresses below 2^48; two on
   32-bit ones) whose nodes are made on demand with smalloc's bookkeeping allocator, installed
   with a compare-and-swap and kept for the life of the process: a lookup takes no lock and
   reads no memory that was released, whatever address it is given. Each entry also names the
   chunk's environment, and a lookup on behalf of an environment reads the header only of that
   environment's chunks: the chunks of others may be given back by their threads at any moment.
   An entry changes only as its chunk enters or leaves, one writer at a time; a generation,
   odd while it changes, tells a reader that what it read belongs together. */
#define SM__PAGE_SHIFT 12
#define SM__PAGE       ((uintptr_t)1 << SM__PAGE_SHIFT)
#define SM__MAP_BITS   12
#define SM__MAP_FAN    ((size_t)1 << SM__MAP_BITS)
typedef struct sm__side { size_t gen; sm__chunk *chunk; const sm_env *env; } sm__side;
typedef struct sm__page { sm__side low, high; } sm__page;
#if UINTPTR_MAX > 0xFFFFFFFFu
#define SM__MAP_TOP_SHIFT (SM__PAGE_SHIFT + 2 * SM__MAP_BITS)
#define SM__MAP_TOP       ((size_t)1 << (48 - SM__MAP_TOP_SHIFT))
#else
#define SM__MAP_TOP_SHIFT (SM__PAGE_SHIFT + SM__MAP_BITS)
#define SM__MAP_TOP       ((size_t)1 << (32 - SM__MAP_TOP_SHIFT))
#endif
static void *sm__map[SM__MAP_TOP];   /* 64-bit: middle nodes of SM__MAP_FAN leaves; else leaves */

/* The node at *slot, made (zeroed, size bytes) if make and there is none yet. */
static SM__INLINE void *sm__map_node(void **slot, size_t size, int make)
{
    void *n = SM__LOAD_ACQ(slot);
    if (n || !make)
        return n;
    n = SMALLOC_REALLOC(NULL, size);
    if (!n)
        return NULL;
    memset(n, 0, size);
    if (!SM__CAS(slot, NULL, n)) {
        SMALLOC_FREE(n);   /* another thread installed one first */
        n = SM__LOAD_ACQ(slot);
    }
    return n;
}

/* The entry of the page that holds address a; NULL if there is none (and make is 0, or
   memory for a node ran out, or a lies above what the map covers). */
static SM__INLINE sm__page *sm__page_at(uintptr_t a, int make)
{
    size_t top = (size_t)(a >> SM__MAP_TOP_SHIFT);
    void **leaves;
    sm__page *leaf;
    if (top >= SM__MAP_TOP)
        return NULL;
#if UINTPTR_MAX > 0xFFFFFFFFu
    leaves = (void **)sm__map_node(&sm__map[top], SM__MAP_FAN * sizeof(void *), make);
    if (!leaves)
        return NULL;
    leaves += (a >> (SM__PAGE_SHIFT + SM__MAP_BITS)) & (SM__MAP_FAN - 1);
#else
    leaves = &sm__map[top];
#endif
    leaf = (sm__page *)sm__map_node(leaves, SM__MAP_FAN * sizeof(sm__page), make);
    return leaf ? leaf + ((a >> SM__PAGE_SHIFT) & (SM__MAP_FAN - 1)) : NULL;
}

/* Stores ch (or NULL) in the entries of the pages of ch's memory from address `from` below
   `upto`, one leaf at a time. Returns where it stopped: `upto`, or the first page whose leaf
   could not be made (make). */
static uintptr_t sm__map_store(const sm__chunk *ch, sm__chunk *value, uintptr_t from, uintptr_t upto, int make)
{
    uintptr_t b = (uintptr_t)ch->base, a = from;
    while (a < upto) {
        sm__page *pg = sm__page_at(a, make);
        if (!pg)
            return a;
        do {
            sm__side *s = a >= b ? &pg->low : &pg->high;
            size_t gen = SM__LOAD(&s->gen);
            SM__STORE(&s->gen, gen + 1);
            SM__FENCE_REL();
            SM__STORE(&s->chunk, value);
            SM__STORE(&s->env, value ? (const sm_env *)ch->env : (const sm_env *)NULL);
            SM__STORE_REL(&s->gen, gen + 2);
            a += SM__PAGE;
            pg++;
        } while (a < upto && ((a >> SM__PAGE_SHIFT) & (SM__MAP_FAN - 1)));
    }
    return upto;
}

/* Takes ch out of the pages it entered. */
static void sm__map_leave(const sm__chunk *ch)
{
    (void)sm__map_store(ch, NULL, (uintptr_t)ch->base & ~(SM__PAGE - 1), ch->mapped, 0);
}

/* Enters ch in the pages of its memory below address end that it has not entered yet; 0 (and
   nothing more entered) when a node cannot be made. A normal chunk enters all of its memory;
   a single chunk only up to its block's start, which is all that mark-free and reallocation
   look up (sm_env_describe finds an address further inside by a walk over the chunks), and
   its entries say so (SM__SINGLE_TAG): without the lock, nobody reads such a chunk, which a
   thread marking its block free may give back at any moment (sm__chunk_of). */
#define SM__SINGLE_TAG ((uintptr_t)1)
static int sm__map_enter(sm__chunk *ch, uintptr_t end, int single)
{
    uintptr_t from = ch->mapped ? ch->mapped : (uintptr_t)ch->base & ~(SM__PAGE - 1), stop;
    if (from >= end)
        return 1;
    stop = sm__map_store(ch, (sm__chunk *)((uintptr_t)ch | (single ? SM__SINGLE_TAG : 0)), from, end, 1);
    if (stop != end) {
        (void)sm__map_store(ch, NULL, from, stop, 0);
        return 0;
    }
    ch->mapped = ((end - 1) & ~(SM__PAGE - 1)) + SM__PAGE;
    return 1;
}

/* The chunk of env in an entry, or NULL: another environment's, none, or one that is entering
   or leaving at this moment (none of its blocks is live then). */
static SM__INLINE sm__chunk *sm__side_chunk(const sm__side *s, const sm_env *env)
{
    size_t gen = SM__LOAD_ACQ(&s->gen);
    sm__chunk *ch = SM__LOAD(&s->chunk);
    const sm_env *owner = SM__LOAD(&s->env);
    SM__FENCE_ACQ();
    if ((gen & 1) || owner != env || SM__LOAD(&s->gen) != gen)
        return NULL;
    return ch;
}

/* What sm__chunk_of finds without the lock where a single chunk has entered the page: a chunk
   without bitmaps, never written, so that callers take the lock and look again. */
static sm__chunk sm__single_seen;

/* The chunk of an entry (sm__side_chunk) if its payload holds address a, else NULL. */
static SM__INLINE sm__chunk *sm__chunk_in(sm__chunk *ch, uintptr_t a, int locked)
{
    if ((uintptr_t)ch & SM__SINGLE_TAG) {
        if (!locked)
            return &sm__single_seen;
        ch = (sm__chunk *)((uintptr_t)ch & ~SM__SINGLE_TAG);
    }
    return ch && a >= (uintptr_t)ch->payload && a < (uintptr_t)ch->limit ? ch : NULL;
}

/* The chunk of env whose payload holds address a, or NULL. Without the lock (locked 0), a page
   that a single chunk entered gives sm__single_seen instead. */
static SM__INLINE sm__chunk *sm__chunk_find(const sm_env *env, uintptr_t a, int locked)
{
    const sm__page *pg = sm__page_at(a, 0);
    sm__chunk *ch;
    if (!pg)
        return NULL;
    ch = sm__chunk_in(sm__side_chunk(&pg->low, env), a, locked);
    return ch ? ch : sm__chunk_in(sm__side_chunk(&pg->high, env), a, locked);
}

static SM__INLINE sm__chunk *sm__chunk_of(const sm_env *env, uintptr_t a)
{
    return sm__chunk_find(env, a, 0);
}

/* Lock held. */
static SM__INLINE sm__chunk *sm__chunk_of_locked(const sm_env *env, uintptr_t a)
{
    return sm__chunk_find(env, a, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* The process-wide cache of released memory                                                */
/* ---------------------------------------------------------------------------------------- */

/* Memory that environments using malloc have released (chunks, the environments themselves,
   cursors), kept for the next ones: a program that creates an environment per request then
   stops calling malloc and faulting in fresh pages. Sorted by size, under sm__cache_mutex;
   never on an allocation's fast path. Each block names the thread that used it last: of blocks
   as small, a taker prefers its own, whose lines its processor's caches may still hold, to
   writing over lines another processor holds. */
typedef struct sm__spare { void *p; size_t size; unsigned user; } sm__spare;
#define SM__CACHE_ENTRIES 256
#define SM__CACHE_AFFINITY 8   /* the blocks of one size a taker looks at for one of its own */
static sm__spare *sm__cache;      /* stb_ds array */
static size_t sm__cache_bytes;
static size_t sm__cache_max = SIZE_MAX;   /* sm_cache_limit */
static size_t sm__cache_demand;           /* the bytes of the largest environment released lately
                                             (atomic: read without the lock) */
static size_t sm__small_releases;         /* releases of small environments, roughly (relaxed) */

/* What the cache may hold now. Cache lock held. */
static size_t sm__cache_room(void)
{
    size_t demand = SM__LOAD(&sm__cache_demand);
    size_t want = demand > SMALLOC_CACHE_SIZE ? demand : SMALLOC_CACHE_SIZE;
    return want < sm__cache_max ? want : sm__cache_max;
}

static void sm__cache_shrink_locked(size_t keep, size_t *released)
{
    while (sm__cache_bytes > keep) {
        /* the largest first: fewest calls for the most memory */
        sm__spare e = stbds_arrpop(sm__cache);
        sm__cache_bytes -= e.size;
        if (released)
            *released += e.size;
        sm__show(e.p, e.size);
        free(e.p);
    }
    if (!sm__cache_bytes) {
        stbds_arrfree(sm__cache);
        sm__cache = NULL;
    }
}

/* An environment of `bytes` is being released into the cache: the figure it keeps follows
   (see COSTS), and what is above it goes back. */
static void sm__cache_note_release(size_t bytes)
{
    size_t demand;
    sm__cache_lock();
    demand = SM__LOAD(&sm__cache_demand);
    SM__STORE(&sm__cache_demand, bytes >= demand ? bytes : demand - demand / 8);
    sm__cache_shrink_locked(sm__cache_room(), NULL);
    sm__cache_unlock();
}

/* Index of the first entry of at least size bytes. */
static size_t sm__cache_lower(size_t size)
{
    size_t lo = 0, hi = stbds_arrlenu(sm__cache);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sm__cache[mid].size < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The smallest cached block of min..max bytes, its size in *got; NULL if there is none. Of
   blocks as small, the calling thread's own if it is among the first SM__CACHE_AFFINITY. */
static void *sm__cache_take(size_t min, size_t max, size_t *got)
{
    void *p = NULL;
    size_t i, k, n;
    sm__cache_lock();
    i = sm__cache_lower(min);
    n = stbds_arrlenu(sm__cache);
    for (k = i; k < n && k < i + SM__CACHE_AFFINITY && sm__cache[k].size == sm__cache[i].size; k++)
        if (sm__cache[k].user == SM__TAG(SM__ME)) {
            i = k;
            break;
        }
    if (i < n && sm__cache[i].size <= max) {
        p = sm__cache[i].p;
        *got = sm__cache[i].size;
        sm__cache_bytes -= *got;
        stbds_arrdel(sm__cache, i);
    }
    sm__cache_unlock();
    if (p)
        sm__show(p, *got);
    return p;
}

/* Keeps p, which thread `user` used last, if the cache has room for it; 0 if the caller must
   free it. */
static int sm__cache_put(void *p, size_t size, unsigned user)
{
    int kept = 0;
    void *grown;
    sm__hide(p, size);   /* before it is shared: a taker shows it again */
    sm__cache_lock();
    if (size <= sm__cache_room() - sm__cache_bytes && stbds_arrlenu(sm__cache) < SM__CACHE_ENTRIES &&
        sm__reserve(sm__cache, sizeof *sm__cache, 1, &grown)) {
        size_t i, n;
        sm__spare e;
        e.p = p;
        e.size = size;
        e.user = user;
        sm__cache = (sm__spare *)grown;
        i = sm__cache_lower(size);
        n = stbds_arrlenu(sm__cache);
        SM__ARRPUT(sm__cache, e);
        memmove(&sm__cache[i + 1], &sm__cache[i], (n - i) * sizeof *sm__cache);
        sm__cache[i] = e;
        sm__cache_bytes += size;
        kept = 1;
    }
    sm__cache_unlock();
    if (!kept)
        sm__show(p, size);
    return kept;
}

static void sm__spare_envs_free(void);

SMALLOC_DEF size_t sm_cache_trim(size_t keep)
{
    size_t released = 0;
    sm__spare_envs_free();   /* the calling thread's released environments first */
    sm__cache_lock();
    sm__cache_shrink_locked(keep, &released);
    sm__cache_unlock();
    return released;
}

SMALLOC_DEF size_t sm_cache_limit(size_t bytes)
{
    size_t old;
    sm__cache_lock();
    old = sm__cache_max;
    sm__cache_max = bytes;
    sm__cache_shrink_locked(sm__cache_room(), NULL);
    sm__cache_unlock();
    return old;
}

/* ---------------------------------------------------------------------------------------- */
/* Chunks                                                                                   */
/* ---------------------------------------------------------------------------------------- */

#define SM__HEADER (((sizeof(sm__chunk) + SM__GRAIN - 1) / SM__GRAIN) * SM__GRAIN)
#define SM__MIN_CHUNK ((size_t)SM__PAGE)   /* the page map needs every chunk a page long */

/* size..max bytes for env (the cache may have a larger block than asked; *got says), counted
   in its figures. Called with no lock of env held: the backing allocator may call smalloc
   (API.md's rule for callbacks). The peak is taken by sm__peak once the memory is in use. */
static void *sm__obtain(sm_env *env, size_t size, size_t max, size_t *got, const char *file, int line)
{
    void *p = env->cached ? sm__cache_take(size, max, got) : NULL;
    if (!p) {
        *got = size;
        p = env->alloc(env->context, size, file, line);
    }
    if (p)
        (void)SM__FETCH_ADD(&env->backing_bytes, *got);
    return p;
}

/* Records the bytes held now as the peak if they are more. Lock held. */
static void sm__peak(sm_env *env)
{
    size_t now = SM__LOAD(&env->backing_bytes);
    SM__ASSERT_LOCKED(env);
    if (now > env->backing_peak)
        env->backing_peak = now;
}

/* Gives back memory sm__obtain returned, which thread `user` used last. No lock of env may be
   held: the backing free is a callback. */
static void sm__release(sm_env *env, void *p, size_t size, unsigned user)
{
    (void)SM__FETCH_ADD(&env->backing_bytes, (size_t)0 - size);
    if (!env->cached || !sm__cache_put(p, size, user))
        env->free(env->context, p, size);
}

/* The first granule boundary at or above p: backing memory may be aligned to less. */
static unsigned char *sm__grain_up(unsigned char *p)
{
    return p + ((SM__GRAIN - (uintptr_t)p % SM__GRAIN) % SM__GRAIN);
}

/* Makes the header of a chunk of memory base..base+size whose payload starts `offset` bytes
   after the header and is `span` bytes long, and enters it in the page map (single: a chunk
   of one block, see sm__map_enter); NULL (the memory given back) when the map has no room. */
static sm__chunk *sm__chunk_make(sm_env *env, unsigned char *base, size_t size, size_t offset, size_t span,
                                 int single)
{
    sm__chunk *ch = (sm__chunk *)(void *)sm__grain_up(base);
    memset(ch, 0, sizeof *ch);
    ch->env = env;
    ch->base = base;
    ch->size = size;
    ch->bumped_by = SM__TAG(SM__ME);
    ch->payload = (unsigned char *)ch + offset;
    ch->limit = ch->payload + span;
    ch->used = (uintptr_t)ch->payload;
    if (!sm__map_enter(ch, single ? (uintptr_t)ch->payload + 1 : (uintptr_t)base + size, single)) {
        sm__release(env, base, size, SM__TAG(SM__ME));
        return NULL;
    }
    return ch;
}

/* A normal chunk of about `size` bytes, bitmaps cleared. */
static sm__chunk *sm__chunk_normal(sm_env *env, size_t size, const char *file, int line)
{
    size_t room, q = 4 * SM__GRAIN + 1, granules, words, offset;
    unsigned char *base = (unsigned char *)sm__obtain(env, size, 2 * size, &size, file, line);
    sm__chunk *ch;
    if (!base)
        return NULL;
    /* each granule costs SM__GRAIN bytes and two bits: a quarter byte */
    room = size - SM__HEADER - 2 * SM__GRAIN - 2 * sizeof(size_t);
    granules = room / q * 4 + room % q * 4 / q;
    words = (granules + SM__WBITS - 1) / SM__WBITS;
    offset = (SM__HEADER + 2 * words * sizeof(size_t) + SM__GRAIN - 1) / SM__GRAIN * SM__GRAIN;
    ch = sm__chunk_make(env, base, size, offset, granules * SM__GRAIN, 0);
    if (!ch)
        return NULL;
    ch->starts = (size_t *)(void *)((unsigned char *)ch + SM__HEADER);
    ch->freed = ch->starts + words;
    ch->nwords = words;
    memset(ch->starts, 0, 2 * words * sizeof(size_t));
    SMALLOC_ASSERT((size_t)(ch->limit - base) <= size);
    if (env->flags & SM_POISON)
        sm__poison(ch->payload, (size_t)(ch->limit - ch->payload));
    return ch;
}

/* Takes ch out of the page map: no mark-free finds it any more. Its memory then goes back with
   sm__chunk_give_back, with no lock of env held (the backing free is a callback). */
static void sm__chunk_unmap(sm_env *env, sm__chunk *ch)
{
    stbds_arrfree(ch->sites);
    ch->sites = NULL;
    if ((env->flags & SM_POISON) && ch->limit > ch->payload)
        sm__poison(ch->payload, (size_t)(ch->limit - ch->payload));
    sm__show(ch->payload, (size_t)(ch->limit - ch->payload));   /* the backing allocator's again */
    sm__map_leave(ch);
}

static void sm__chunk_give_back(sm_env *env, sm__chunk *ch)
{
    sm__release(env, ch->base, ch->size, ch->bumped_by);
}

static void sm__chunk_dispose(sm_env *env, sm__chunk *ch)
{
    sm__chunk_unmap(env, ch);
    sm__chunk_give_back(env, ch);
}

/* Gives back a list of unmapped chunks linked through `next_out`. */
static void sm__chunks_give_back(sm_env *env, sm__chunk *list)
{
    while (list) {
        sm__chunk *next = list->next_out;
        sm__chunk_give_back(env, list);
        list = next;
    }
}

/* A chunk in env->chunks (room reserved) or out of it, in O(1): the array is unordered. */
static void sm__dir_insert(sm_env *env, sm__chunk *ch)
{
    ch->at = stbds_arrlenu(env->chunks);
    SM__ARRPUT(env->chunks, ch);
}

static void sm__dir_remove(sm_env *env, sm__chunk *ch)
{
    sm__chunk *last = stbds_arrpop(env->chunks);
    if (last != ch) {
        env->chunks[ch->at] = last;
        last->at = ch->at;
    }
}

/* Where the blocks of a normal chunk end now: its cursor's top, or where bumping stopped. */
static SM__INLINE uintptr_t sm__chunk_top(const sm__chunk *ch)
{
    const sm__cursor *c = SM__LOAD_ACQ(&ch->cursor);
    if (c) {
        /* the cursor may have moved on to another chunk since: then `used` holds the top */
        uintptr_t top = SM__LOAD_ACQ(&c->top);
        if (SM__LOAD_ACQ(&c->chunk) == ch)
            return top;
    }
    return SM__LOAD_ACQ(&ch->used);
}

/* ---------------------------------------------------------------------------------------- */
/* Allocation sites (SM_TRACK)                                                              */
/* ---------------------------------------------------------------------------------------- */

/* The thread bumping a chunk appends to its sites without the lock while there is room and
   grows them under it; readers hold the lock. A record may be rewritten while a reader looks
   (a block rolled back, the bump moving on), so its fields are accessed atomically. */
static void sm__site_put(sm__site *r, size_t at, size_t size, const char *file, int line)
{
    SM__STORE(&r->at, at);
    SM__STORE(&r->size, size);
    SM__STORE(&r->file, file);
    SM__STORE(&r->line, line);
}

static sm__site sm__site_get(const sm__site *r)
{
    sm__site v;
    v.at = SM__LOAD(&r->at);
    v.size = SM__LOAD(&r->size);
    v.file = SM__LOAD(&r->file);
    v.line = SM__LOAD(&r->line);
    return v;
}

/* Room for one more record in ch's sites; 0 when memory ran out. Lock held. */
static int sm__site_room_locked(sm_env *env, sm__chunk *ch)
{
    void *grown;
    SM__ASSERT_LOCKED(env);
    if (ch->sites && ch->nsites < stbds_arrcap(ch->sites))
        return 1;
    /* stb_ds's length is not used: nsites is */
    if (!sm__reserve(ch->sites, sizeof *ch->sites, ch->nsites + 16, &grown))
        return 0;
    ch->sites = (sm__site *)grown;
    return 1;
}

/* The same without the lock, which is taken only to grow them. */
static int sm__site_room(sm_env *env, sm__chunk *ch)
{
    int ok;
    if (ch->sites && ch->nsites < stbds_arrcap(ch->sites))
        return 1;
    sm__env_lock(env);
    ok = sm__site_room_locked(env, ch);
    sm__env_unlock(env);
    return ok;
}

/* The record of the block at granule at of ch, or NULL. Lock held or ch the caller's own. */
static sm__site *sm__site_find(const sm__chunk *ch, size_t at)
{
    size_t lo = 0, hi = SM__LOAD_ACQ(&ch->nsites);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, v = SM__LOAD(&ch->sites[mid].at);
        if (v == at)
            return &ch->sites[mid];
        if (v < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Records a new block p of size bytes; room was made before it was bumped. */
static void sm__site_add(sm__cursor *c, void *p, size_t size, const char *file, int line)
{
    sm__chunk *ch = c->chunk;
    if (ch && (uintptr_t)p >= c->base && (uintptr_t)p < c->end) {
        size_t n = ch->nsites;
        SMALLOC_ASSERT(n < stbds_arrcap(ch->sites));
        sm__site_put(&ch->sites[n], (size_t)((uintptr_t)p - c->base) / SM__GRAIN, size, file, line);
        SM__STORE_REL(&ch->nsites, n + 1);
    } else {
        /* a single chunk: the thread's last allocation */
        sm__site_put(&c->last_single->site, 0, size, file, line);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Cursors and allocation                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Size classes of SM_RECYCLE: exact up to 32 granules, then powers of two. */
#define SM__EXACT 32u
#define SM__BINS  (SM__EXACT + SM__WBITS - 5)

/* The class a block of n granules is kept in. */
static size_t sm__bin_of(size_t n)
{
    return n <= SM__EXACT ? n - 1 : SM__EXACT + sm__msb(n) - 5;
}

static sm__cursor *sm__cursor_find(const sm_env *env)
{
    ptrdiff_t i;
    for (i = 0; i < stbds_arrlen(env->cursors); i++)
        if (env->cursors[i]->thread == SM__ME)
            return env->cursors[i];
    return NULL;
}

static void sm__thread_hold(sm__thread *rec) { (void)SM__FETCH_ADD(&rec->refs, (size_t)1); }

static void sm__thread_drop(const void *owner)
{
    sm__thread *rec = (sm__thread *)(uintptr_t)owner;
    if (owner != SM__NOBODY && SM__FETCH_ADD(&rec->refs, (size_t)0 - 1) == 0)
        SMALLOC_FREE(rec);
}

/* Whether the thread that owned c has exited: another may take the cursor over. */
static int sm__cursor_orphaned(const sm__cursor *c)
{
    const void *owner = SM__LOAD(&c->thread);
    return owner != SM__NOBODY && !SM__LOAD_ACQ(&((const sm__thread *)owner)->alive);
}

/* The calling thread owns env's solo cursor now: the fast paths may use it. */
static void sm__solo_owned(sm_env *env)
{
    SM__STORE(&env->solo_fast, !env->flags                 ? SM__ME
                               : env->flags == SM_RECYCLE ? SM__ME_RECYCLING
                                                          : SM__NOBODY);
}

/* A cursor of a thread that has exited, taken over by the calling thread with its chunk and
   its lists, or NULL: threads that come and go do not add a cursor each. Lock held. */
static sm__cursor *sm__cursor_adopt(sm_env *env)
{
    ptrdiff_t i;
    SM__ASSERT_LOCKED(env);
    for (i = 0; i < stbds_arrlen(env->cursors); i++) {
        sm__cursor *c = env->cursors[i];
        if (sm__cursor_orphaned(c)) {
            sm__thread_drop(c->thread);
            sm__thread_hold(sm__fast_tls.thread);
            SM__STORE(&c->thread, SM__ME);
            if (c == &env->solo)
                sm__solo_owned(env);
            return c;
        }
    }
    return NULL;
}

static void sm__cursor_park(sm__cursor *c)
{
    SM__STORE(&c->top, (uintptr_t)0);
    c->end = c->base = 0;
    c->starts = c->freed = NULL;
    SM__STORE(&c->chunk, (sm__chunk *)NULL);
    c->last_single = NULL;
    c->remote = NULL;
    c->freed_in = NULL;
    if (c->bins)
        memset(c->bins, 0, SM__BINS * sizeof *c->bins);
}

static void sm__cursor_install(sm__cursor *c, sm__chunk *ch)
{
    /* in this order for sm__chunk_top, which other threads call */
    if (c->chunk) {
        SM__STORE_REL(&c->chunk->used, SM__LOAD(&c->top));
        SM__STORE_REL(&c->chunk->cursor, (sm__cursor *)NULL);
        SM__STORE_REL(&c->chunk->retired, 1);
    }
    SM__STORE_REL(&ch->cursor, c);
    SM__STORE_REL(&ch->owner, c);
    ch->bumped_by = SM__TAG(c->thread);
    SM__STORE_REL(&c->chunk, ch);
    c->base = (uintptr_t)ch->payload;
    c->end = (uintptr_t)ch->limit;
    c->starts = ch->starts;
    c->freed = ch->freed;
    SM__STORE_REL(&c->top, (uintptr_t)ch->used);
}

/* The common case, inlined into the allocation functions: whether a block of size bytes at
   the granule alignment fits at the cursor's top (size 0 takes the slow path), and taking it.
   size <= room and room is whole granules, so the rounding cannot overflow. The top is
   published after the start bit, for threads that find a block's end from them. */
#define SM__FITS(c, top, size) SM__LIKELY((size) - 1 < (size_t)((c)->end - (top)))
static SM__INLINE void *sm__bump(sm__cursor *c, uintptr_t top, size_t size)
{
    sm__set_start(c->starts, (size_t)(top - c->base) / SM__GRAIN);
    SM__STORE_REL(&c->top, top + ((size + SM__GRAIN - 1) & ~(SM__GRAIN - 1)));
    return (void *)top;
}

/* Any size and alignment (alignment >= SM__GRAIN) from the cursor's chunk, or NULL. */
static void *sm__bump_aligned(sm__cursor *c, size_t size, size_t alignment)
{
    uintptr_t top = SM__LOAD(&c->top), at;
    size_t n = sm__round(size);
    if (!c->chunk || !n)
        return NULL;
    at = (top + (alignment - 1)) & ~(uintptr_t)(alignment - 1);
    if (at < top || at > c->end || n > (size_t)(c->end - at))
        return NULL;
    if (at != top) {
        /* mark where the padding begins (a freed bit without a start bit), so that it counts
           neither with the block before nor as a block, and is rolled back with this one */
        size_t pad = (size_t)(top - c->base) / SM__GRAIN;
        (void)sm__fetch_or(&c->chunk->freed[pad / SM__WBITS], (size_t)1 << (pad % SM__WBITS));
    }
    sm__set_start(c->starts, (size_t)(at - c->base) / SM__GRAIN);
    SM__STORE_REL(&c->top, at + n);
    return (void *)at;
}

/* The smallest spare chunk of the kind asked for (normal, or single) with room for need bytes
   after its header, taken out of the spares; NULL if none has. Smallest first, so that the
   chunks are used again in the order they were made. */
static sm__chunk *sm__spare_take(sm_env *env, size_t need, int single)
{
    ptrdiff_t i, best = -1;
    size_t best_room = 0;
    for (i = stbds_arrlen(env->spares) - 1; i >= 0; i--) {
        sm__chunk *ch = env->spares[i];
        size_t room = single ? (size_t)(ch->base + ch->size - ((unsigned char *)ch + SM__HEADER))
                             : (size_t)(ch->limit - ch->payload);
        if ((ch->starts == NULL) == (single != 0) && room >= need && (best < 0 || room < best_room)) {
            best = i;
            best_room = room;
        }
    }
    if (best < 0)
        return NULL;
    {
        sm__chunk *ch = env->spares[best];
        stbds_arrdelswap(env->spares, best);
        return ch;
    }
}

/* SM_RECYCLE: a marked-free block keeps, in its first words, the next block of its list, its
   chunk and (above SM__EXACT granules) its length in granules. */
typedef struct sm__link { void *next; sm__chunk *chunk; size_t granules; } sm__link;

static sm__link sm__link_get(const sm_env *env, const void *p, size_t granules)
{
    sm__link l;
    size_t n = granules > SM__EXACT ? sizeof l : 2 * sizeof(void *);
    sm__reveal(p, n);
    /* copies of constant sizes, which compilers turn into loads */
    memcpy(&l, p, offsetof(sm__link, granules));
    if (granules > SM__EXACT)
        memcpy(&l.granules, (const unsigned char *)p + offsetof(sm__link, granules), sizeof l.granules);
    else
        l.granules = granules;
    if (env->flags & SM_POISON)
        sm__hide(p, n);
    return l;
}

static void sm__link_set(sm_env *env, void *p, const sm__link *l)
{
    size_t n = l->granules > SM__EXACT ? sizeof *l : 2 * sizeof(void *);
    sm__show(p, n);
    memcpy(p, l, offsetof(sm__link, granules));
    if (l->granules > SM__EXACT)
        memcpy((unsigned char *)p + offsetof(sm__link, granules), &l->granules, sizeof l->granules);
    if (env->flags & SM_POISON)
        sm__hide(p, n);
}

/* Puts the block at granule i of ch, g granules long and just marked free, on a list. */
static void sm__bin_push(sm_env *env, void **bins, sm__chunk *ch, size_t i, size_t g)
{
    sm__link l;
    void *p = ch->payload + i * SM__GRAIN;
    size_t b = sm__bin_of(g);
    l.next = bins[b];
    l.chunk = ch;
    l.granules = g;
    sm__link_set(env, p, &l);
    bins[b] = p;
}

/* A class above SM__EXACT holds sizes up to twice its smallest: a request looks this many
   blocks into it for one long enough, then takes the first block of the next class. Blocks
   too short for the first requests would otherwise pile up there unused. */
#define SM__FIT_STEPS 8

/* A block of at least n granules from bins, taken off its list, or NULL. */
static void *sm__bin_pop(sm_env *env, void **bins, size_t n)
{
    size_t b = sm__bin_of(n);
    void *p = bins[b], *prev = NULL;
    sm__link l, before;
    if (p && n > SM__EXACT) {
        size_t steps;
        for (steps = 1; (l = sm__link_get(env, p, n)).granules < n; steps++) {
            prev = p;
            before = l;
            p = l.next;
            if (!p || steps == SM__FIT_STEPS) {
                /* the next class's blocks are all long enough */
                prev = NULL;
                p = b + 1 < SM__BINS ? bins[++b] : NULL;
                break;
            }
        }
    }
    if (!p)
        return NULL;
    l = sm__link_get(env, p, n);
    if (prev) {
        before.next = l.next;
        sm__link_set(env, prev, &before);
    } else {
        bins[b] = l.next;
    }
    return p;
}

/* SM_RECYCLE: a block of ch that the calling thread has just marked free, put on the list of
   the cursor that bumped ch (mimalloc's thread-delayed free list): the thread that allocated
   it takes it back when its own lists run dry, and a thread that only frees hoards nothing.
   A push without a lock; the owner takes the whole list at once. */
static void sm__remote_push(sm_env *env, sm__cursor *owner, sm__chunk *ch, size_t i)
{
    sm__link l;
    void *p = ch->payload + i * SM__GRAIN;
    l.chunk = ch;
    l.granules = 1;   /* the short form: the owner finds the length in the bitmaps */
    for (;;) {
        l.next = SM__LOAD_ACQ(&owner->remote);
        sm__link_set(env, p, &l);
        if (SM__CAS(&owner->remote, l.next, p))
            return;
    }
}

/* The blocks other threads marked free in c's chunks, moved to `bins` (c's own, or the
   environment's for a cursor whose thread has exited). Each block's length comes from the
   bitmaps: its chunk is bumped by c alone, or by nobody, and a rollback stops at it. */
static void sm__remote_collect(sm_env *env, sm__cursor *c, void **bins)
{
    void *p = sm__take_list(&c->remote);
    while (p) {
        sm__link l = sm__link_get(env, p, 1);
        size_t i = (size_t)((unsigned char *)p - l.chunk->payload) / SM__GRAIN;
        size_t top = (size_t)(sm__chunk_top(l.chunk) - (uintptr_t)l.chunk->payload) / SM__GRAIN;
        sm__bin_push(env, bins, l.chunk, i, sm__block_end(l.chunk, i, top) - i);
        p = l.next;
    }
}

/* After a change of ch's bitmaps that may be in a retired chunk (a mark-free from outside the
   thread's current chunk, a reuse, a cut), made with sequentially consistent operations only:
   sm_env_stats counts ch again. That one sets census_ok, then a fence, then reads the bitmaps,
   so either it sees the change or this thread sees its census_ok and clears it. */
static SM__INLINE void sm__census_stale(sm__chunk *ch)
{
    if (SM__LOAD_SC(&ch->census_ok))
        SM__STORE(&ch->census_ok, 0);
}

/* The chunk of a block taken off a list; it becomes live again. */
static SM__INLINE sm__chunk *sm__bin_claim(const sm_env *env, void *p, size_t n)
{
    sm__chunk *ch = sm__link_get(env, p, n).chunk;
    size_t i = (size_t)((unsigned char *)p - ch->payload) / SM__GRAIN;
    (void)sm__fetch_and_sc(&ch->freed[i / SM__WBITS], ~((size_t)1 << (i % SM__WBITS)));
    sm__census_stale(ch);
    return ch;
}

/* How many exact classes sm__bin_cut looks at, from the one two granules longer (a rest of one
   granule would serve few requests). */
#define SM__CUT_REACH 4

/* When the exact class of n granules is empty: a block of one of the next few exact classes,
   cut to n granules and claimed, or NULL. Cutting writes a start bit, so only blocks of chunks
   that no other thread bumps qualify: the calling thread's current chunk (c is its cursor) and
   chunks no cursor bumps any more. The rest is marked free (its freed bit before its start bit,
   so that no other thread takes it for a live block) and goes on its list. Not with SM_TRACK,
   whose records follow the blocks. sm__bin_cut_from looks from class k to class last. */
static SM__NOINLINE void *sm__bin_cut_from(sm_env *env, const sm__cursor *c, void **bins, size_t n, size_t k,
                                           size_t last)
{
    for (; k <= last; k++) {
        void *p = bins[k];   /* blocks of k + 1 granules */
        sm__link l;
        sm__chunk *ch;
        size_t i, j;
        if (!p)
            continue;
        l = sm__link_get(env, p, k + 1);
        ch = l.chunk;
        if (SM__LOAD_ACQ(&ch->cursor) != c && !SM__LOAD_ACQ(&ch->retired))
            continue;
        bins[k] = l.next;
        i = (size_t)((unsigned char *)p - ch->payload) / SM__GRAIN;
        j = i + n;
        (void)sm__fetch_or_sc(&ch->freed[j / SM__WBITS], (size_t)1 << (j % SM__WBITS));
        /* a retired chunk's blocks may be on several threads' lists (SM_RECYCLE's orphans):
           two of them may cut there at once */
        (void)sm__fetch_or_sc(&ch->starts[j / SM__WBITS], (size_t)1 << (j % SM__WBITS));
        sm__bin_push(env, bins, ch, j, k + 1 - n);
        (void)sm__fetch_and_sc(&ch->freed[i / SM__WBITS], ~((size_t)1 << (i % SM__WBITS)));
        sm__census_stale(ch);
        return p;
    }
    return NULL;
}

/* The classes are mostly empty when a cut is looked for: that much is found inline. */
static SM__INLINE void *sm__bin_cut(sm_env *env, const sm__cursor *c, void **bins, size_t n)
{
    size_t k, last = n + SM__CUT_REACH < SM__EXACT - 1 ? n + SM__CUT_REACH : SM__EXACT - 1;
    for (k = n + 1; k <= last; k++)
        if (bins[k])
            return sm__bin_cut_from(env, c, bins, n, k, last);
    return NULL;
}

/* Where the block of a single chunk whose header is at `header` starts, from the header. */
static size_t sm__single_offset(const unsigned char *header, size_t alignment)
{
    uintptr_t h = (uintptr_t)header;
    return (size_t)(((h + SM__HEADER + alignment - 1) & ~(uintptr_t)(alignment - 1)) - h);
}

/* A chunk that sm__refill took or made but cannot use: a spare goes back to the spares (it was
   taken out under the lock held since), a new one to the backing allocator, with the lock let
   go meanwhile. */
static void sm__chunk_discard(sm_env *env, sm__chunk *ch, int spare)
{
    if (spare) {
        SM__ARRPUT(env->spares, ch);   /* its place is still there */
        return;
    }
    sm__env_unlock(env);
    sm__chunk_dispose(env, ch);
    sm__env_lock(env);
}

/* A block that did not fit the cursor: a single chunk for a large request, else a spare or
   a new normal chunk for the cursor. NULL + *status on failure, nothing changed. Lock held,
   and let go while new memory is obtained (sm__obtain): meanwhile nobody else changes the
   calling thread's cursor, which only reset and destroy touch, and they run alone. */
static void *sm__refill(sm_env *env, sm__cursor *c, size_t size, size_t alignment,
                        sm_status *status, const char *file, int line)
{
    size_t need = sm__round(size);
    sm__chunk *ch;
    void *grown, *block;
    int spare = 1;
    SM__ASSERT_LOCKED(env);
    *status = SM_OUT_OF_MEMORY;
    if (!need || !sm__add(need, alignment - SM__GRAIN, &need))
        return NULL;
    if (!sm__reserve(env->chunks, sizeof *env->chunks, 1, &grown))
        return NULL;
    env->chunks = (sm__chunk **)grown;
    if (need > c->next_size / 4) {
        /* a chunk of its own, so that it neither wastes nor inflates the normal chunks */
        ch = sm__spare_take(env, need, 1);
        if (ch) {
            /* one this environment kept when it was parked: still in the page map */
            unsigned char *header = (unsigned char *)ch;
            size_t offset = sm__single_offset(header, alignment);
            if (!sm__map_enter(ch, (uintptr_t)header + offset + 1, 1)) {
                sm__chunk_discard(env, ch, 1);
                return NULL;
            }
            /* it holds no block: all of its room is the new block's to use (the old block's
               extent, which the tools were shown again, may differ from the new one) */
            sm__show(header + SM__HEADER, (size_t)(ch->base + ch->size - (header + SM__HEADER)));
            ch->payload = header + offset;
            ch->limit = ch->payload + sm__round(size);
            ch->single_freed = 0;
        } else {
            size_t total, most;
            unsigned char *base;
            if (!sm__add(need, SM__HEADER + SM__GRAIN, &total) || !sm__add(total, total / 4, &most))
                return NULL;
            if (total < SM__MIN_CHUNK)
                most = total = SM__MIN_CHUNK;
            sm__env_unlock(env);
            base = (unsigned char *)sm__obtain(env, total, most, &total, file, line);
            ch = base ? sm__chunk_make(env, base, total, sm__single_offset(sm__grain_up(base), alignment),
                                       sm__round(size), 1)
                      : NULL;
            sm__env_lock(env);
            if (!ch)
                return NULL;
            /* other threads may have taken the room reserved while the lock was let go */
            if (!sm__reserve(env->chunks, sizeof *env->chunks, 1, &grown)) {
                sm__chunk_discard(env, ch, 0);
                return NULL;
            }
            env->chunks = (sm__chunk **)grown;
        }
        block = ch->payload;
        ch->used = (uintptr_t)ch->limit;
        if (env->flags & SM_POISON)
            sm__poison(ch->payload, (size_t)(ch->limit - ch->payload));   /* shown for size */
        sm__dir_insert(env, ch);
        sm__peak(env);
        c->last_single = ch;
        c->last_chunk = c->chunk;
        c->last_top = SM__LOAD(&c->top);
        *status = SM_OK;
        return block;
    }
    ch = sm__spare_take(env, need, 0);
    if (!ch) {
        size_t next = c->next_size;
        sm__env_unlock(env);
        ch = sm__chunk_normal(env, next, file, line);
        sm__env_lock(env);
        if (!ch)
            return NULL;
        spare = 0;
        if (!sm__reserve(env->chunks, sizeof *env->chunks, 1, &grown)) {
            sm__chunk_discard(env, ch, 0);
            return NULL;
        }
        env->chunks = (sm__chunk **)grown;
    }
    if ((env->flags & SM_TRACK) && !sm__site_room_locked(env, ch)) {
        sm__chunk_discard(env, ch, spare);
        return NULL;
    }
    /* a spare as large as a new chunk would have been counts as one: an environment made again
       then asks for the chunks it had before, which the chunk cache holds */
    if (!spare || ch->size >= c->next_size)
        c->next_size = c->next_size > env->max_size / 2 ? env->max_size : c->next_size * 2;
    sm__dir_insert(env, ch);
    sm__peak(env);
    sm__cursor_install(c, ch);
    *status = SM_OK;
    block = sm__bump_aligned(c, size, alignment);
    SMALLOC_ASSERT(block != NULL);   /* need covers the rounding and the alignment padding */
    return block;
}

/* The bytes a cursor of env takes: SM_RECYCLE adds its lists, and there is room to align it
   in memory of any alignment. */
static size_t sm__cursor_bytes(const sm_env *env)
{
    return sizeof(sm__cursor) + ((env->flags & SM_RECYCLE) ? SM__BINS * sizeof(void *) : 0) + SM__GRAIN - 1;
}

/* A new cursor for the calling thread, entered in env->cursors, or NULL. The first thread
   takes the environment's own cursor, `solo`; with no flags, the allocation fast path then
   finds it without a lookup. Lock held; let go while another cursor's memory is obtained. */
static sm__cursor *sm__cursor_new(sm_env *env, const char *file, int line)
{
    size_t size = sm__cursor_bytes(env), got = 0;
    unsigned char *raw = NULL;
    sm__cursor *c;
    void *grown;
    SM__ASSERT_LOCKED(env);
    if (env->solo.thread != SM__NOBODY) {
        /* the solo cursor stays taken meanwhile: only parking frees it, which runs alone */
        sm__env_unlock(env);
        raw = (unsigned char *)sm__obtain(env, size, size, &got, file, line);
        sm__env_lock(env);
        if (!raw)
            return NULL;
    }
    if (!sm__reserve(env->cursors, sizeof *env->cursors, 1, &grown)) {
        if (raw) {
            sm__env_unlock(env);
            sm__release(env, raw, got, SM__TAG(SM__ME));
            sm__env_lock(env);
        }
        return NULL;
    }
    env->cursors = (sm__cursor **)grown;
    if (!raw) {
        /* zeroed in a new environment or parked; other threads read its `thread` meanwhile */
        c = &env->solo;
        c->last_chunk = NULL;
        c->last_top = 0;
    } else {
        c = (sm__cursor *)(void *)sm__grain_up(raw);
        memset(c, 0, sizeof *c);
        c->raw = raw;
    }
    sm__thread_hold(sm__fast_tls.thread);
    SM__STORE(&c->thread, SM__ME);
    c->next_size = env->chunk_size;
    if (env->flags & SM_RECYCLE) {
        /* the solo cursor's lists follow the environment's own (sm__env_bytes) */
        c->bins = c == &env->solo ? env->orphans + SM__BINS : (void **)(void *)(c + 1);
        memset(c->bins, 0, SM__BINS * sizeof *c->bins);
    }
    if (c == &env->solo)
        sm__solo_owned(env);
    SM__ARRPUT(env->cursors, c);
    return c;
}

static void sm__cursor_delete(sm_env *env, sm__cursor *c)
{
    unsigned thread = SM__TAG(c->thread);
    sm__thread_drop(c->thread);
    if (c == &env->solo) {
        SM__STORE(&env->solo_fast, SM__NOBODY);
        SM__STORE(&c->thread, SM__NOBODY);
        return;
    }
    sm__release(env, c->raw, sm__cursor_bytes(env), thread);
}

/* The slow path of every allocation: finds or makes the calling thread's cursor, then bumps
   or refills. *cursor receives the cursor for the caller's cache. Takes the lock, which is let
   go while the backing allocator runs. */
static void *sm__allocate_slow(sm_env *env, size_t size, size_t alignment, sm_status *status,
                               const char *file, int line, sm__cursor **cursor)
{
    sm__cursor *c;
    void *p = NULL;
    int fresh = 0;
    sm_status st = SM_OUT_OF_MEMORY;
    if (!sm__fast_tls.thread && !sm__self()) {
        /* a thread's first cursor: the record that names it, and its thread-exit hook */
        *cursor = NULL;
        if (status)
            *status = SM_OUT_OF_MEMORY;
        return NULL;
    }
    sm__env_lock(env);
    c = sm__cursor_find(env);
    if (!c)
        c = sm__cursor_adopt(env);
    if (!c) {
        c = sm__cursor_new(env, file, line);
        fresh = c != NULL;
    }
    if (c && (!(env->flags & SM_TRACK) || !c->chunk || sm__site_room_locked(env, c->chunk))) {
        p = sm__bump_aligned(c, size, alignment);
        if (p)
            st = SM_OK;
        else
            p = sm__refill(env, c, size, alignment, &st, file, line);
    }
    if (!p && fresh) {
        /* leave the environment as it was: other cursors may have been added meanwhile */
        ptrdiff_t i = stbds_arrlen(env->cursors) - 1;
        while (env->cursors[i] != c)
            i--;
        stbds_arrdelswap(env->cursors, i);
        if (c == &env->solo)
            sm__cursor_delete(env, c);   /* gives nothing back: under the lock */
    }
    sm__env_unlock(env);
    if (!p && fresh) {
        if (c != &env->solo)
            sm__cursor_delete(env, c);
        c = NULL;
    }
    *cursor = c;
    if (status)
        *status = st;
    return p;
}

/* SM_RECYCLE: the lists of threads that have exited since env last looked go to the
   environment's, which any thread takes over when its own run dry. Takes the lock. */
static void sm__gather_orphaned(sm_env *env)
{
    size_t exits = SM__LOAD(&sm__exits), b, left = 0;
    ptrdiff_t i;
    sm__env_lock(env);
    for (i = 0; i < stbds_arrlen(env->cursors); i++) {
        sm__cursor *c = env->cursors[i];
        if (!sm__cursor_orphaned(c))
            continue;
        sm__remote_collect(env, c, env->orphans);
        for (b = 0; b < SM__BINS; b++) {
            while (c->bins[b]) {
                void *p = c->bins[b];
                /* above the exact classes the link holds the length: any such hint reads it */
                sm__link l = sm__link_get(env, p, b < SM__EXACT ? b + 1 : SM__EXACT + 1);
                c->bins[b] = l.next;
                sm__bin_push(env, env->orphans, l.chunk, (size_t)((unsigned char *)p - l.chunk->payload) / SM__GRAIN,
                             l.granules);
            }
        }
    }
    for (b = 0; b < SM__BINS; b++)
        left += env->orphans[b] != NULL;
    SM__STORE(&env->norphans, left);
    SM__STORE(&env->exits_seen, exits);
    sm__env_unlock(env);
}

/* The bytes of a block of size bytes with SM_RECYCLE: room for a list link once it is marked
   free; 0 when the size overflows. */
static size_t sm__recycled_size(size_t size)
{
    size_t n = sm__round(size);
    return n && n < 2 * sizeof(void *) ? 2 * sizeof(void *) : n;
}

/* Allocation in an environment with flags, by a thread whose cursor there is c (or NULL). */
static void *sm__allocate_flagged(sm_env *env, sm__cursor *c, size_t size, size_t alignment,
                                  sm_status *status, const char *file, int line, sm__cursor **cursor)
{
    void *p = NULL;
    size_t n = (env->flags & SM_RECYCLE) ? sm__recycled_size(size) : sm__round(size);
    sm_status st = SM_OK;
    int reuse = (env->flags & SM_RECYCLE) && alignment == SM__GRAIN && n;
    *cursor = c;
    if (reuse) {
        int locked = 0, cut = 0;
        p = c ? sm__bin_pop(env, c->bins, n / SM__GRAIN) : NULL;
        if (!p && c && !(env->flags & SM_TRACK))
            cut = (p = sm__bin_cut(env, c, c->bins, n / SM__GRAIN)) != NULL;
        if (!p && c && SM__LOAD(&c->remote)) {
            sm__remote_collect(env, c, c->bins);
            p = sm__bin_pop(env, c->bins, n / SM__GRAIN);
        }
        if (!p && SM__LOAD(&sm__exits) != SM__LOAD(&env->exits_seen))
            sm__gather_orphaned(env);
        if (!p && SM__LOAD(&env->norphans)) {
            /* blocks marked free outside their thread's chunk: the lists this thread has
               emptied take the environment's whole lists, one lock per batch, not per block */
            size_t b, left = 0;
            sm__env_lock(env);
            locked = 1;
            if (c) {
                for (b = 0; b < SM__BINS; b++)
                    if (!c->bins[b]) {
                        c->bins[b] = env->orphans[b];
                        env->orphans[b] = NULL;
                    }
                p = sm__bin_pop(env, c->bins, n / SM__GRAIN);
            } else {
                p = sm__bin_pop(env, env->orphans, n / SM__GRAIN);
            }
            for (b = 0; b < SM__BINS; b++)
                left += env->orphans[b] != NULL;
            SM__STORE(&env->norphans, left);
        }
        if (p && !cut) {
            sm__chunk *ch = sm__bin_claim(env, p, n / SM__GRAIN);
            if (env->flags & SM_TRACK) {
                sm__site *r;
                if (!locked)
                    sm__env_lock(env);
                locked = 1;
                r = sm__site_find(ch, (size_t)((unsigned char *)p - ch->payload) / SM__GRAIN);
                if (r)
                    sm__site_put(r, SM__LOAD(&r->at), size, file, line);
            }
        }
        if (locked)
            sm__env_unlock(env);
    }
    if (!p) {
        size_t ask = n > size ? n : size;
        if (c && (!(env->flags & SM_TRACK) || !c->chunk || sm__site_room(env, c->chunk))) {
            uintptr_t top = SM__LOAD(&c->top);
            if (alignment == SM__GRAIN)
                p = SM__FITS(c, top, ask) ? sm__bump(c, top, ask) : NULL;
            else
                p = sm__bump_aligned(c, ask, alignment);
        }
        if (!p)
            p = sm__allocate_slow(env, ask, alignment, &st, file, line, cursor);
        if (p && (env->flags & SM_TRACK))
            sm__site_add(*cursor, p, size, file, line);
    }
    if (p)
        sm__show(p, size);
    if (status)
        *status = p ? SM_OK : st;
    return p;
}

/* ---------------------------------------------------------------------------------------- */
/* Finding blocks, mark-free                                                                */
/* ---------------------------------------------------------------------------------------- */

/* A block as found by sm__locate. */
typedef struct sm__where {
    sm__chunk *ch;
    size_t i, end;                /* first and end granule (normal chunk) */
    unsigned char *start;
    size_t size;                  /* usable bytes */
    int live;
} sm__where;

/* The block of env that contains p (inside: anywhere in it; else p must be its start), ch
   being the chunk the page map gave for p (or NULL). Lock held. */
static int sm__block_at(sm__chunk *ch, uintptr_t p, int inside, sm__where *w);

static int sm__locate_in(const sm_env *env, sm__chunk *ch, uintptr_t p, int inside, sm__where *w)
{
    SM__ASSERT_LOCKED(env);
    if (!ch || SM__LOAD(&ch->env) != env)
        return 0;
    if (!ch->starts) {
        w->ch = ch;
        /* `used` is at the limit while the block is there (a spare single chunk has none) */
        if (ch->used != (uintptr_t)ch->limit || (!inside && p != (uintptr_t)ch->payload))
            return 0;
        w->i = w->end = 0;
        w->start = ch->payload;
        w->size = (size_t)(ch->limit - ch->payload);
        w->live = !ch->single_freed;
        return 1;
    }
    return sm__block_at(ch, p, inside, w);
}

/* sm__locate_in's part for a normal chunk ch. Needs no lock where nothing moves the block's
   end meanwhile (the calling thread's current chunk, or a retired one). */
static int sm__block_at(sm__chunk *ch, uintptr_t p, int inside, sm__where *w)
{
    size_t g, j, topg;
    /* the top first: a block seen below it has its start bit published (sm__bump) */
    uintptr_t top = sm__chunk_top(ch);
    w->ch = ch;
    if (p < (uintptr_t)ch->payload || p >= top)
        return 0;
    g = (size_t)(p - (uintptr_t)ch->payload) / SM__GRAIN;
    topg = (size_t)(top - (uintptr_t)ch->payload) / SM__GRAIN;
    if (!inside) {
        if ((p - (uintptr_t)ch->payload) % SM__GRAIN || !sm__bit(ch->starts, g))
            return 0;
        j = g;
    } else {
        j = sm__prev_bit(ch->starts, 0, g + 1);
        if (j == SM__NONE || (g > j && sm__prev_bit(ch->freed, j + 1, g + 1) != SM__NONE))
            return 0;   /* before the first block, or alignment padding */
    }
    w->i = j;
    w->end = sm__block_end(ch, j, topg);
    w->start = ch->payload + j * SM__GRAIN;
    w->size = (w->end - j) * SM__GRAIN;
    w->live = !sm__bit(ch->freed, j);
    return 1;
}

static int sm__locate(const sm_env *env, uintptr_t p, int inside, sm__where *w)
{
    ptrdiff_t i;
    if (sm__locate_in(env, sm__chunk_of_locked(env, p), p, inside, w))
        return 1;
    /* inside a block with a chunk of its own, past the pages that chunk entered in the map */
    for (i = 0; inside && i < stbds_arrlen(env->chunks); i++) {
        sm__chunk *ch = env->chunks[i];
        if (!ch->starts && p >= (uintptr_t)ch->payload && p < (uintptr_t)ch->limit)
            return sm__locate_in(env, ch, p, inside, w);
    }
    return 0;
}

#ifdef SMALLOC_DEBUG
/* The invariants of a normal chunk. Nothing lies at or above the top: no start bit, no freed
   bit. A freed bit lies on a block's start (a marked-free block) or is the padding before an
   aligned block, which starts further up. Site records are in address order. A chunk another
   thread bumps may be halfway through a bump or a rollback (or frozen so in a child process
   after fork): only its records are checked. */
static void sm__check_chunk(const sm__chunk *ch)
{
    const sm__cursor *c = SM__LOAD_ACQ(&ch->cursor);
    size_t top = (size_t)(sm__chunk_top(ch) - (uintptr_t)ch->payload) / SM__GRAIN, g, k, n;
    size_t bits = ch->nwords * SM__WBITS;
    if (!ch->starts)
        return;
    if (!c || SM__LOAD(&c->thread) == SM__ME || SM__LOAD(&c->thread) == SM__NOBODY) {
        SMALLOC_ASSERT(sm__next_bit(ch->starts, top, bits) == bits);
        SMALLOC_ASSERT(sm__next_bit(ch->freed, top, bits) == bits);
        for (g = sm__next_bit(ch->freed, 0, top); g < top; g = sm__next_bit(ch->freed, g + 1, top))
            SMALLOC_ASSERT(sm__bit(ch->starts, g) || sm__next_bit(ch->starts, g + 1, top) < top);
    }
    n = SM__LOAD_ACQ(&ch->nsites);
    for (k = 1; k < n; k++)
        SMALLOC_ASSERT(SM__LOAD(&ch->sites[k - 1].at) < SM__LOAD(&ch->sites[k].at));
}

/* SM_RECYCLE: every block on a list is a marked-free block of env. */
static void sm__check_list(const sm_env *env, void *p, size_t b)
{
    for (; p; p = sm__link_get(env, p, b < SM__EXACT ? b + 1 : SM__EXACT + 1).next) {
        sm__chunk *ch = sm__link_get(env, p, b < SM__EXACT ? b + 1 : SM__EXACT + 1).chunk;
        size_t i = (size_t)((unsigned char *)p - ch->payload) / SM__GRAIN;
        SMALLOC_ASSERT(ch->env == env && ch->starts);
        SMALLOC_ASSERT(sm__bit(ch->starts, i) && sm__bit(ch->freed, i));
    }
}

/* Every chunk of env, its lists and those of the calling thread, its directory. Lock held. */
static void sm__check_env(const sm_env *env)
{
    const sm__cursor *mine = NULL;
    ptrdiff_t i;
    size_t b;
    for (i = 0; i < stbds_arrlen(env->chunks); i++) {
        SMALLOC_ASSERT(env->chunks[i]->at == (size_t)i && env->chunks[i]->env == env);
        sm__check_chunk(env->chunks[i]);
    }
    for (i = 0; i < stbds_arrlen(env->cursors); i++)
        if (env->cursors[i]->thread == SM__ME)
            mine = env->cursors[i];
    for (b = 0; (env->flags & SM_RECYCLE) && b < SM__BINS; b++) {
        sm__check_list(env, env->orphans[b], b);
        if (mine)
            sm__check_list(env, mine->bins[b], b);
    }
}
#endif

/* Waits until no other thread is inside a mark-free of a block of ch (see sm__free_other). */
static SM__NOINLINE void sm__quiesce_wait(const sm__chunk *ch)
{
    unsigned spins = 0;
    while (SM__LOAD_SC(&ch->inflight)) {
        if (++spins < 64)
            sm__relax();
        else
            sm__yield();
    }
}

static void sm__quiesce(const sm__chunk *ch)
{
    if (SM__UNLIKELY(SM__LOAD_SC(&ch->inflight) != 0))
        sm__quiesce_wait(ch);
}

/* Moves the cursor's top down to granule i (the start of the block just freed, or the top
   itself), then over the alignment padding right below it and, except with SM_RECYCLE (whose
   marked-free blocks are on lists), further over marked-free blocks. The start bits go first;
   then it waits for mark-frees of other threads in progress in the chunk (the protocol is at
   sm__free_other), and only then clears the freed bits and moves the top. */
static void sm__rollback(sm_env *env, sm__cursor *c, size_t i)
{
    size_t *freed = c->chunk->freed, hi = i, cap = (size_t)(c->end - c->base) / SM__GRAIN;
    uintptr_t old = SM__LOAD(&c->top);
    int poison = (env->flags & SM_POISON) != 0;
    if (poison)
        (void)SM__FETCH_ADD(&c->chunk->rolling, (size_t)1);
    /* i is the top itself when nothing was freed there: a full chunk has no granule i */
    if (i < cap)
        sm__clear_start(c->starts, i);
    else
        hi = cap - 1;
    for (;;) {
        /* the block before i starts at j; a freed bit above j is the padding an aligned block
           needed (a freed bit without a start bit), one at j says that block is marked free */
        size_t j = sm__prev_bit(c->starts, 0, i);
        size_t f = sm__prev_bit(freed, j == SM__NONE ? 0 : j, i);
        if (f == SM__NONE || (f == j && (env->flags & SM_RECYCLE)))
            break;
        if (f == j)
            sm__clear_start(c->starts, j);
        i = f;
    }
    sm__quiesce(c->chunk);
    if (c->chunk->sites) {
        size_t n = c->chunk->nsites;
        while (n && SM__LOAD(&c->chunk->sites[n - 1].at) >= i)
            n--;
        SM__STORE(&c->chunk->nsites, n);
    }
    sm__clear_range(freed, i, hi);
    SM__STORE_REL(&c->top, c->base + i * SM__GRAIN);
    if (poison) {
        sm__poison((void *)(c->base + i * SM__GRAIN), (size_t)(old - (c->base + i * SM__GRAIN)));
        (void)SM__FETCH_ADD(&c->chunk->rolling, (size_t)1);
    }
}

/* A block that was just marked free and stays in place: poisoned, and with SM_RECYCLE put
   on the calling thread's lists (c: a block of its own chunk) or the environment's (NULL, lock
   held), which allocating threads take over when theirs run dry: a thread that only frees
   must not hoard. */
static SM__INLINE void sm__released(sm_env *env, sm__cursor *c, sm__chunk *ch, size_t i, size_t end)
{
    if (env->flags & SM_POISON)
        sm__poison(ch->payload + i * SM__GRAIN, (end - i) * SM__GRAIN);
    if ((env->flags & SM_RECYCLE) && c) {
        sm__bin_push(env, c->bins, ch, i, end - i);
    } else if (env->flags & SM_RECYCLE) {
        sm__bin_push(env, env->orphans, ch, i, end - i);
        SM__STORE(&env->norphans, env->norphans + 1);
    }
}

/* A mark-free of p, which lies in the cursor's own chunk below its top (only this thread
   moves that top): claims the block as any thread would, and says where it starts (*i) and
   where the chunk's blocks end (*end); 0 if p is no live block. */
static int sm__claim_local(sm__cursor *c, uintptr_t p, size_t *i, size_t *end)
{
    size_t off = (size_t)(p - c->base), bit;
    if (off % SM__GRAIN)
        return 0;
    *i = off / SM__GRAIN;
    *end = (size_t)(SM__LOAD(&c->top) - c->base) / SM__GRAIN;
    if (!sm__bit(c->starts, *i))
        return 0;
    bit = (size_t)1 << (*i % SM__WBITS);
    return !(sm__fetch_or(&c->chunk->freed[*i / SM__WBITS], bit) & bit);
}

/* After sm__claim_local: the last block of the chunk rolls back, another one is released
   (flags). With SM_RECYCLE a rollback needs the lock (see sm__free_local). */
static void sm__freed_local(sm_env *env, sm__cursor *c, size_t i, size_t end)
{
    if (sm__next_bit(c->starts, i + 1, end) >= end)
        sm__rollback(env, c, i);
    else if (env->flags)
        sm__released(env, c, c->chunk, i, sm__block_end(c->chunk, i, end));
}

/* Lock held. */
static sm_status sm__free_local_locked(sm_env *env, sm__cursor *c, uintptr_t p)
{
    size_t i, end;
    SM__ASSERT_LOCKED(env);
    if (!sm__claim_local(c, p, &i, &end))
        return SM_INVALID_ARG;
    sm__freed_local(env, c, i, end);
    return SM_OK;
}

/* Apart from sm__free_fast, so that it stays small. The lock is taken only for a rollback with
   SM_RECYCLE: a thread marking free the block before this one reads where it ends from the
   start bits and the top (sm__free_slow). */
static SM__NOINLINE sm_status sm__free_local(sm_env *env, sm__cursor *c, uintptr_t p)
{
    size_t i, end;
    if (!sm__claim_local(c, p, &i, &end))
        return SM_INVALID_ARG;
    if ((env->flags & SM_RECYCLE) && sm__next_bit(c->starts, i + 1, end) >= end) {
        sm__env_lock(env);
        sm__rollback(env, c, i);
        sm__env_unlock(env);
    } else {
        sm__freed_local(env, c, i, end);
    }
    return SM_OK;
}

/* Whether a block of the cursor's chunk starts in a bitmap word after word k, below the top. */
static SM__INLINE int sm__starts_after(const sm__cursor *c, size_t k)
{
    size_t m, words = ((size_t)(SM__LOAD(&c->top) - c->base) / SM__GRAIN + SM__WBITS - 1) / SM__WBITS;
    for (m = k + 1; m < words; m++)
        if (SM__LOAD(&c->starts[m]))
            return 1;
    return 0;
}

/* Marks block i of the cursor's chunk free, as any thread would: a later block starts. */
static SM__INLINE sm_status sm__mark_free(sm__cursor *c, size_t i)
{
    size_t bit = (size_t)1 << (i % SM__WBITS);
    return (sm__fetch_or(&c->freed[i / SM__WBITS], bit) & bit) ? SM_INVALID_ARG : SM_OK;
}

/* The last block i of the cursor's chunk, its start bit already cleared (sm__top_to): waits
   for the mark-frees of other threads in progress in the chunk; the freed bit of one that won
   the race is cleared, and this mark-free refused. The top moves back either way. */
static SM__NOINLINE sm_status sm__top_back(sm__cursor *c, size_t i)
{
    size_t k = i / SM__WBITS, bit = (size_t)1 << (i % SM__WBITS), f;
    sm__quiesce(c->chunk);
    f = (SM__LOAD(&c->freed[k]) & bit) ? sm__fetch_and(&c->freed[k], ~bit) : 0;
    SM__STORE_REL(&c->top, c->base + i * SM__GRAIN);
    return (f & bit) ? SM_INVALID_ARG : SM_OK;
}

/* The top of the cursor's chunk moves back over its last block i alone, whose freed bit was
   clear with the block below live and no padding between (sm__rollback's steps, with the
   block's freed bit never set); w: the bitmap word of i's start bit, its only one. Another
   thread's mark-free of the same block (a double free) either sets that bit before the start
   bit goes, and sm__top_back waits for it and sees it, or finds the start bit gone: one of
   the two fails. */
static SM__INLINE sm_status sm__top_to(sm__cursor *c, size_t i, size_t w)
{
    size_t k = i / SM__WBITS, bit = (size_t)1 << (i % SM__WBITS);
    SM__STORE_SC(&c->starts[k], w & ~bit);
    if (SM__LIKELY(SM__LOAD_SC(&c->chunk->inflight) == 0 && !(SM__LOAD(&c->freed[k]) & bit))) {
        SM__STORE_REL(&c->top, c->base + i * SM__GRAIN);
        return SM_OK;
    }
    return sm__top_back(c, i);
}

/* The rest of sm__free_last, for its chunk's last block i: rolled back over itself alone when
   the block below (in an earlier word) is live with no padding between, else as far down as
   sm__rollback goes. */
static SM__NOINLINE sm_status sm__free_end(sm_env *env, sm__cursor *c, size_t i)
{
    size_t below = sm__prev_bit(c->starts, 0, i);
    if (below != SM__NONE && sm__prev_bit(c->freed, below, i + 1) == SM__NONE)
        return sm__top_to(c, i, SM__LOAD(&c->starts[i / SM__WBITS]));
    if (sm__mark_free(c, i) != SM_OK)
        return SM_INVALID_ARG;
    sm__rollback(env, c, i);
    return SM_OK;
}

/* The last block i of the cursor's chunk, rolled back: over this block alone (sm__top_to) when
   the block below it starts in the same word and is live, with no padding between; else
   sm__free_end. */
static SM__INLINE sm_status sm__free_top(sm_env *env, sm__cursor *c, size_t i)
{
    size_t k = i / SM__WBITS, bit = (size_t)1 << (i % SM__WBITS);
    size_t w = SM__LOAD(&c->starts[k]), below = w & (bit - 1);
    /* below: the starts under block i in its word; no freed bit from the highest of them (the
       block below) up to i itself */
    if (SM__LIKELY(below && !((SM__LOAD(&c->freed[k]) & ((bit << 1) - 1)) >> sm__msb(below))))
        return sm__top_to(c, i, w);
    return sm__free_end(env, c, i);
}

/* sm__free_last for a chunk whose top lies past the word after block i's. */
static SM__NOINLINE sm_status sm__free_before_far_top(sm_env *env, sm__cursor *c, size_t i)
{
    return sm__starts_after(c, i / SM__WBITS) ? sm__mark_free(c, i) : sm__free_top(env, c, i);
}

/* Block i of the cursor's chunk, in an environment without flags, when no later block starts
   in its bitmap word (sm__free_mine). With none in the words after it either, it is the last
   block, to roll back (sm__free_top). */
static SM__NOINLINE sm_status sm__free_last(sm_env *env, sm__cursor *c, size_t i)
{
    if ((size_t)(SM__LOAD(&c->top) - c->base) / SM__GRAIN > (i / SM__WBITS + 1) * SM__WBITS)
        return sm__free_before_far_top(env, c, i);
    return sm__free_top(env, c, i);
}

static int sm__in_cursor(const sm__cursor *c, uintptr_t p)
{
    return c && c->chunk && p >= c->base && p < SM__LOAD(&c->top);
}

/* Marks the block at p of a normal chunk free if it is one and live: the check half of the
   protocol described at sm__free_other, between sm__announce and sm__retract. top: the
   chunk's top (sm__chunk_top). */
static SM__INLINE int sm__claim_below(sm__chunk *ch, uintptr_t p, uintptr_t top)
{
    size_t off = (size_t)(p - (uintptr_t)ch->payload), i = off / SM__GRAIN, bit;
    if (off % SM__GRAIN)
        return 0;
    bit = (size_t)1 << (i % SM__WBITS);
    if (p >= top || !(SM__LOAD_SC(&ch->starts[i / SM__WBITS]) & bit) ||
        (sm__fetch_or_sc(&ch->freed[i / SM__WBITS], bit) & bit))
        return 0;
    sm__census_stale(ch);
    return 1;
}

static SM__INLINE int sm__claim_bit(sm__chunk *ch, uintptr_t p)
{
    return sm__claim_below(ch, p, sm__chunk_top(ch));
}

/* Where block i of ch ends, for a thread that has just claimed it from outside, announced with
   sm__announce_settled: until it retracts, no rollback of ch moves the top or clears a bit (a
   later one waits for it), or the chunk is one that nobody bumps. */
static SM__INLINE size_t sm__claimed_end(const sm__chunk *ch, size_t i)
{
    return sm__block_end(ch, i, (size_t)(sm__chunk_top(ch) - (uintptr_t)ch->payload) / SM__GRAIN);
}

static void sm__announce(sm__chunk *ch) { (void)SM__FETCH_ADD(&ch->inflight, (size_t)1); }
static void sm__retract(sm__chunk *ch)  { (void)SM__FETCH_ADD(&ch->inflight, (size_t)-1); }

/* SM_POISON: announces the calling thread in ch once no rollback there is halfway. A rollback
   that had already looked for announced threads would not wait for this one, and could move
   the top and hand out memory while this thread reads where its block ends and poisons it;
   one that starts later waits for it. It retracts while it waits, so that no rollback waits for
   it meanwhile. */
static void sm__announce_settled(sm__chunk *ch)
{
    for (;;) {
        sm__announce(ch);
        if (!(SM__LOAD_SC(&ch->rolling) & 1))
            return;
        sm__retract(ch);
        while (SM__LOAD_SC(&ch->rolling) & 1)
            sm__relax();
    }
}

/* Claims the block at p of ch for a thread outside the chunk; a retired chunk needs no
   announcement, as nothing rolls it back. */
static int sm__claim(sm__chunk *ch, uintptr_t p)
{
    int ok;
    if (SM__LOAD_ACQ(&ch->retired))
        return sm__claim_bit(ch, p);
    sm__announce(ch);
    ok = sm__claim_bit(ch, p);
    sm__retract(ch);
    return ok;
}

/* Takes a single chunk out of env now (SM_RECYCLE, or its thread's last allocation); the
   caller gives it back (sm__chunk_give_back) once the lock is let go. Lock held. */
static void sm__single_unlink(sm_env *env, sm__chunk *ch)
{
    ptrdiff_t k;
    SM__ASSERT_LOCKED(env);
    for (k = 0; k < stbds_arrlen(env->cursors); k++)
        if (env->cursors[k]->last_single == ch)
            env->cursors[k]->last_single = NULL;
    sm__dir_remove(env, ch);
    sm__chunk_unmap(env, ch);
}

/* Blocks of single chunks, and any block of an environment with flags: under the lock. The
   chunk is looked up again under it: a single chunk leaves the page map under the lock. */
static SM__NOINLINE sm_status sm__free_slow(sm_env *env, uintptr_t p)
{
    sm_status st = SM_INVALID_ARG;
    sm__cursor *c;
    sm__chunk *drop = NULL;
    sm__where w;
    sm__env_lock(env);
    c = sm__cursor_find(env);
    if (sm__in_cursor(c, p)) {
        st = sm__free_local_locked(env, c, p);
    } else if (sm__locate_in(env, sm__chunk_of_locked(env, p), p, 0, &w) && w.live) {
        if (!w.ch->starts) {
            if (c && c->last_single == w.ch && c->last_chunk == c->chunk &&
                c->last_top == SM__LOAD(&c->top)) {
                /* this thread's last allocation: its chunk goes back now */
                sm__single_unlink(env, drop = w.ch);
                if (c->chunk)
                    sm__rollback(env, c, (size_t)(SM__LOAD(&c->top) - c->base) / SM__GRAIN);
            } else if (env->flags & SM_RECYCLE) {
                sm__single_unlink(env, drop = w.ch);
            } else {
                w.ch->single_freed = 1;
                if (env->flags & SM_POISON)
                    sm__poison(w.start, w.size);
            }
            st = SM_OK;
        } else {
            /* released before the retraction: until then the thread bumping the chunk cannot
               roll this block back and hand its memory out again (sm__rollback waits), and
               the end is found again, as blocks above may have been rolled back meanwhile */
            sm__announce_settled(w.ch);
            if (sm__claim_bit(w.ch, p)) {
                st = SM_OK;
                sm__released(env, NULL, w.ch, w.i, sm__claimed_end(w.ch, w.i));
            }
            sm__retract(w.ch);
        }
    }
    sm__env_unlock(env);
    if (drop)
        sm__chunk_give_back(env, drop);
    return st;
}

/* The normal chunk of the last mark-free outside its own chunk by the thread of cursor mine
   (NULL: a thread without one) if it holds p, else NULL: normal chunks stay until env's reset,
   which clears freed_in, so that a run of mark-frees in one chunk looks up the page map once. */
static SM__INLINE sm__chunk *sm__remembered(const sm__cursor *mine, uintptr_t p)
{
    sm__chunk *ch = mine ? mine->freed_in : NULL;
    return ch && p - (uintptr_t)ch->payload < (uintptr_t)(ch->limit - ch->payload) ? ch : NULL;
}

/* A block outside the calling thread's current chunk, or one whose cursor that thread has not
   looked up. No lock for environments without flags. The thread announces itself in the
   chunk's `inflight` count, then checks the block against the chunk's top and start bits, then
   sets its freed bit; a rollback clears start bits first and then waits for the count to drop
   to zero before it clears freed bits (sm__rollback). Both sides are sequentially consistent,
   so either this thread sees the block gone, or the rollback sees this thread and waits: a
   double free racing with a rollback is refused and leaves no stale bit behind.
   SM_POISON and SM_RECYCLE take no lock either: the block is poisoned, and with SM_RECYCLE put
   on a list, before the thread retracts, so that no rollback hands its memory out meanwhile
   (its end: sm__claimed_end). The list is the calling thread's own (`mine`, its cursor in env)
   when that cursor bumped the chunk, else the remote list of the cursor that did. SM_TRACK
   (the records) and blocks with a chunk of their own take the lock. */
static SM__NOINLINE sm_status sm__free_flagged(sm_env *env, sm__cursor *mine, sm__chunk *ch, uintptr_t p);

/* Whether a block of ch is marked free by sm__free_retired: env has no flags and nobody rolls
   ch back (retired), so its top is `used`. */
static SM__INLINE int sm__plain_retired(const sm_env *env, const sm__chunk *ch)
{
    return !env->flags && SM__LOAD_ACQ(&ch->retired);
}

static SM__INLINE sm_status sm__free_retired(sm__chunk *ch, uintptr_t p)
{
    return sm__claim_below(ch, p, SM__LOAD_ACQ(&ch->used)) ? SM_OK : SM_INVALID_ARG;
}

/* sm__free_other once the chunk is known: ch, a normal chunk of env, which has no SM_TRACK. */
static SM__INLINE sm_status sm__free_in_chunk(sm_env *env, sm__cursor *mine, sm__chunk *ch, uintptr_t p)
{
    sm__cursor *c;
    if (sm__plain_retired(env, ch))
        return sm__free_retired(ch, p);
    c = SM__LOAD_ACQ(&ch->cursor);
    if (c && SM__LOAD(&c->thread) == SM__ME)   /* the chunk this thread bumps: it may roll back */
        return sm__in_cursor(c, p) ? sm__free_local(env, c, p) : SM_INVALID_ARG;
    if (env->flags)
        return sm__free_flagged(env, mine, ch, p);
    return sm__claim(ch, p) ? SM_OK : SM_INVALID_ARG;
}

/* sm__free_other for a pointer outside the chunk that mine remembers: the page map's chunk. */
static SM__NOINLINE sm_status sm__free_looked_up(sm_env *env, sm__cursor *mine, uintptr_t p)
{
    sm__chunk *ch;
    if (!p)
        return SM_OK;
    ch = sm__chunk_of(env, p);
    if (!ch)
        return SM_INVALID_ARG;
    if (!ch->starts || (env->flags & SM_TRACK))
        return sm__free_slow(env, p);
    if (mine)
        mine->freed_in = ch;
    return sm__free_in_chunk(env, mine, ch, p);
}

static SM__NOINLINE sm_status sm__free_other(sm_env *env, sm__cursor *mine, uintptr_t p)
{
    /* never remembered with SM_TRACK, whose mark-frees all take sm__free_slow */
    sm__chunk *ch = sm__remembered(mine, p);
    return ch ? sm__free_in_chunk(env, mine, ch, p) : sm__free_looked_up(env, mine, p);
}

/* sm__free_other's part for SM_POISON and SM_RECYCLE. */
static SM__NOINLINE sm_status sm__free_flagged(sm_env *env, sm__cursor *mine, sm__chunk *ch, uintptr_t p)
{
    int ok, retired = SM__LOAD_ACQ(&ch->retired);
    if (!retired)
        sm__announce_settled(ch);
    ok = sm__claim_bit(ch, p);
    if (ok) {
        size_t i = (size_t)(p - (uintptr_t)ch->payload) / SM__GRAIN;
        sm__cursor *owner = SM__LOAD_ACQ(&ch->owner);
        if ((env->flags & SM_RECYCLE) && owner != mine) {
            /* the owner finds the length itself (sm__remote_collect) */
            if (env->flags & SM_POISON)
                sm__poison(ch->payload + i * SM__GRAIN, (sm__claimed_end(ch, i) - i) * SM__GRAIN);
            sm__remote_push(env, owner, ch, i);
        } else {
            sm__released(env, mine, ch, i, sm__claimed_end(ch, i));
        }
    }
    if (!retired)
        sm__retract(ch);
    return ok ? SM_OK : SM_INVALID_ARG;
}

/* The common mark-free, inlined into sm_env_free and sm_free: c is the calling thread's cursor
   in an environment without flags (or sm__blocked, which has no chunk). A block of c's chunk
   with a later block starting in the same bitmap word is claimed here; this chunk's other
   blocks go to sm__free_last, and anything else to sm__free_other with `mine`, the thread's
   real cursor in env. Below the top of c's chunk every block start has its bit (only this
   thread writes them), so an address without one is no block. */
static SM__INLINE sm_status sm__free_mine(sm_env *env, sm__cursor *c, sm__cursor *mine, uintptr_t p)
{
    size_t off = (size_t)(p - c->base), i, here;
    if (off >= (size_t)(SM__LOAD(&c->top) - c->base)) {
        /* a chunk the thread has moved on from, remembered: the most common of the others */
        sm__chunk *ch = sm__remembered(mine, p);
        if (!ch)
            return sm__free_looked_up(env, mine, p);
        return sm__plain_retired(env, ch) ? sm__free_retired(ch, p) : sm__free_other(env, mine, p);
    }
    i = off / SM__GRAIN;
    here = SM__LOAD(&c->starts[i / SM__WBITS]) >> (i % SM__WBITS);   /* bit 0: block i */
    if (off % SM__GRAIN || !(here & 1))
        return SM_INVALID_ARG;
    if (SM__LIKELY(here > 1))
        return sm__mark_free(c, i);
    return sm__free_last(env, c, i);
}

/* ---------------------------------------------------------------------------------------- */
/* Environments                                                                             */
/* ---------------------------------------------------------------------------------------- */

static void *sm__malloc_backing(void *context, size_t size, const char *file, int line)
{
    (void)context; (void)file; (void)line;
    return malloc(size);
}

static void sm__free_backing(void *context, void *ptr, size_t size)
{
    (void)context; (void)size;
    free(ptr);
}

/* Whether a configuration is acceptable: checked before anything is allocated. */
static int sm__config_ok(const sm_config *c)
{
    return !c || (!c->alloc == !c->free && !(c->flags & ~(unsigned)(SM_TRACK | SM_POISON | SM_RECYCLE)) &&
                  (!c->report || (c->flags & SM_TRACK)));
}

/* The bytes of an environment: SM_RECYCLE adds its lists and those of its solo cursor. */
static size_t sm__env_bytes(unsigned flags)
{
    return sizeof(sm_env) + ((flags & SM_RECYCLE) ? 2 * SM__BINS * sizeof(void *) : 0);
}

/* What a thread keeps of the environments it destroys, for the next ones it creates. */
#define SM__SPARE_ENVS  4
#define SM__SPARE_BYTES ((size_t)256 << 10)   /* of chunks, per environment kept */

/* Starts a life of env, new or taken from the thread's cache, configured (sm__env_configure). */
static SM__INLINE void sm__env_begin(sm_env *env)
{
    /* a parked environment's first thread goes on growing where it stopped (up to an eighth of
       what a thread keeps of an environment), so that blocks that fitted in the chunks it kept
       do not get chunks of their own at every request */
    if (env->solo.next_size < env->chunk_size || env->solo.next_size > SM__SPARE_BYTES / 8)
        env->solo.next_size = env->chunk_size;
    env->owner = NULL;
    env->backing_peak = env->backing_bytes;
    /* the solo cursor is zero in a new environment, or parked with its chunk (sm__env_park) */
    if (SM__LOAD(&env->solo.thread) == SM__ME)
        sm__solo_owned(env);
    else
        SM__STORE(&env->solo_fast, SM__NOBODY);
    env->exits_seen = SM__LOAD(&sm__exits);
}

/* Sets env up for a checked configuration whose alloc and free are filled in. */
static void sm__env_configure(sm_env *env, const sm_config *cfg, size_t chunk, int cached)
{
    if (env->chunk_size != chunk)
        env->solo.next_size = chunk;
    env->alloc = cfg->alloc;
    env->free = cfg->free;
    env->context = cfg->context;
    env->chunk_size = chunk;
    env->max_size = chunk > SIZE_MAX / 256 ? chunk : chunk * 256;
    if (env->max_size > ((size_t)64 << 20))
        env->max_size = chunk > ((size_t)64 << 20) ? chunk : ((size_t)64 << 20);
    env->flags = cfg->flags;
    env->cached = cached;
    env->report = cfg->report;
    env->report_user = cfg->report_user;
    /* a new environment is zeroed; one taken from a thread's cache was emptied when parked, and
       has no parent, children or siblings (sm__env_delete) */
    env->orphans = (cfg->flags & SM_RECYCLE) ? (void **)(void *)(env + 1) : NULL;
}

/* Tells the tools (and SM_POISON) about the payloads of env's chunks and spares: hidden while
   env waits in a thread's cache, as the chunk cache hides its memory; shown (or poisoned, for
   SM_POISON) when it is taken again. Callers skip it when neither a tool nor SM_POISON asks. */
static SM__NOINLINE void sm__env_expose(sm_env *env, int how)
{
    ptrdiff_t i, n = stbds_arrlen(env->chunks), m = stbds_arrlen(env->spares);
    for (i = 0; i < n + m; i++) {
        sm__chunk *ch = i < n ? env->chunks[i] : env->spares[i - n];
        size_t span = (size_t)(ch->limit - ch->payload);
        if (how == SM__HIDE)
            sm__hide(ch->payload, span);
        else if (env->flags & SM_POISON)
            sm__poison(ch->payload, span);
        else
            sm__show(ch->payload, span);
    }
}


/* The first chunk's size for a configuration's chunk_size. */
static size_t sm__first_chunk(size_t chunk_size)
{
    size_t chunk = chunk_size ? chunk_size : (size_t)SMALLOC_DEFAULT_CHUNK_SIZE;
    return chunk < SM__MIN_CHUNK ? SM__MIN_CHUNK : chunk;
}

/* Takes env, configured, off the calling thread's cache of released environments. */
static SM__INLINE sm_env *sm__env_reuse(sm_env *env)
{
    unsigned flags = env->flags;
    sm__t.spare_envs = env->next_spare;
    sm__t.nspare_envs--;
    sm__env_begin(env);
    if (SM__TOOLS || (flags & SM_POISON))
        sm__env_expose(env, SM__SHOW);
    sm__slot_renew(env);
    return env;
}

/* sm__env_new when no environment of the thread's cache has the defaults: configures one of
   them, or makes a new one. */
static SM__NOINLINE sm_env *sm__env_make(const sm_config *config, sm_status *status)
{
    static const sm_config defaults = { 0, NULL, NULL, NULL, 0, NULL, NULL };
    sm_config cfg;
    sm_env *env = sm__t.spare_envs;
    void *raw;
    size_t chunk, self, got;
    int slotted, cached;
    *status = SM_INVALID_ARG;
    if (!config)
        config = &defaults;
    if (!sm__config_ok(config))
        return NULL;
    cfg = *config;
    cached = !cfg.alloc && SMALLOC_CACHE_SIZE > 0;
    if (!cfg.alloc) {
        cfg.alloc = sm__malloc_backing;
        cfg.free = sm__free_backing;
    }
    chunk = sm__first_chunk(cfg.chunk_size);
    self = sm__env_bytes(cfg.flags);
    *status = SM_OK;
    if (cached && env && env->self_size == self) {
        sm__env_configure(env, &cfg, chunk, 1);
        return sm__env_reuse(env);
    }
    *status = SM_OUT_OF_MEMORY;
    raw = cached ? sm__cache_take(self, self, &self) : NULL;
    got = self;
    if (!raw) {
        /* a backing allocator may align its memory to less than a granule: room to align */
        got = self + (cached ? 0 : SM__GRAIN - 1);
        raw = cfg.alloc(cfg.context, got, NULL, 0);
    }
    if (!raw)
        return NULL;
    env = (sm_env *)(void *)sm__grain_up((unsigned char *)raw);
    memset(env, 0, self);
    env->solo.thread = SM__NOBODY;
    env->self_base = raw;
    env->backing_bytes = env->self_size = got;
    sm__env_configure(env, &cfg, chunk, cached);
    sm__env_begin(env);
    slotted = sm__mutex_init(&env->lock);
    if (slotted) {
        sm__global_lock();
        sm__fork_hook();
        slotted = sm__slot_acquire(env);
        sm__global_unlock();
        if (!slotted)
            sm__mutex_destroy(&env->lock);
    }
    if (!slotted) {
        cfg.free(cfg.context, raw, got);
        return NULL;
    }
    *status = SM_OK;
    return env;
}

/* The steady state of a server: an environment this thread released, with its chunks and its
   handle slot, and no lock; one made with the defaults needs no configuring again. */
static SM__INLINE sm_env *sm__env_new(const sm_config *config, sm_status *status)
{
    sm_env *env = sm__t.spare_envs;
    if (!config && env && !env->flags && !env->context && env->self_size == sm__env_bytes(0) &&
        env->chunk_size == sm__first_chunk(0)) {
        *status = SM_OK;
        return sm__env_reuse(env);
    }
    return sm__env_make(config, status);
}

static int sm__report(const sm_env *env, sm_report_fn *fn, void *user, int at_destroy);

/* A normal chunk whose blocks are all released: its bitmaps cleared over the part that was
   used (up to used_end), no sites. */
static SM__NOINLINE void sm__chunk_scrub(const sm_env *env, sm__chunk *ch, size_t used, size_t words)
{
    memset(ch->starts, 0, words * sizeof *ch->starts);
    memset(ch->freed, 0, words * sizeof *ch->freed);
    if (env->flags & SM_POISON)
        sm__poison(ch->payload, used);
}

/* Often a bitmap word or two: then a loop costs less than calls to memset (its stores are
   atomic ones so that compilers keep it a loop). */
static SM__INLINE void sm__chunk_clear(const sm_env *env, sm__chunk *ch, uintptr_t used_end)
{
    size_t used = (size_t)(used_end - (uintptr_t)ch->payload), words = used / SM__GRAIN / SM__WBITS + 1, k = 0;
    if (words > ch->nwords)
        words = ch->nwords;
    ch->used = (uintptr_t)ch->payload;
    ch->nsites = 0;
    SM__STORE(&ch->retired, 0);
    SM__STORE(&ch->census_ok, 0);
    if (words > 8 || (env->flags & SM_POISON)) {
        sm__chunk_scrub(env, ch, used, words);
        return;
    }
    do {
        SM__STORE(&ch->starts[k], (size_t)0);
        SM__STORE(&ch->freed[k], (size_t)0);
    } while (++k < words);
}

/* The blocks of the chunk that cursor keep stays on (up to its top) are released. */
static SM__INLINE void sm__kept_chunk_clear(const sm_env *env, sm__cursor *keep)
{
    sm__chunk_clear(env, keep->chunk, SM__LOAD(&keep->top));
}

/* A cursor left on its chunk, emptied (sm__chunk_clear), so that its next allocations take
   the fast path; with SM_RECYCLE its lists emptied. */
static void sm__cursor_empty(sm__cursor *c)
{
    SM__STORE_REL(&c->top, c->base);
    c->last_single = NULL;
    c->remote = NULL;
    c->freed_in = NULL;
    if (c->bins)
        memset(c->bins, 0, SM__BINS * sizeof *c->bins);
}

/* Releases every block: normal chunks become spares, their bitmaps cleared over the part that
   was used; single chunks go back, or with keep_singles become spares too (still in the page
   map, for this environment's next large blocks). Cursors are parked, except that `keep` (if
   not NULL) stays on its chunk, emptied, so that its next allocations take the fast path.
   Nobody else is inside a call on env. Returns the chunks to give back (sm__chunks_give_back),
   out of the page map already. */
static sm__chunk *sm__env_clear(sm_env *env, sm__cursor *keep, int keep_singles)
{
    sm__chunk *out = NULL;
    sm__chunk *kept = keep ? keep->chunk : NULL;
    if (kept && stbds_arrlenu(env->cursors) == 1 && stbds_arrlenu(env->chunks) == 1) {
        /* one thread, one chunk (keep's): the common case of an environment per request */
        sm__kept_chunk_clear(env, keep);
    } else {
        ptrdiff_t i, n = 0;
        for (i = 0; i < stbds_arrlen(env->cursors); i++) {
            sm__cursor *c = env->cursors[i];
            if (c->chunk)
                c->chunk->used = SM__LOAD(&c->top);
            if (c != keep)
                sm__cursor_park(c);
        }
        for (i = 0; i < stbds_arrlen(env->chunks); i++) {
            sm__chunk *ch = env->chunks[i];
            void *grown;
            if (ch->starts)
                sm__chunk_clear(env, ch, ch->used);
            if (ch == kept) {
                ch->at = (size_t)n;
                env->chunks[n++] = ch;
            } else if ((ch->starts || keep_singles) &&
                       /* keeping the chunks is what lets an environment reused per request
                          stop calling the backing allocator; without room for them, they go
                          back */
                       sm__reserve(env->spares, sizeof *env->spares, 1, &grown)) {
                env->spares = (sm__chunk **)grown;
                ch->used = (uintptr_t)ch->payload;   /* no block: a kept single chunk is empty too */
                SM__STORE(&ch->cursor, (sm__cursor *)NULL);
                SM__ARRPUT(env->spares, ch);
            } else {
                sm__chunk_unmap(env, ch);
                ch->next_out = out;
                out = ch;
            }
        }
        if (env->chunks)
            stbds_header(env->chunks)->length = (size_t)n;
    }
    if (kept)
        sm__cursor_empty(keep);
    else if (keep)
        sm__cursor_park(keep);
    if (env->orphans)
        memset(env->orphans, 0, SM__BINS * sizeof *env->orphans);
    env->norphans = 0;
    return out;
}

/* Keeps env, its handles made stale and its blocks released, in the calling thread's cache
   with its chunks (up to SM__SPARE_BYTES), its lock and its slot; 0 if it cannot be kept. */
/* Whether env (released) may wait in the calling thread's cache: it uses malloc, the cache has
   room, and its slot's generation can still grow. */
static int sm__env_parkable(const sm_env *env)
{
    return env->cached && sm__t.nspare_envs < SM__SPARE_ENVS && SM__LOAD(&env->slot->gen) < SM__GEN_MAX;
}

static void sm__spare_push(sm_env *env)
{
    env->next_spare = sm__t.spare_envs;
    sm__t.spare_envs = env;
    sm__t.nspare_envs++;
}

static int sm__env_park(sm_env *env)
{
    ptrdiff_t i;
    size_t kept = 0;
    sm__cursor *keep, **cursors;
    if (!sm__env_parkable(env) || !sm__self())
        return 0;
    sm__slot_stale(env);
    /* this thread's solo cursor stays on its chunk, if it is not larger than what a thread keeps:
       the next create here allocates at once */
    keep = SM__LOAD(&env->solo.thread) == SM__ME &&
           (!env->solo.chunk || env->solo.chunk->size <= SM__SPARE_BYTES) ? &env->solo : NULL;
    if (keep && keep->chunk)
        kept = keep->chunk->size;
    sm__chunks_give_back(env, sm__env_clear(env, keep, 1));
    cursors = env->cursors;
    if (cursors && stbds_arrlenu(cursors) > (size_t)(keep != NULL)) {
        for (i = 0; i < stbds_arrlen(cursors); i++)
            if (cursors[i] != keep)
                sm__cursor_delete(env, cursors[i]);
        stbds_header(cursors)->length = 0;
        if (keep)
            SM__ARRPUT(cursors, keep);   /* it was there: the room is */
    }
    for (i = 0; i < stbds_arrlen(env->spares);) {
        sm__chunk *ch = env->spares[i];
        if (kept + ch->size <= SM__SPARE_BYTES) {
            kept += ch->size;
            i++;
        } else {
            stbds_arrdelswap(env->spares, i);
            sm__chunk_dispose(env, ch);
        }
    }
    if (SM__TOOLS)
        sm__env_expose(env, SM__HIDE);
    sm__spare_push(env);
    return 1;
}

/* An environment that uses the cache is being released. One larger than what a thread keeps of
   it (SM__SPARE_BYTES) adjusts the figure the cache follows; small ones, which stay in the
   thread's cache and cost no lock, let it decay at every eighth release (a count kept without
   atomic read-modify-write: a lost update only delays that). */
static SM__INLINE void sm__cache_released(size_t bytes)
{
    size_t n;
    if (bytes > SM__SPARE_BYTES) {
        sm__cache_note_release(bytes);
        return;
    }
    if (SM__LOAD(&sm__cache_demand) <= SMALLOC_CACHE_SIZE)
        return;
    n = SM__LOAD(&sm__small_releases) + 1;
    SM__STORE(&sm__small_releases, n);
    if (n % 8 == 0)
        sm__cache_note_release(bytes);
}

/* Gives back everything env holds, and env itself; its handles are stale already. */
static void sm__env_free(sm_env *env)
{
    ptrdiff_t i;
    sm_backing_free_fn *release = env->free;
    void *context = env->context, *self_base;
    size_t self_size;
    sm__global_lock();
    sm__slot_release(env);
    sm__global_unlock();
    for (i = 0; i < stbds_arrlen(env->chunks); i++)
        sm__chunk_dispose(env, env->chunks[i]);
    for (i = 0; i < stbds_arrlen(env->spares); i++)
        sm__chunk_dispose(env, env->spares[i]);
    stbds_arrfree(env->spares);
    for (i = 0; i < stbds_arrlen(env->cursors); i++)
        sm__cursor_delete(env, env->cursors[i]);
    stbds_arrfree(env->chunks);
    stbds_arrfree(env->cursors);
    stbds_arrfree(env->cleanups);
    sm__mutex_destroy(&env->lock);
    /* read before the memory goes to the cache, whose tools then see it as undefined */
    self_base = env->self_base;
    self_size = env->self_size;
    if (!env->cached || !sm__cache_put(self_base, self_size, SM__TAG(SM__ME)))
        release(context, self_base, self_size);
}

/* Gives back the environments the calling thread keeps. */
static void sm__spare_envs_free(void)
{
    while (sm__t.spare_envs) {
        sm_env *env = sm__t.spare_envs;
        sm__t.spare_envs = env->next_spare;
        sm__t.nspare_envs--;
        sm__env_free(env);
    }
}

/* Everything the environment holds goes back (or waits in the calling thread's cache);
   handles to it become stale first. */
/* The end of an environment whose children and cleanups are done: its report, then its memory
   goes back (or it waits in the calling thread's cache). */
static void sm__env_finish(sm_env *env)
{
    if (env->cached)
        sm__cache_released(SM__LOAD(&env->backing_bytes));
    if (env->report)
        (void)sm__report(env, env->report, env->report_user, 1);
    if (sm__env_park(env))
        return;
    sm__slot_stale(env);
    sm__env_free(env);
}

static void sm__child_leave(sm_env *child);
static void sm__env_unwind(sm_env *env);

/* sm__env_delete of the environment a server makes per request, in the state sm__env_park
   leaves its cursor and chunk: no flags, parent, children or cleanups, and one cursor, the
   calling thread's solo one, on the only chunk, not larger than a thread keeps. The same as
   sm__env_delete, without its walks; 0 if env is not such an environment. */
static int sm__env_park_plain(sm_env *env)
{
    sm__chunk *ch = env->solo.chunk;
    if (env->flags || SM__TOOLS || env->parent || env->last_child || stbds_arrlen(env->cleanups) ||
        SM__LOAD(&env->solo.thread) != SM__ME || !ch || ch->size > SM__SPARE_BYTES ||
        stbds_arrlenu(env->cursors) != 1 || stbds_arrlenu(env->chunks) != 1 || stbds_arrlen(env->spares) ||
        !sm__env_parkable(env))
        return 0;
    sm__cache_released(SM__LOAD(&env->backing_bytes));
    sm__slot_stale(env);
    sm__kept_chunk_clear(env, &env->solo);
    sm__cursor_empty(&env->solo);
    sm__spare_push(env);
    return 1;
}

static void sm__env_delete(sm_env *env)
{
    if (sm__env_park_plain(env))
        return;
    sm__child_leave(env);
    sm__env_unwind(env);
    sm__env_finish(env);
}

SMALLOC_DEF sm_env *sm_env_create(const sm_config *config, sm_status *status)
{
    sm_status st;
    sm_env *env = sm__env_new(config, &st);
    if (status)
        *status = st;
    return env;
}

static int sm__enabled_unlink(sm__thread *rec, const sm_env *env);
static void sm__attach_to(const sm__attach *at);

/* sm_env_destroy of an enabled environment: only its owner may take it off its list (other
   threads: refused), as its disable would when it is current. */
static SM__NOINLINE sm_status sm__env_destroy_enabled(sm_env *env)
{
    if (env->owner != sm__fast_tls.thread || !sm__enabled_unlink(env->owner, env))
        return SM_INVALID_ARG;
    if (sm__fast_tls.current.env == env)
        sm__attach_to(&env->enabled_prev);
    sm__env_delete(env);
    return SM_OK;
}

SMALLOC_DEF sm_status sm_env_destroy(sm_env *env)
{
    if (!env)
        return SM_INVALID_ARG;
    if (env->owner)
        return sm__env_destroy_enabled(env);
    sm__env_delete(env);
    return SM_OK;
}

SMALLOC_DEF sm_status sm_env_reset(sm_env *env)
{
    sm__chunk *out;
    if (!env)
        return SM_INVALID_ARG;
    sm__env_unwind(env);
    sm__env_lock(env);
    out = sm__env_clear(env, env->solo.thread != SM__NOBODY ? &env->solo : NULL, 0);
    sm__env_unlock(env);
    sm__chunks_give_back(env, out);
    return SM_OK;
}

/* The calling thread's cursor in env if the cache knows it, else NULL. Handles are unique
   among all environments ever created, so a new environment at the address of a destroyed one
   does not match. */
static sm__cursor *sm__cached_cursor(const sm_env *env)
{
    /* the thread's cache first: the solo cursor's line changes at each of its thread's
       allocations */
    size_t k = SM__CACHE_WAY(env->handle);
    if (sm__t.cache_handle[k] == env->handle)
        return sm__t.cache_cursor[k];
    return SM__LOAD(&env->solo.thread) == SM__ME ? (sm__cursor *)(uintptr_t)&env->solo : NULL;
}

/* Puts the calling thread's cursor c in env (NULL: none yet) in its cache. */
static void sm__remember(const sm_env *env, sm__cursor *c)
{
    size_t k = SM__CACHE_WAY(env->handle);
    if (!c)
        return;
    sm__t.cache_handle[k] = env->handle;
    sm__t.cache_cursor[k] = c;
}

/* Every allocation the inline fast paths did not serve, with c the calling thread's cursor in
   env if known; *cursor receives it. */
static void *sm__allocate_in(sm_env *env, sm__cursor *c, size_t size, size_t alignment, sm_status *status,
                             const char *file, int line, sm__cursor **cursor)
{
    void *p;
    if (alignment < SM__GRAIN)
        alignment = SM__GRAIN;
    if (env->flags)
        return sm__allocate_flagged(env, c, size, alignment, status, file, line, cursor);
    if (c && (p = sm__bump_aligned(c, size, alignment)) != NULL) {
        if (status)
            *status = SM_OK;
        *cursor = c;
        return p;
    }
    return sm__allocate_slow(env, size, alignment, status, file, line, cursor);
}

/* SM_RECYCLE alone, the calling thread owning the solo cursor: a block from its own lists, or
   one bumped while no other thread's mark-frees wait to be taken; NULL leaves the rest
   (collecting those, the slow path, failures) to sm__allocate_flagged. exact_empty: the
   caller found the exact class of size empty. */
static void *sm__recycle_take(sm_env *env, size_t size, int exact_empty)
{
    sm__cursor *c = &env->solo;
    size_t n = sm__recycled_size(size);
    uintptr_t top;
    void *p;
    if (!n)
        return NULL;
    p = exact_empty ? NULL : sm__bin_pop(env, c->bins, n / SM__GRAIN);
    if (p) {
        (void)sm__bin_claim(env, p, n / SM__GRAIN);
    } else if ((p = sm__bin_cut(env, c, c->bins, n / SM__GRAIN)) == NULL) {
        top = SM__LOAD(&c->top);
        if (!SM__FITS(c, top, n) || SM__LOAD(&c->remote) || SM__LOAD(&env->norphans) ||
            SM__LOAD(&sm__exits) != SM__LOAD(&env->exits_seen))
            return NULL;
        p = sm__bump(c, top, n);
    }
    sm__show(p, size);
    return p;
}

/* An environment with SM_RECYCLE alone, and the calling thread owns its solo cursor: the
   common case of a long-lived environment, which sm_env_allocate and sm_env_free send straight
   to sm__recycle_allocate and sm__recycle_free. */
static int sm__recycling_solo(const sm_env *env)
{
    return SM__LOAD(&env->solo_fast) == SM__ME_RECYCLING;
}

/* sm__env_allocate past its checks and SM_RECYCLE's lists. */
static void *sm__env_allocate_cursor(sm_env *env, size_t size, size_t alignment, sm_status *status,
                                     const char *file, int line)
{
    sm__cursor *c, *known = sm__cached_cursor(env);
    void *p = sm__allocate_in(env, known, size, alignment, status, file, line, &c);
    if (c != known)
        sm__remember(env, c);
    return p;
}

static SM__NOINLINE void *sm__recycle_allocate_rest(sm_env *env, size_t size, sm_status *status)
{
    /* sm__recycle_allocate found an exact class empty */
    void *p = sm__recycle_take(env, size, size - 1 < SM__EXACT * SM__GRAIN);
    if (!p)
        return sm__env_allocate_cursor(env, size, SM__GRAIN, status, NULL, 0);
    if (status)
        *status = SM_OK;
    return p;
}

/* sm__recycling_solo: a block from the list of its exact size class when there is one (what
   sm__bin_pop and sm__bin_claim do for it, with nothing to save on the way), else the rest of
   sm__recycle_take and the general path. */
static SM__NOINLINE void *sm__recycle_allocate(sm_env *env, size_t size, sm_status *status)
{
    /* sm__recycled_size in granules, for the sizes of the exact classes (not 0) */
    size_t n = (size < 2 * sizeof(void *) ? 2 * sizeof(void *) : size + SM__GRAIN - 1) / SM__GRAIN;
    void **bins = env->solo.bins, *p;
    if (SM__LIKELY(size - 1 < SM__EXACT * SM__GRAIN) && (p = bins[n - 1]) != NULL) {
        bins[n - 1] = sm__link_get(env, p, n).next;
        (void)sm__bin_claim(env, p, n);
        sm__show(p, size);
        if (status)
            *status = SM_OK;
        return p;
    }
    return sm__recycle_allocate_rest(env, size, status);
}

static SM__NOINLINE void *sm__env_allocate(sm_env *env, size_t size, size_t alignment, sm_status *status,
                                           const char *file, int line)
{
    void *p;
    if (SM__UNLIKELY(!env || !alignment || (alignment & (alignment - 1)))) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    if (alignment == SM__GRAIN && sm__recycling_solo(env) && (p = sm__recycle_take(env, size, 0)) != NULL) {
        if (status)
            *status = SM_OK;
        return p;
    }
    return sm__env_allocate_cursor(env, size, alignment, status, file, line);   /* the site */
}

/* The fast paths of a thread that does not own env's solo cursor: its cursor there from its
   cache, or NULL (a miss, or env has flags) for the other paths. */
static SM__INLINE sm__cursor *sm__cached_fast(const sm_env *env)
{
    size_t k = SM__CACHE_WAY(env->handle);
    return !env->flags && sm__t.cache_handle[k] == env->handle ? sm__t.cache_cursor[k] : NULL;
}

SMALLOC_DEF void *(sm_env_allocate)(sm_env *env, size_t size, sm_status *status)
{
    sm__cursor *c;
    if (SM__LIKELY(env != NULL)) {
        if (SM__LIKELY(SM__LOAD(&env->solo_fast) == SM__ME))
            c = &env->solo;
        else if (sm__recycling_solo(env))
            return sm__recycle_allocate(env, size, status);
        else
            c = sm__cached_fast(env);
        if (c) {
            uintptr_t top = SM__LOAD(&c->top);
            if (SM__FITS(c, top, size)) {
                if (status)
                    *status = SM_OK;
                return sm__bump(c, top, size);
            }
        }
    }
    return sm__env_allocate(env, size, SM__GRAIN, status, NULL, 0);
}

SMALLOC_DEF void *sm_env_allocate_at(sm_env *env, size_t size, sm_status *status, const char *file, int line)
{
    return sm__env_allocate(env, size, SM__GRAIN, status, file, line);
}

SMALLOC_DEF void *sm_env_allocate_aligned(sm_env *env, size_t size, size_t alignment, sm_status *status)
{
    return sm__env_allocate(env, size, alignment, status, NULL, 0);
}

static sm_status sm__free_in(sm_env *env, sm__cursor *c, void *node)
{
    if (!node)
        return SM_OK;
    if (sm__in_cursor(c, (uintptr_t)node))
        return sm__free_local(env, c, (uintptr_t)node);
    return sm__free_other(env, c, (uintptr_t)node);
}

/* sm__recycling_solo: a block of the solo cursor's chunk with a block after it, or of a retired
   chunk that cursor bumped, goes on its lists as in sm__free_local and sm__free_flagged,
   without the layers before them; anything else (a last block, which rolls back) takes them.
   In its own chunk a block's end is known before the claim: only this thread moves the top and
   sets start bits there, and other threads' freed bits fall on start bits. */
static SM__NOINLINE sm_status sm__recycle_free(sm_env *env, uintptr_t p)
{
    sm__cursor *c = &env->solo;
    sm__chunk *ch;
    size_t off = (size_t)(p - c->base), top = (size_t)(SM__LOAD(&c->top) - c->base);
    if (off < top) {
        size_t i = off / SM__GRAIN, end = sm__block_end(c->chunk, i, top / SM__GRAIN);
        if (off % SM__GRAIN || end == top / SM__GRAIN)
            return sm__free_local(env, c, p);
        if (!sm__bit(c->starts, i) || sm__mark_free(c, i) != SM_OK)
            return SM_INVALID_ARG;
        sm__bin_push(env, c->bins, c->chunk, i, end - i);
        return SM_OK;
    }
    ch = sm__remembered(c, p);
    if (!ch && (ch = sm__chunk_of(env, p)) != NULL && ch->starts)
        c->freed_in = ch;
    if (ch && ch->starts && SM__LOAD_ACQ(&ch->retired) && SM__LOAD_ACQ(&ch->owner) == c) {
        uintptr_t used = SM__LOAD_ACQ(&ch->used);   /* a retired chunk's top for good */
        size_t i = (size_t)(p - (uintptr_t)ch->payload) / SM__GRAIN;
        if (!sm__claim_below(ch, p, used))
            return SM_INVALID_ARG;
        sm__bin_push(env, c->bins, ch, i, sm__block_end(ch, i, (size_t)(used - (uintptr_t)ch->payload) / SM__GRAIN) - i);
        return SM_OK;
    }
    return sm__free_in(env, c, (void *)p);
}

static SM__NOINLINE sm_status sm__env_free_block(sm_env *env, void *node)
{
    if (!env)
        return SM_INVALID_ARG;
    return sm__free_in(env, sm__cached_cursor(env), node);
}

SMALLOC_DEF sm_status sm_env_free(sm_env *env, void *node)
{
    if (SM__LIKELY(env != NULL)) {
        sm__cursor *c;
        if (SM__LIKELY(SM__LOAD(&env->solo_fast) == SM__ME))
            return sm__free_mine(env, &env->solo, &env->solo, (uintptr_t)node);
        if (sm__recycling_solo(env))
            return sm__recycle_free(env, (uintptr_t)node);
        if ((c = sm__cached_fast(env)) != NULL)
            return sm__free_mine(env, c, c, (uintptr_t)node);
    }
    return sm__env_free_block(env, node);
}

/* Whether block w is the last of cursor c's chunk, with room there for n bytes: it then grows
   and shrinks in place, by moving c's top (only c's thread may). */
static int sm__last_with_room(const sm__cursor *c, const sm__where *w, size_t n)
{
    return c && w->ch == c->chunk && w->end == (size_t)(SM__LOAD(&c->top) - c->base) / SM__GRAIN &&
           (size_t)(c->end - (uintptr_t)w->start) >= n;
}

/* sm__reallocate_in without the lock, for a block of ch in an environment without SM_TRACK or
   SM_POISON, n (> 0) the new size rounded: ch is c's chunk, where only the calling thread
   moves the top, or a retired chunk, where nobody does; so the block's end stays where it is
   while it is live. The last block of c's chunk grows and shrinks in place. */
static void *sm__reallocate_unlocked(sm_env *env, sm__cursor *c, sm__chunk *ch, void *node, size_t old_size,
                                     size_t new_size, size_t n, sm_status *status, sm__cursor **cursor)
{
    sm__where w;
    void *q;
    int solo;
    if (!sm__block_at(ch, (uintptr_t)node, 0, &w) || !w.live || old_size > w.size) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    if (sm__last_with_room(c, &w, n)) {
        SM__STORE_REL(&c->top, (uintptr_t)w.start + n);
        w.size = n;
    }
    if (n <= w.size) {
        if (status)
            *status = SM_OK;
        return node;
    }
    /* SM_RECYCLE's first thread: the direct paths of its sm_env_allocate and sm_env_free */
    solo = sm__recycling_solo(env);
    q = solo ? sm__recycle_allocate(env, new_size, status)
             : sm__allocate_in(env, c, new_size, SM__GRAIN, status, NULL, 0, cursor);
    if (q) {
        memcpy(q, node, old_size < new_size ? old_size : new_size);
        (void)(solo ? sm__recycle_free(env, (uintptr_t)node) : sm__free_in(env, *cursor, node));
    }
    return q;
}

/* Grows or shrinks node in env, c the calling thread's cursor there if known. */
static void *sm__reallocate_in(sm_env *env, sm__cursor *c, void *node, size_t old_size, size_t new_size,
                               sm_status *status, sm__cursor **cursor)
{
    sm__where w;
    int found, in_place = 0;
    const char *file = NULL;
    int line = 0;
    size_t n = sm__round(new_size);
    void *q;
    if ((env->flags & SM_RECYCLE) && n && n < 2 * sizeof(void *))
        n = 2 * sizeof(void *);   /* as sm__allocate_flagged: room for a list link */
    *cursor = c;
    if (!node)
        return sm__allocate_in(env, c, new_size, SM__GRAIN, status, NULL, 0, cursor);
    if (!(env->flags & (SM_TRACK | SM_POISON)) && n) {
        sm__chunk *ch = sm__chunk_of(env, (uintptr_t)node);
        if (ch && ch->starts && ((c && ch == c->chunk) || SM__LOAD_ACQ(&ch->retired)))
            return sm__reallocate_unlocked(env, c, ch, node, old_size, new_size, n, status, cursor);
    }
    sm__env_lock(env);
    if (!c)
        c = sm__cursor_find(env);
    found = sm__locate(env, (uintptr_t)node, 0, &w) && w.live && old_size <= w.size;
    if (found && n) {
        /* the last block of the calling thread's chunk moves its end, both ways */
        int last = sm__last_with_room(c, &w, n);
        sm__site *r = NULL;
        in_place = last || n <= w.size;
        if (env->flags & SM_TRACK)
            r = w.ch->starts ? sm__site_find(w.ch, w.i) : &w.ch->site;
        if (r) {
            file = SM__LOAD(&r->file);
            line = SM__LOAD(&r->line);
            if (in_place)
                SM__STORE(&r->size, new_size);
        }
        if (last)
            SM__STORE_REL(&c->top, (uintptr_t)w.start + n);
        if (in_place && (env->flags & SM_POISON)) {
            size_t ext = last ? n : w.size, kept = old_size < new_size ? old_size : new_size;
            /* old_size may reach past the size first asked for (up to the usable size): those
               bytes are the caller's too now */
            sm__reveal(w.start, kept);
            sm__show(w.start + kept, new_size - kept);
            sm__poison(w.start + new_size, (ext > w.size ? ext : w.size) - new_size);
        }
    }
    sm__env_unlock(env);
    if (!found || !n) {
        if (status)
            *status = found ? SM_OUT_OF_MEMORY : SM_INVALID_ARG;
        return NULL;
    }
    if (in_place) {
        if (status)
            *status = SM_OK;
        return node;
    }
    q = sm__allocate_in(env, c, new_size, SM__GRAIN, status, file, line, cursor);
    if (q) {
        if (env->flags & SM_POISON)
            sm__reveal(node, old_size < new_size ? old_size : new_size);   /* as in place above */
        memcpy(q, node, old_size < new_size ? old_size : new_size);
        if (w.ch->starts) {
            (void)sm__free_in(env, *cursor, node);
        } else {
            /* a block with a chunk of its own: the chunk goes back now, so that a block grown
               by steps holds memory in proportion to its final size */
            sm__env_lock(env);
            sm__single_unlink(env, w.ch);
            sm__env_unlock(env);
            sm__chunk_give_back(env, w.ch);
        }
    }
    return q;
}

SMALLOC_DEF void *sm_env_reallocate(sm_env *env, void *node, size_t old_size, size_t new_size, sm_status *status)
{
    sm__cursor *c;
    void *p;
    if (!env) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    p = sm__reallocate_in(env, sm__cached_cursor(env), node, old_size, new_size, status, &c);
    sm__remember(env, c);
    return p;
}

/* Adds a normal chunk's blocks to the figures. */
static void sm__census(const sm__chunk *ch, sm_stats *s)
{
    /* A word at a time: blocks are counted from the bitmaps, and only marked-free blocks and
       alignment padding (a freed bit without a start bit) are walked to their end; the live
       blocks fill the rest from the first block on. */
    uintptr_t used = sm__chunk_top(ch);
    size_t end = (size_t)(used - (uintptr_t)ch->payload) / SM__GRAIN;
    size_t words = (end + SM__WBITS - 1) / SM__WBITS, k, first = end, other = 0;
    for (k = 0; k < words; k++) {
        size_t st = SM__LOAD(&ch->starts[k]), fr = SM__LOAD(&ch->freed[k]);
        if (k == words - 1 && end % SM__WBITS) {
            size_t mask = ((size_t)1 << (end % SM__WBITS)) - 1;
            st &= mask;
            fr &= mask;
        }
        if (first == end && (st | fr))
            first = k * SM__WBITS + sm__ctz(st | fr);
        s->live_blocks += sm__popcount(st & ~fr);
        s->freed_blocks += sm__popcount(st & fr);
        for (; fr; fr &= fr - 1) {
            size_t i = k * SM__WBITS + sm__ctz(fr), n = sm__block_end(ch, i, end) - i;
            other += n;
            if ((st >> (i % SM__WBITS)) & 1)
                s->freed_bytes += n * SM__GRAIN;
        }
    }
    if (first < end && end - first >= other)
        s->live_bytes += (end - first - other) * SM__GRAIN;
}

/* sm__census of a retired chunk: its figures as last counted, if none of its bitmaps changed
   since (sm__census_stale). Lock held. */
static void sm__census_retired(sm__chunk *ch, sm_stats *s)
{
    if (!SM__LOAD_SC(&ch->census_ok)) {
        sm_stats c;
        memset(&c, 0, sizeof c);
        SM__STORE_SC(&ch->census_ok, 1);
        SM__FENCE_SC();
        sm__census(ch, &c);
        ch->census[0] = c.live_blocks;
        ch->census[1] = c.live_bytes;
        ch->census[2] = c.freed_blocks;
        ch->census[3] = c.freed_bytes;
    }
    s->live_blocks += ch->census[0];
    s->live_bytes += ch->census[1];
    s->freed_blocks += ch->census[2];
    s->freed_bytes += ch->census[3];
}

SMALLOC_DEF sm_status sm_env_stats(const sm_env *env, sm_stats *stats)
{
    ptrdiff_t i;
    sm_env *e = (sm_env *)(uintptr_t)env;   /* locking is not a change of the figures */
    if (!env || !stats)
        return SM_INVALID_ARG;
    memset(stats, 0, sizeof *stats);
    sm__env_lock(e);
    for (i = 0; i < stbds_arrlen(e->chunks); i++) {
        sm__chunk *ch = e->chunks[i];
        if (ch->starts) {
            if (SM__LOAD_ACQ(&ch->retired))
                sm__census_retired(ch, stats);
            else
                sm__census(ch, stats);
        } else if (ch->single_freed) {
            stats->freed_blocks++;
            stats->freed_bytes += (size_t)(ch->limit - ch->payload);
        } else {
            stats->live_blocks++;
            stats->live_bytes += (size_t)(ch->limit - ch->payload);
        }
    }
    stats->chunks = (size_t)stbds_arrlen(e->chunks) + (size_t)stbds_arrlen(e->spares);
    stats->backing_bytes = SM__LOAD(&e->backing_bytes);
    stats->backing_peak = e->backing_peak;
    sm__env_unlock(e);
    return SM_OK;
}

SMALLOC_DEF sm_thread_handle sm_env_handle(sm_env *env)
{
    return env ? (sm_thread_handle)env->handle : NULL;
}

SMALLOC_DEF sm_status sm_env_describe(const sm_env *env, const void *ptr, sm_block_info *info)
{
    sm_env *e = (sm_env *)(uintptr_t)env;
    sm__where w;
    int found;
    if (!env || !info)
        return SM_INVALID_ARG;
    sm__env_lock(e);
    found = sm__locate(e, (uintptr_t)ptr, 1, &w);
    if (found) {
        const sm__site *r = NULL;
        info->start = w.start;
        info->size = w.size;
        info->live = w.live;
        info->file = NULL;
        info->line = 0;
        if (e->flags & SM_TRACK)
            r = w.ch->starts ? sm__site_find(w.ch, w.i) : &w.ch->site;
        if (r) {
            sm__site v = sm__site_get(r);
            info->file = v.file;
            info->line = v.line;
        }
    }
    sm__env_unlock(e);
    return found ? SM_OK : SM_INVALID_ARG;
}

/* ---------------------------------------------------------------------------------------- */
/* Leak reports (SM_TRACK)                                                                  */
/* ---------------------------------------------------------------------------------------- */

static int sm__site_order(const void *a, const void *b)
{
    const sm__site *x = (const sm__site *)a, *y = (const sm__site *)b;
    int c = x->file == y->file ? 0 : !x->file ? -1 : !y->file ? 1 : strcmp(x->file, y->file);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Visits the records of the live blocks of a tracked environment: stores up to cap of them in
   out, or with fn calls it once per block. Returns how many there are. */
static size_t sm__live_sites(const sm_env *env, sm__site *out, size_t cap, sm_report_fn *fn, void *user)
{
    ptrdiff_t i;
    size_t k, n = 0;
    for (i = 0; i < stbds_arrlen(env->chunks); i++) {
        const sm__chunk *ch = env->chunks[i];
        size_t m = ch->starts ? SM__LOAD_ACQ(&ch->nsites) : 1;
        for (k = 0; k < m; k++) {
            sm__site v = sm__site_get(ch->starts ? &ch->sites[k] : &ch->site);
            if (ch->starts ? !sm__bit(ch->starts, v.at) || sm__bit(ch->freed, v.at) : ch->single_freed)
                continue;
            if (fn)
                fn(user, v.file, v.line, 1, v.size);
            else if (n < cap)
                out[n] = v;
            n++;
        }
    }
    return n;
}

/* Calls fn once per site with the blocks and bytes (as requested) still live, in order of
   file and line. The records are gathered under the lock and reported outside it, so fn may
   call smalloc. At destroy, if they cannot be gathered for want of memory, each live block is
   reported alone (nobody else is inside then). */
static int sm__report(const sm_env *env, sm_report_fn *fn, void *user, int at_destroy)
{
    sm_env *e = (sm_env *)(uintptr_t)env;
    sm__site *live = NULL;
    void *grown;
    size_t k, n;
    sm__env_lock(e);
    n = sm__live_sites(e, NULL, 0, NULL, NULL);
    if (n && sm__reserve(NULL, sizeof *live, n, &grown)) {
        /* stb_ds's length stays 0: the array is used up to the capacity reserved */
        live = (sm__site *)grown;
        k = sm__live_sites(e, live, n, NULL, NULL);
        n = k < n ? k : n;
    }
    sm__env_unlock(e);
    if (n && !live) {
        if (!at_destroy)
            return 0;
        (void)sm__live_sites(e, NULL, 0, fn, user);
        return 1;
    }
    if (n)
        qsort(live, n, sizeof *live, sm__site_order);
    for (k = 0; k < n;) {
        size_t j = k, bytes = 0;
        while (j < n && sm__site_order(&live[k], &live[j]) == 0)
            bytes += live[j++].size;
        fn(user, live[k].file, live[k].line, j - k, bytes);
        k = j;
    }
    stbds_arrfree(live);
    return 1;
}

SMALLOC_DEF sm_status sm_env_report(const sm_env *env, sm_report_fn *fn, void *user)
{
    if (!env || !fn || !(env->flags & SM_TRACK))
        return SM_INVALID_ARG;
    return sm__report(env, fn, user, 0) ? SM_OK : SM_OUT_OF_MEMORY;
}

/* ---------------------------------------------------------------------------------------- */
/* Cleanups and child environments                                                          */
/* ---------------------------------------------------------------------------------------- */

/* Takes child out of its parent's list of children. Parent's lock held. */
static void sm__child_unlink(sm_env *parent, sm_env *child)
{
    if (child->newer)
        child->newer->older = child->older;
    else
        parent->last_child = child->older;
    if (child->older)
        child->older->newer = child->newer;
    child->older = child->newer = NULL;
}

/* A child destroyed before its parent: the parent forgets it. */
static void sm__child_leave(sm_env *child)
{
    sm_env *parent = child->parent;
    if (!parent)
        return;
    sm__env_lock(parent);
    sm__child_unlink(parent, child);
    child->parent = NULL;
    sm__env_unlock(parent);
}

/* Before env releases its memory: destroys its children (last created first; each does the
   same with its own first), then runs its cleanups, last added first, until both lists are
   empty (a cleanup may add cleanups, or create children). Each callback runs with no lock held.
   Destroy and reset run alone on env, so the lists are looked at without the lock; it is taken
   to take an entry off, as cleanups may run on other threads what they start. */
static void sm__env_unwind(sm_env *env)
{
    /* A walk down the tree, not a recursion (children may nest as deep as a program likes):
       `at` goes down to its newest child, and once a node has nothing left it is finished and
       the walk goes back up through its `parent`, which a child taken off its parent's list
       keeps for that. */
    sm_env *at = env;
    for (;;) {
        sm_env *child = NULL;
        sm__cleanup c = { NULL, NULL };
        if (!at->last_child && stbds_arrlen(at->cleanups) == 0) {
            sm_env *up = at->parent;
            if (at == env)
                return;
            at->parent = NULL;
            sm__env_finish(at);
            at = up;
            continue;
        }
        sm__env_lock(at);
        if (at->last_child) {
            child = at->last_child;
            sm__child_unlink(at, child);   /* its parent stays set: the way back */
        } else
            c = stbds_arrpop(at->cleanups);
        sm__env_unlock(at);
        if (child)
            at = child;
        else
            c.fn(c.data);
    }
}

SMALLOC_DEF sm_status sm_env_add_cleanup(sm_env *env, sm_cleanup_fn *fn, void *data)
{
    void *grown;
    sm_status st = SM_OUT_OF_MEMORY;
    if (!env || !fn)
        return SM_INVALID_ARG;
    sm__env_lock(env);
    if (sm__reserve(env->cleanups, sizeof *env->cleanups, 1, &grown)) {
        sm__cleanup c;
        c.fn = fn;
        c.data = data;
        env->cleanups = (sm__cleanup *)grown;
        SM__ARRPUT(env->cleanups, c);
        st = SM_OK;
    }
    sm__env_unlock(env);
    return st;
}

/* cppcheck-suppress constParameter ; the contract's signature, the twin of sm_env_add_cleanup */
SMALLOC_DEF sm_status sm_env_remove_cleanup(sm_env *env, sm_cleanup_fn *fn, void *data)
{
    ptrdiff_t i;
    sm_status st = SM_INVALID_ARG;
    if (!env || !fn)
        return SM_INVALID_ARG;
    sm__env_lock(env);
    for (i = stbds_arrlen(env->cleanups) - 1; i >= 0; i--) {
        if (env->cleanups[i].fn == fn && env->cleanups[i].data == data) {
            stbds_arrdel(env->cleanups, (size_t)i);
            st = SM_OK;
            break;
        }
    }
    sm__env_unlock(env);
    return st;
}

/* Enters child as parent's newest child: a list through the children, no memory needed. */
static void sm__child_adopt(sm_env *parent, sm_env *child)
{
    sm__env_lock(parent);
    child->parent = parent;
    child->older = parent->last_child;
    child->newer = NULL;
    if (parent->last_child)
        parent->last_child->newer = child;
    parent->last_child = child;
    sm__env_unlock(parent);
}

SMALLOC_DEF sm_env *sm_env_create_child(sm_env *parent, const sm_config *config, sm_status *status)
{
    sm_config cfg;
    sm_status st = SM_INVALID_ARG;
    if (parent) {
        sm_env *child;
        if (!config) {
            memset(&cfg, 0, sizeof cfg);
            cfg.chunk_size = parent->chunk_size;
            if (!parent->cached) {   /* else both NULL: malloc, with the cache */
                cfg.alloc = parent->alloc;
                cfg.free = parent->free;
                cfg.context = parent->context;
            }
            cfg.flags = parent->flags;
            cfg.report = parent->report;
            cfg.report_user = parent->report_user;
            config = &cfg;
        }
        child = sm__env_new(config, &st);
        if (child)
            sm__child_adopt(parent, child);
        if (status)
            *status = st;
        return child;
    }
    if (status)
        *status = st;
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Strings, zeroed blocks, printf                                                           */
/* ---------------------------------------------------------------------------------------- */

SMALLOC_DEF void *sm_env_allocate_zeroed(sm_env *env, size_t count, size_t size, sm_status *status)
{
    void *p;
    if (env && size && count > SIZE_MAX / size) {
        if (status)
            *status = SM_OUT_OF_MEMORY;
        return NULL;
    }
    p = sm_env_allocate(env, count * size, status);
    if (p)
        memset(p, 0, count * size);
    return p;
}

SMALLOC_DEF void *sm_env_memdup(sm_env *env, const void *p, size_t n, sm_status *status)
{
    void *q;
    if (!p && n) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    q = sm_env_allocate(env, n, status);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

SMALLOC_DEF char *sm_env_strndup(sm_env *env, const char *s, size_t n, sm_status *status)
{
    const char *end;
    size_t len;
    char *q;
    if (!s) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    end = (const char *)memchr(s, 0, n);
    len = end ? (size_t)(end - s) : n;
    if (len == SIZE_MAX) {
        if (status)
            *status = env ? SM_OUT_OF_MEMORY : SM_INVALID_ARG;
        return NULL;
    }
    q = (char *)sm_env_allocate(env, len + 1, status);
    if (q) {
        memcpy(q, s, len);
        q[len] = 0;
    }
    return q;
}

SMALLOC_DEF char *sm_env_strdup(sm_env *env, const char *s, sm_status *status)
{
    return sm_env_strndup(env, s, SIZE_MAX, status);
}

SMALLOC_DEF char *sm_env_vprintf(sm_env *env, sm_status *status, const char *format, va_list args)
{
    va_list again;
    int n;
    char *p;
    if (!env || !format) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    va_copy(again, args);
    n = vsnprintf(NULL, 0, format, args);
    p = n < 0 ? NULL : (char *)sm_env_allocate(env, (size_t)n + 1, status);
    if (p)
        (void)vsnprintf(p, (size_t)n + 1, format, again);
    else if (n < 0 && status)
        *status = SM_INVALID_ARG;
    va_end(again);
    return p;
}

SMALLOC_DEF char *sm_env_printf(sm_env *env, sm_status *status, const char *format, ...)
{
    va_list args;
    char *p;
    va_start(args, format);
    p = sm_env_vprintf(env, status, format, args);
    va_end(args);
    return p;
}

/* ---------------------------------------------------------------------------------------- */
/* Threads: the current environment, ownership, thread exit                                 */
/* ---------------------------------------------------------------------------------------- */

static void sm__attach_to(const sm__attach *at)
{
    sm__fast_tls.current = *at;
    sm__fast_tls.fast = NULL;
    sm__t.cursor = NULL;
}

#if !defined(SMALLOC_NO_THREADS)
/* Destroys what the exiting thread enabled, newest first, each as its disable would (its
   callbacks may enable more: those go too), and forgets the thread's state. A record that is
   not the calling thread's is left alone: on Windows, a fiber deleted by another thread calls
   the hook there, while the record still belongs to the thread that made it. */
static void sm__thread_end(sm__thread *rec)
{
    static const sm__attach none = { NULL, 0, NULL };
    sm_env *env;
    if (sm__fast_tls.thread != rec)
        return;
    while ((env = rec->enabled) != NULL) {
        rec->enabled = env->enabled_older;
        sm__attach_to(&env->enabled_prev);
        sm__env_delete(env);
    }
    sm__spare_envs_free();
    sm__attach_to(&none);
    memset(sm__t.cache_handle, 0, sizeof sm__t.cache_handle);
    /* its cursors in environments that live on may now be taken over */
    SM__STORE_REL(&rec->alive, 0);
    (void)SM__FETCH_ADD(&sm__exits, (size_t)1);
    sm__fast_tls.thread = NULL;
    sm__thread_drop(rec);
}
#endif

#if defined(SMALLOC_NO_THREADS)
static int sm__exit_hook(sm__thread *rec) { (void)rec; return 1; }
#else
static void sm__key_exit(void *rec) { if (rec) sm__thread_end((sm__thread *)rec); }
static sm__key_t sm__key;
static int sm__key_made;

/* Hands rec to the thread-exit hook; 0 when the key cannot be made or set. */
static int sm__exit_hook(sm__thread *rec)
{
    int ok;
    sm__global_lock();
    if (!sm__key_made)
        sm__key_made = sm__key_create(&sm__key);
    ok = sm__key_made;
    sm__global_unlock();
    return ok && sm__key_set(sm__key, rec);
}

/* A shared library that embeds smalloc (SMALLOC_STATIC) may be unloaded once its environments
   are destroyed: its thread-exit key goes with it, so that threads that exit later do not call
   into code that is gone. Where the compiler runs functions at unload (gcc, clang, mingw). On
   Windows, freeing the fiber-local slot calls the hook at once, on the unloading thread, with
   every thread's record: sm__thread_end leaves the records of other threads alone. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((destructor)) static void sm__unload(void)
{
    if (sm__key_made) {
        sm__key_delete(sm__key);
        sm__key_made = 0;
    }
}
#endif
#endif

static sm__thread *sm__self(void)
{
    sm__thread *rec = sm__fast_tls.thread;
    if (!rec) {
        rec = (sm__thread *)SMALLOC_REALLOC(NULL, sizeof *rec);
        if (!rec)
            return NULL;
        rec->enabled = NULL;
        rec->refs = 1;
        rec->alive = 1;
        if (!sm__exit_hook(rec)) {
            SMALLOC_FREE(rec);
            return NULL;
        }
        sm__fast_tls.thread = rec;
    }
    return rec;
}

/* SM_OK when the thread's current environment is usable, else why not. */
static sm_status sm__current(void)
{
    if (!sm__fast_tls.current.slot)
        return SM_NO_ENVIRONMENT;
    return SM__LOAD_ACQ(&sm__fast_tls.current.slot->gen) == sm__fast_tls.current.gen ? SM_OK : SM_INVALID_HANDLE;
}

/* Remembers c as the calling thread's cursor in the environment that was current (at) when
   the call began, if it still is: a backing allocator may have attached the thread elsewhere. */
static void sm__current_cursor(const sm__attach *at, sm__cursor *c)
{
    if (c && sm__fast_tls.current.slot == at->slot && sm__fast_tls.current.gen == at->gen) {
        sm__t.cursor = c;
        sm__fast_tls.fast = at->env->flags ? &sm__blocked : c;
    }
}

SMALLOC_DEF sm_status sm_enable_allocate_with(const sm_config *config)
{
    sm__thread *rec;
    sm_env *env;
    sm__cursor *c;
    sm_status st;
    if (!sm__config_ok(config))
        return SM_INVALID_ARG;   /* before the thread's record is made: a refusal changes nothing */
    rec = sm__self();
    if (!rec)
        return SM_OUT_OF_MEMORY;
    env = sm__env_new(config, &st);
    if (!env)
        return st;
    env->owner = rec;
    env->enabled_prev = sm__fast_tls.current;
    env->enabled_older = rec->enabled;
    rec->enabled = env;
    sm__fast_tls.current.slot = env->slot;
    sm__fast_tls.current.gen = SM__LOAD(&env->slot->gen);
    sm__fast_tls.current.env = env;
    /* a reused environment's cursor, if any: its handle is new, so the thread's cache of
       cursors has none */
    c = SM__LOAD(&env->solo.thread) == SM__ME ? &env->solo : NULL;
    sm__t.cursor = c;
    sm__fast_tls.fast = c && env->flags ? &sm__blocked : c;
    return SM_OK;
}

SMALLOC_DEF sm_status sm_enable_allocate(void)
{
    return sm_enable_allocate_with(NULL);
}

/* Takes env off the list of environments rec enabled: usually the newest; one made current
   again by its handle may be further down. 0 if it is not there. */
static int sm__enabled_unlink(sm__thread *rec, const sm_env *env)
{
    sm_env **at = &rec->enabled;
    while (*at && *at != env)
        at = &(*at)->enabled_older;
    SMALLOC_ASSERT(*at);   /* an environment the thread owns is on its list */
    if (!*at)
        return 0;
    *at = env->enabled_older;
    return 1;
}

SMALLOC_DEF sm_status sm_disable_allocate(void)
{
    sm_status st = sm__current();
    sm__thread *rec = sm__fast_tls.thread;
    sm_env *env = sm__fast_tls.current.env;
    if (st != SM_OK)
        return st;
    if (!rec || env->owner != rec || !sm__enabled_unlink(rec, env))
        return SM_INVALID_ARG;
    /* the thread's state first, as after the disable: the environment's cleanups and report
       may enable, disable or attach (sm_allocate there serves the previous environment) */
    sm__attach_to(&env->enabled_prev);
    sm__env_delete(env);
    return SM_OK;
}

static SM__NOINLINE void *sm__allocate(size_t size, size_t alignment, sm_status *status, const char *file, int line)
{
    sm_status st = sm__current();
    sm__attach at = sm__fast_tls.current;
    sm__cursor *c;
    void *p;
    if (st != SM_OK) {
        if (status)
            *status = st;
        return NULL;
    }
    if (!alignment || (alignment & (alignment - 1))) {
        if (status)
            *status = SM_INVALID_ARG;
        return NULL;
    }
    p = sm__allocate_in(at.env, sm__t.cursor, size, alignment, status, file, line, &c);
    sm__current_cursor(&at, c);
    return p;
}

SMALLOC_DEF void *(sm_allocate)(size_t size, sm_status *status)
{
    sm__cursor *c = sm__fast_tls.fast;
    if (SM__LIKELY(c != NULL) && SM__LOAD_ACQ(&sm__fast_tls.current.slot->gen) == sm__fast_tls.current.gen) {
        uintptr_t top = SM__LOAD(&c->top);
        if (SM__FITS(c, top, size)) {
            if (status)
                *status = SM_OK;
            return sm__bump(c, top, size);
        }
    }
    return sm__allocate(size, SM__GRAIN, status, NULL, 0);
}

SMALLOC_DEF void *sm_allocate_at(size_t size, sm_status *status, const char *file, int line)
{
    return sm__allocate(size, SM__GRAIN, status, file, line);
}

SMALLOC_DEF void *sm_allocate_aligned(size_t size, size_t alignment, sm_status *status)
{
    return sm__allocate(size, alignment, status, NULL, 0);
}

static SM__NOINLINE sm_status sm__free(void *node)
{
    sm_status st;
    if (!node)
        return SM_OK;
    st = sm__current();
    if (st != SM_OK)
        return st;
    return sm__free_in(sm__fast_tls.current.env, sm__t.cursor, node);
}

SMALLOC_DEF sm_status sm_free(void *node)
{
    sm__cursor *c = sm__fast_tls.fast;
    if (SM__LIKELY(c != NULL) && SM__LOAD_ACQ(&sm__fast_tls.current.slot->gen) == sm__fast_tls.current.gen)
        return sm__free_mine(sm__fast_tls.current.env, c, sm__t.cursor, (uintptr_t)node);
    return sm__free(node);
}

SMALLOC_DEF void *sm_reallocate(void *node, size_t old_size, size_t new_size, sm_status *status)
{
    sm_status st = sm__current();
    sm__attach at = sm__fast_tls.current;
    sm__cursor *c;
    void *p;
    if (st != SM_OK) {
        if (status)
            *status = st;
        return NULL;
    }
    p = sm__reallocate_in(at.env, sm__t.cursor, node, old_size, new_size, status, &c);
    sm__current_cursor(&at, c);
    return p;
}

SMALLOC_DEF sm_thread_handle sm_get_thread_handle(sm_status *status)
{
    sm_status st = sm__current();
    sm_thread_handle h = NULL;
    if (st == SM_OK)
        h = (sm_thread_handle)sm__fast_tls.current.env->handle;
    else if (st == SM_NO_ENVIRONMENT)
        st = SM_OK;
    if (status)
        *status = st;
    return h;
}

SMALLOC_DEF sm_env *sm_current_env(sm_status *status)
{
    sm_status st = sm__current();
    if (status)
        *status = st;
    return st == SM_OK ? sm__fast_tls.current.env : NULL;
}

SMALLOC_DEF sm_status sm_set_thread_handle(sm_thread_handle h)
{
    sm__attach at = { NULL, 0, NULL };
    if (h) {
        sm__global_lock();
        at.slot = sm__slot_lookup(h);
        if (at.slot) {
            at.gen = SM__LOAD(&at.slot->gen);
            at.env = SM__LOAD_ACQ(&at.slot->env);
        }
        sm__global_unlock();
        if (!at.slot)
            return SM_INVALID_HANDLE;
    }
    sm__attach_to(&at);
    return SM_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Client allocator pair                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void *sm__client_default_alloc(size_t size)
{
    if (sm__fast_tls.current.slot)
        return sm_allocate(size, NULL);
    return malloc(size ? size : 1);
}

static sm_status sm__client_default_release(void *ptr)
{
    if (sm__fast_tls.current.slot)
        return sm_free(ptr);
    free(ptr);
    return SM_OK;
}

static void sm__client_default_free(void *ptr)
{
    (void)sm__client_default_release(ptr);
}

SMALLOC_DEF sm_status sm_swap_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free_fn,
                                                sm_client_alloc_fn **old_alloc, sm_client_free_fn **old_free)
{
    if (!alloc || !free_fn)
        return SM_INVALID_ARG;
    if (old_alloc)
        *old_alloc = sm__t.client_alloc ? sm__t.client_alloc : sm__client_default_alloc;
    if (old_free)
        *old_free = sm__t.client_free ? sm__t.client_free : sm__client_default_free;
    sm__t.client_alloc = alloc;
    sm__t.client_free = free_fn;
    return SM_OK;
}

SMALLOC_DEF sm_status sm_set_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free_fn)
{
    return sm_swap_client_alloc_free(alloc, free_fn, NULL, NULL);
}

SMALLOC_DEF void *sm_client_allocate(size_t size)
{
    return sm__t.client_alloc ? sm__t.client_alloc(size) : sm__client_default_alloc(size);
}

SMALLOC_DEF sm_status sm_client_free(void *ptr)
{
    sm_client_free_fn *f = sm__t.client_free;
    if (!f || f == sm__client_default_free)
        return sm__client_default_release(ptr);
    f(ptr);
    return SM_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Statuses and the raising family                                                          */
/* ---------------------------------------------------------------------------------------- */

SMALLOC_DEF const char *sm_status_string(sm_status status)
{
    switch (status) {
    case SM_OK:             return "SM_OK";
    case SM_INVALID_HANDLE: return "SM_INVALID_HANDLE";
    case SM_OUT_OF_MEMORY:  return "SM_OUT_OF_MEMORY";
    case SM_INVALID_ARG:    return "SM_INVALID_ARG";
    case SM_NO_ENVIRONMENT: return "SM_NO_ENVIRONMENT";
    }
    return "SM_UNKNOWN_STATUS";
}

SMALLOC_DEF const char *sm_status_message(sm_status status)
{
    switch (status) {
    case SM_OK:             return "the call succeeded";
    case SM_INVALID_HANDLE: return "the thread handle names an environment that has been destroyed";
    case SM_OUT_OF_MEMORY:  return "memory ran out, or the size asked for cannot be allocated";
    case SM_INVALID_ARG:    return "an argument is not valid here: a NULL or foreign environment, a pointer "
                                   "that is not a live block of it, a bad alignment or configuration, or a "
                                   "call this thread may not make";
    case SM_NO_ENVIRONMENT: return "the calling thread has no current environment: enable one, or attach to "
                                   "one with a thread handle";
    }
    return "the value is not a status that smalloc returns";
}

SMALLOC_DEF sm_raise_fn *sm_set_raise_handler(sm_raise_fn *handler)
{
    return SM__EXCHANGE(&sm__raise_handler, handler);
}

static void sm__raise(sm_status status, const char *function)
{
    sm_raise_fn *handler = SM__LOAD_ACQ(&sm__raise_handler);
    if (handler)
        handler(status, function);
    else
        (void)fprintf(stderr, "smalloc: %s failed: %s\n", function, sm_status_string(status));
    abort();
}

SMALLOC_DEF void sm_ss_enable_allocate(void)
{
    sm_status st = sm_enable_allocate();
    if (st != SM_OK)
        sm__raise(st, "sm_ss_enable_allocate");
}

SMALLOC_DEF void sm_ss_disable_allocate(void)
{
    sm_status st = sm_disable_allocate();
    if (st != SM_OK)
        sm__raise(st, "sm_ss_disable_allocate");
}

SMALLOC_DEF void *sm_ss_allocate(size_t size)
{
    sm_status st;
    void *p = sm_allocate(size, &st);
    if (!p)
        sm__raise(st, "sm_ss_allocate");
    return p;
}

SMALLOC_DEF void sm_ss_free(void *node)
{
    sm_status st = sm_free(node);
    if (st != SM_OK)
        sm__raise(st, "sm_ss_free");
}

SMALLOC_DEF sm_thread_handle sm_ss_get_thread_handle(void)
{
    sm_status st;
    sm_thread_handle h = sm_get_thread_handle(&st);
    if (st != SM_OK)
        sm__raise(st, "sm_ss_get_thread_handle");
    return h;
}

SMALLOC_DEF void sm_ss_set_thread_handle(sm_thread_handle h)
{
    sm_status st = sm_set_thread_handle(h);
    if (st != SM_OK)
        sm__raise(st, "sm_ss_set_thread_handle");
}

SMALLOC_DEF void sm_ss_set_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free_fn)
{
    sm_status st = sm_set_client_alloc_free(alloc, free_fn);
    if (st != SM_OK)
        sm__raise(st, "sm_ss_set_client_alloc_free");
}

SMALLOC_DEF void sm_ss_swap_client_alloc_free(sm_client_alloc_fn *alloc, sm_client_free_fn *free_fn,
                                              sm_client_alloc_fn **old_alloc, sm_client_free_fn **old_free)
{
    sm_status st = sm_swap_client_alloc_free(alloc, free_fn, old_alloc, old_free);
    if (st != SM_OK)
        sm__raise(st, "sm_ss_swap_client_alloc_free");
}

#endif /* SMALLOC_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
This software is available under two licences: choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the smalloc authors
Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
This is free and unencumbered software released into the public domain.
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this
software, either in source code form or as a compiled binary, for any purpose,
commercial or non-commercial, and by any means.
In jurisdictions that recognize copyright laws, the author or authors of this
software dedicate any and all copyright interest in the software to the public
domain. We make this dedication for the benefit of the public at large and to
the detriment of our heirs and successors. We intend this dedication to be an
overt act of relinquishment in perpetuity of all present and future rights to
this software under copyright law.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN
ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
------------------------------------------------------------------------------
*/
