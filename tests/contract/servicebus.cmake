# The Service Bus emulator (tests/emulators/servicebus) driven by the official SDKs:
# @azure/service-bus 7.9.5 (Node) and azure-servicebus 7.8.2 on uamqp (Debian's /usr/bin/python3).
# Each entry starts its own emulator with a TLS port and a throw-away CA through run.sh.
set(servicebus_contract_dir ${CMAKE_CURRENT_LIST_DIR}/servicebus)

# One entry per Node test file; each file covers one area and names every check.
foreach(area message batch settlement locks errors tls features)
  add_test(NAME contract.servicebus.node.${area}
           COMMAND ${servicebus_contract_dir}/run.sh node ${area}.test.js)
  set_tests_properties(contract.servicebus.node.${area} PROPERTIES
    LABELS contract TIMEOUT 180
    ENVIRONMENT "SERVICEBUS_EMULATOR=$<TARGET_FILE:servicebus-emulator>")
endforeach()
