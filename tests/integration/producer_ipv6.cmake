# The producer against the Service Bus emulator on the IPv6 loopback address. The test exits 77
# when the host has no ::1, which ctest reports as skipped.
add_test(NAME producer.ipv6 COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/producer/ipv6.sh)
set_tests_properties(producer.ipv6 PROPERTIES
  LABELS integration
  TIMEOUT 120
  SKIP_RETURN_CODE 77
  ENVIRONMENT "PRODUCER_BIN=$<TARGET_FILE:producer>;SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>;WORKLOAD_ROOT=${CMAKE_SOURCE_DIR}")
