# The benchmark harness in smoke mode (bench/run --smoke): every scenario with a few hundred
# messages and one run per contender, so that the harness, the SDK peers and the sink keep
# working. It checks that each contender delivered its counts, never how fast.
set(bench_required emulator raw_proton)
foreach(target producer consumer)
  if(TARGET ${target})
    list(APPEND bench_required ${target})
  endif()
endforeach()
list(JOIN bench_required "," bench_required)
add_test(NAME bench.smoke
  COMMAND ${CMAKE_SOURCE_DIR}/bench/run --smoke --no-build --build-dir ${CMAKE_BINARY_DIR}
          --require ${bench_required} --results-dir ${CMAKE_CURRENT_BINARY_DIR}/bench-results)
set_tests_properties(bench.smoke PROPERTIES LABELS integration TIMEOUT 600)

# The harness's own arithmetic (bench/lib/test_samples.py), without starting anything.
add_test(NAME bench.samples COMMAND /usr/bin/python3 -m unittest test_samples
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/bench/lib)
set_tests_properties(bench.samples PROPERTIES LABELS unit TIMEOUT 60)

# How --only and --count pick the cases of a scenario (bench/lib/test_cases.py).
add_test(NAME bench.cases COMMAND /usr/bin/python3 -m unittest test_cases
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/bench/lib)
set_tests_properties(bench.cases PROPERTIES LABELS unit TIMEOUT 60)

# How the harness stops what it started when it is interrupted (bench/lib/test_procs.py).
add_test(NAME bench.procs COMMAND /usr/bin/python3 -m unittest test_procs
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/bench/lib)
set_tests_properties(bench.procs PROPERTIES LABELS unit TIMEOUT 60)
