# The Service Bus emulator: a C program on Proton-C that the tests, benchmarks and the local
# demo run in place of Azure Service Bus.
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/servicebus ${CMAKE_CURRENT_BINARY_DIR}/servicebus)
