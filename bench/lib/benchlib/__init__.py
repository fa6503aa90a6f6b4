"""The benchmark harness behind bench/run: processes and their measurement, the services a run
needs (Service Bus emulator, sinks), the scenarios and the report."""
