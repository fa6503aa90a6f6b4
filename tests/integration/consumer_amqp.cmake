# Integration tests of the consumer's AMQP side: CBS retries and exact delivery counting, against
# the Service Bus emulator and the strict Cosmos test server that each test starts on free
# loopback ports (tests/integration/consumer_amqp).
set(consumer_amqp_itests cbs_retry cbs_wrong_key credit_log lock_expiry_counts
                        reconnect_counts stalled_connection stalled_trickle slow_link)
foreach(case IN LISTS consumer_amqp_itests)
  add_test(NAME consumer_amqp.${case}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/consumer_amqp/${case}.sh)
  set_tests_properties(consumer_amqp.${case} PROPERTIES
    LABELS integration
    TIMEOUT 400
    ENVIRONMENT "CONSUMER_BIN=$<TARGET_FILE:consumer>;SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>;WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")
endforeach()
