# Unit tests of the Service Bus emulator (tests/emulators/servicebus): CBS token checks,
# Config.json parsing, the section codec and the queue store on a fake clock.
wl_unit_test(emulator_auth SOURCES test_emulator_auth.c
  CASES sas_valid_token_accepted sas_any_host_accepted sas_covers_management_node
        sas_namespace_token_covers_queue sas_wrong_key_rejected sas_wrong_key_name_rejected
        sas_expired_rejected sas_tampered_expiry_rejected sas_other_entity_rejected
        malformed_requests_get_400 jwt_needs_allow_option entity_path_forms
        scope_covers_boundaries
  LIBS servicebus_emulator_core)

wl_unit_test(emulator_config SOURCES test_emulator_config.c
  CASES parses_queue_properties defaults_without_properties invalid_json_names_file
        missing_namespaces_rejected invalid_duration_names_field_and_value
        invalid_max_delivery_count_rejected unsupported_features_rejected
        invalid_and_duplicate_names_rejected missing_file_not_found suite_config_loads
        duration_vectors
  LIBS servicebus_emulator_core)
target_compile_definitions(test_emulator_config PRIVATE
  SBE_SUITE_CONFIG="${CMAKE_CURRENT_LIST_DIR}/../emulators/servicebus/Config.json")

wl_unit_test(emulator_codec SOURCES test_emulator_codec.c
  CASES split_reads_sections split_rejects_invalid batch_envelope_unpacked
        plain_data_is_not_batch message_id_assigned message_id_forms
        split_survives_damaged_input map_entries_merged
  LIBS servicebus_emulator_core)

wl_unit_test(emulator_store SOURCES test_emulator_store.c
  CASES lock_expiry_redelivers settle_after_expiry_is_lock_lost renew_lock_extends
        max_delivery_count_dead_letters dead_letter_keeps_reason abandon_keeps_sequence_order
        defer_keeps_message_out_of_delivery deferred_receive_by_sequence
        dead_letter_subqueue_keeps_messages scheduled_message_waits ttl_expiry_dead_letters
        deferred_expires_on_receive ttl_expiry_removes message_ttl_shorter_than_queue
        locked_message_expires_after_release duplicate_detection_window queue_cap_rejects
        receive_and_delete_takes
  LIBS servicebus_emulator_core)
