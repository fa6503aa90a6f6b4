# Integration tests of the consumer against the Service Bus emulator and the strict Cosmos
# test server, both started by each test on free loopback ports (tests/integration/consumer).
set(consumer_itests
    drain tls faults sigterm sigkill reconnect wrong_key lock_renewal workload_identity bad_config
    rabbitmq give_up cosmos_down sigint_ignored checker grace_release drain_timeout
    second_signal shutdown_frozen shutdown_skipped reset_reused coalesce foreign_text
    stamp_latency cosmos_idle idle_reset idle_read_errors ipv6 loop_stall)
# check.js on a queue longer than one rhea session's 2048 unsettled deliveries.
list(APPEND consumer_itests check_long_queue)
foreach(case IN LISTS consumer_itests)
  add_test(NAME consumer.${case}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/consumer/${case}.sh)
  set_tests_properties(consumer.${case} PROPERTIES
    LABELS integration
    TIMEOUT 400
    ENVIRONMENT "CONSUMER_BIN=$<TARGET_FILE:consumer>;SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>;WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")
endforeach()
# Exits 77 when the host has no ::1.
set_tests_properties(consumer.ipv6 PROPERTIES SKIP_RETURN_CODE 77)
# The stalled-loop test preloads tests/lib/freeze_epoll.c (tests/integration/freeze.cmake).
set_property(TEST consumer.loop_stall APPEND PROPERTY
             ENVIRONMENT "FREEZE_LIBRARY=$<TARGET_FILE:freeze_epoll>")
