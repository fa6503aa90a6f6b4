# The strict Cosmos DB test server (tests/emulators/cosmos) judged by @azure/cosmos 4.9.3 and by
# raw requests signed with node:crypto. Each case starts its own server over HTTPS with the
# options it needs; run.sh CASE [SERVER_OPTION...] runs one case of checks.js.
set(cosmos_contract_dir ${CMAKE_CURRENT_LIST_DIR}/cosmos)

# wl_cosmos_contract(CASE [SERVER_OPTION...]) registers contract.cosmos.CASE.
function(wl_cosmos_contract case_name)
  add_test(NAME contract.cosmos.${case_name}
           COMMAND ${cosmos_contract_dir}/run.sh ${case_name} ${ARGN})
  set_tests_properties(contract.cosmos.${case_name} PROPERTIES LABELS contract TIMEOUT 120)
endfunction()

wl_cosmos_contract(sdk_roundtrip)
wl_cosmos_contract(sdk_encoded_ids)
wl_cosmos_contract(sdk_wrong_key_401)
wl_cosmos_contract(raw_signature)
wl_cosmos_contract(raw_date_window_401)
wl_cosmos_contract(raw_partition_key_400)
wl_cosmos_contract(sdk_body_too_large_413)
wl_cosmos_contract(raw_malformed_json_400)
wl_cosmos_contract(sdk_reserved_id_chars_400)
wl_cosmos_contract(raw_keep_alive)
wl_cosmos_contract(sdk_retries_429 --fault-429-first 3 --retry-after-ms 20)
wl_cosmos_contract(raw_fault_first_n --fault-429-first 2 --fault-503-first 1 --retry-after-ms 250)
wl_cosmos_contract(sdk_retries_429_rate --fault-429-rate 0.3 --retry-after-ms 10 --seed 7)
wl_cosmos_contract(sdk_observes_503 --fault-503-first 1)
wl_cosmos_contract(fault_seed_repeats)
wl_cosmos_contract(sdk_aad_token --aad-token contract-token)
wl_cosmos_contract(sdk_aad_rejected_401)
wl_cosmos_contract(raw_response_delay --response-delay-ms 200)

# The same round trip over plain HTTP, which the SDK reaches only without endpoint discovery.
add_test(NAME contract.cosmos.sdk_roundtrip_http
         COMMAND ${cosmos_contract_dir}/run.sh sdk_roundtrip --http)
add_test(NAME contract.cosmos.bad_options_exit_2 COMMAND ${cosmos_contract_dir}/bad_options.sh)
add_test(NAME contract.cosmos.count_cli COMMAND ${cosmos_contract_dir}/count_cli.sh)
set_tests_properties(contract.cosmos.sdk_roundtrip_http contract.cosmos.bad_options_exit_2
                     contract.cosmos.count_cli PROPERTIES LABELS contract TIMEOUT 120)
