# Integration tests of the producer against the Service Bus emulator, RabbitMQ, a fake Entra
# token endpoint and an unreliable broker, each started by the test itself on free loopback ports
# (tests/integration/producer).
set(producer_itests emulator_plain emulator_tls rabbitmq emulator_restart workload_identity
                    signal_grace resend stalled_peer cli sigint_ignored summary
                    shutdown_unresponsive summary_level send_timeout rate_after_outage
                    failure_logs late_accept unsent_not_resent
                    stalled_connection slow_link loop_stall signal_token_request)
foreach(case IN LISTS producer_itests)
  add_test(NAME producer.${case}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/producer/${case}.sh)
  set_tests_properties(producer.${case} PROPERTIES
    LABELS integration
    TIMEOUT 400
    ENVIRONMENT "PRODUCER_BIN=$<TARGET_FILE:producer>;SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>;WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")
endforeach()
# The stalled-loop test preloads tests/lib/freeze_epoll.c (tests/integration/freeze.cmake).
set_property(TEST producer.loop_stall APPEND PROPERTY
             ENVIRONMENT "FREEZE_LIBRARY=$<TARGET_FILE:freeze_epoll>")
