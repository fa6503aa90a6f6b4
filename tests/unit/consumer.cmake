# Unit tests of the consumer's modules.
wl_unit_test(settle SOURCES test_settle.c LIBS consumer_core
  CASES created_and_replaced_complete throttled_waits_retry_after
        throttled_without_header_backs_off throttled_delay_is_capped transient_statuses_back_off
        transport_error_backs_off bad_request_dead_letters too_large_dead_letters
        invalid_message_dead_letters configuration_errors_abandon_not_ready lock_lost_forgets
        unknown_status_retries every_rule_is_reachable retry_at_deadline_abandons
        backoff_schedule_doubles_to_cap retries_with_fake_clock_end_at_deadline
        lock_renewal_schedule lock_renewals_cover_long_retry action_names)
wl_unit_test(coalesce SOURCES test_coalesce.c LIBS consumer_core
  CASES off_when_max_is_zero negative_max_turns_it_off max_cut_to_limit no_pause_before_first_latency
        pause_is_fraction_of_latency pause_capped_at_max short_pause_skipped
        needs_requests_in_flight no_pause_after_several_finished mean_moves_toward_samples
        negative_latency_counts_as_zero)
wl_unit_test(document SOURCES test_document.c LIBS consumer_core
  CASES utf8_accepts_valid utf8_rejects_malformed parse_valid_message
        parse_rejects_each_poison_kind parse_reason_names_field parse_ignores_bytes_past_length
        build_document_fields build_omits_absent_metadata)
wl_unit_test(cosmos SOURCES test_cosmos.c LIBS consumer_core
  CASES master_auth_matches_independent_hmac master_auth_keeps_link_case
        master_auth_documented_example aad_auth_format status_classes rfc1123_date_for_x_ms_date
        create_rejects_bad_options upsert_headers_and_connection_reuse
        bad_retry_after_counts_as_absent long_error_body_keeps_message
        create_and_read_requests
        connection_refused_is_transport_error)
wl_unit_test(consumer_options SOURCES test_consumer_options.c LIBS consumer_core
  CASES defaults flag_overrides_environment invalid_values_name_the_setting
        missing_settings_are_named workload_identity_needs_cbs plain_needs_allow_insecure
        check_mode_skips_service_settings durations_follow_one_rule shutdown_grace_new_name_wins
        late_failures_rejected_at_start cosmos_token_file_checked)
