# The demo's argument checks, which run before it installs, builds or starts anything.
add_test(NAME demo.bad_arguments COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/demo/bad_arguments.sh)
set_tests_properties(demo.bad_arguments PROPERTIES
  LABELS integration
  TIMEOUT 120
  ENVIRONMENT "WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")

# A kept stack stopped by `down`, and a second demo refused while one runs. It builds the
# demo's Release binaries in build/demo.
add_test(NAME demo.keep_down COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/demo/keep_down.sh)
set_tests_properties(demo.keep_down PROPERTIES
  LABELS integration
  TIMEOUT 900
  ENVIRONMENT "WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")
