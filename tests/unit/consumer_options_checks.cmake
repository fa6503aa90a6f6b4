# Cases of the consumer's option checks (test_consumer_options). Its binary is defined by
# wl_unit_test in consumer.cmake, which this file follows in the sorted include order.

wl_unit_test_cases(consumer_options
  cosmos_key_checked cosmos_ids_checked)
