# docs/CONFIGURATION.md must list exactly the options that the binaries accept.
add_test(NAME docs.configuration_current
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/config-doc ${CMAKE_BINARY_DIR} --check)
set_tests_properties(docs.configuration_current PROPERTIES LABELS unit TIMEOUT 60)
