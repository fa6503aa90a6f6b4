# A library for LD_PRELOAD that freezes an event loop on demand (tests/lib/freeze_epoll.c), for
# the tests of /healthz with a stalled loop. It is built without sanitizers: it loads ahead of
# the program's libraries, AddressSanitizer's runtime included, which the tests allow with
# ASAN_OPTIONS=verify_asan_link_order=0.
add_library(freeze_epoll MODULE ${CMAKE_CURRENT_SOURCE_DIR}/../lib/freeze_epoll.c)
target_link_libraries(freeze_epoll PRIVATE ${CMAKE_DL_LIBS})
target_compile_options(freeze_epoll PRIVATE -fno-sanitize=all)
target_link_options(freeze_epoll PRIVATE -fno-sanitize=all)
