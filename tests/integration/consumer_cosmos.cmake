# Integration tests of the consumer's Cosmos DB path: hard message-ids and bodies, message-ids
# that cannot be document ids, and the Cosmos CA file. Each starts the Service Bus emulator
# and the strict Cosmos test server on free loopback ports (tests/integration/consumer/lib.sh).
set(consumer_cosmos_itests cosmos_input cosmos_ca message_ids large_bodies)
foreach(case IN LISTS consumer_cosmos_itests)
  add_test(NAME consumer.${case}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/consumer/${case}.sh)
  set_tests_properties(consumer.${case} PROPERTIES
    LABELS integration
    TIMEOUT 400
    ENVIRONMENT "CONSUMER_BIN=$<TARGET_FILE:consumer>;SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>;WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")
endforeach()
