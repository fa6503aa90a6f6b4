# Cases of the consumer's option checks (test_consumer_options), of the Cosmos client's own
# checks of the same settings (test_cosmos) and of the workload-identity credential's
# (test_credential). Their binaries are defined by wl_unit_test in common.cmake and
# consumer.cmake, which this file follows in the sorted include order.

wl_unit_test_cases(consumer_options
  cosmos_endpoint_scheme_any_case cosmos_key_checked cosmos_ids_checked)

wl_unit_test_cases(cosmos
  create_accepts_scheme_in_any_case)

wl_unit_test_cases(credential
  wi_authority_scheme_any_case)
