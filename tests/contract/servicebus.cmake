# The Service Bus emulator (tests/emulators/servicebus) driven by the official SDKs:
# @azure/service-bus 7.9.5 (Node) and azure-servicebus 7.8.2 on uamqp (Debian's /usr/bin/python3).
# Each entry starts its own emulator with a TLS port and a throw-away CA through run.sh.
set(servicebus_contract_dir ${CMAKE_CURRENT_LIST_DIR}/servicebus)

# One entry per Node test file; each file covers one area and names every check.
foreach(area message batch large settlement locks errors tls features scheduling wire)
  add_test(NAME contract.servicebus.node.${area}
           COMMAND ${servicebus_contract_dir}/run.sh node ${area}.test.js)
  set_tests_properties(contract.servicebus.node.${area} PROPERTIES
    LABELS contract TIMEOUT 180
    ENVIRONMENT "SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>")
endforeach()

# One entry per Python test case, named contract.servicebus.python.CLASS.METHOD.
set(servicebus_python_cases
  MessageTest.test_message_properties_roundtrip
  MessageTest.test_batch_of_50_received_once
  MessageTest.test_full_size_batch_accepted
  SettlementTest.test_complete_removes
  SettlementTest.test_abandon_redelivers_with_count_plus_one
  SettlementTest.test_dead_letter_with_reason
  SettlementTest.test_max_delivery_count_dead_letters
  SettlementTest.test_receive_and_delete_removes
  ManagementTest.test_peek_does_not_lock
  ManagementTest.test_deferred_received_by_sequence_number
  ManagementTest.test_schedule_and_cancel
  ManagementTest.test_peek_reports_message_state
  LockTest.test_expired_lock_redelivers
  LockTest.test_renew_lock_extends
  ErrorTest.test_wrong_key_fails_with_authorization_error
  ErrorTest.test_unknown_queue_fails_with_not_found
  ErrorTest.test_oversize_message_is_rejected
  ErrorTest.test_session_receiver_fails_at_once)
foreach(case IN LISTS servicebus_python_cases)
  add_test(NAME contract.servicebus.python.${case}
           COMMAND ${servicebus_contract_dir}/run.sh python test_python_sdk.py ${case})
  set_tests_properties(contract.servicebus.python.${case} PROPERTIES
    LABELS contract TIMEOUT 180
    ENVIRONMENT "SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>")
endforeach()

# The queue cap needs an emulator started with --max-queue-messages.
add_test(NAME contract.servicebus.node.capacity
         COMMAND ${servicebus_contract_dir}/run.sh node capacity.test.js -- --max-queue-messages 3)
set_tests_properties(contract.servicebus.node.capacity PROPERTIES
  LABELS contract TIMEOUT 180
  ENVIRONMENT "SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>")
