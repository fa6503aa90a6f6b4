# More cases of the consumer's Cosmos DB client (test_cosmos) and message validation
# (test_document). Their binaries are defined by wl_unit_test in consumer.cmake, which this
# file follows in the sorted include order; each case is one ctest entry, as there.
function(wl_unit_test_cases name)
  foreach(case IN LISTS ARGN)
    add_test(NAME ${name}.${case} COMMAND test_${name} ${case})
    set_tests_properties(${name}.${case} PROPERTIES LABELS unit TIMEOUT 60)
  endforeach()
endfunction()

wl_unit_test_cases(cosmos
  partition_key_json_escapes partition_key_json_worst_case_fits upsert_escapes_partition_key
  upsert_signature_per_second upsert_after_other_requests upserts_queued_together
  pooled_connection_watched_until_closed request_after_pooled_connection_closed
  unsolicited_response_not_reused kept_alive_connection_lost_reported
  create_checks_ca_file writer_starts_oldest_first proxy_from_environment_used)

wl_unit_test_cases(document
  parse_keeps_escaped_nul parse_decodes_escapes parse_rejects_duplicate_fields
  parse_rejects_lone_surrogates parse_ignores_other_members_exactly parse_accepts_deep_nesting
  parse_rejects_invalid_json_kinds parse_rejects_nul_in_stamp build_escapes_strings
  check_id_accepts_text check_id_rejects_each_cause check_id_reads_whole_length)

wl_unit_test_cases(consumer_options
  partition_key_path_stable cosmos_endpoint_validated)
