# The Service Bus emulator: a C program on Proton-C that the tests, benchmarks and the local
# demo run in place of Azure Service Bus.
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/servicebus ${CMAKE_CURRENT_BINARY_DIR}/servicebus)

# The command line as a process: exit codes, messages, the ready file and SIGTERM.
foreach(case invalid_config_exits_2 malformed_config_exits_2 missing_config_exits_2
             invalid_options_exit_2 help_lists_options ready_file_and_sigterm
             tls_files_invalid_exit_2 port_in_use_fails)
  add_test(NAME emulator.cli.${case}
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/servicebus/cli_test.sh ${case})
  set_tests_properties(emulator.cli.${case} PROPERTIES
    LABELS integration TIMEOUT 60
    ENVIRONMENT "SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>")
endforeach()

# The benchmark client of bench/emulator (not a test): built here so that bench/emulator/run.sh
# finds it next to the emulator.
add_executable(amqp_bench ${CMAKE_SOURCE_DIR}/bench/emulator/amqp_bench.c)
target_link_libraries(amqp_bench PRIVATE proton)

# Messages of several frames within one large credit grant, through raw_proton (bench/peers).
add_test(NAME emulator.dispatch.large_messages_one_credit_grant
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/servicebus/large_test.sh)
set_tests_properties(emulator.dispatch.large_messages_one_credit_grant PROPERTIES
  LABELS integration TIMEOUT 60
  ENVIRONMENT "SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>;RAW_PROTON=$<TARGET_FILE:raw_proton>")
