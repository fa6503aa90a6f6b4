# Unit tests of the common protocol modules and of the producer's pure parts.
wl_unit_test(connstr SOURCES test_connstr.c
  CASES cloud_sas_key emulator_plain_tcp port_overrides_default shared_access_signature
        unknown_keys_ignored invalid_strings host_names_checked ipv6_endpoint_in_brackets
        emulator_flag_with_amqps)
wl_unit_test(backoff SOURCES test_backoff.c
  CASES ceiling_doubles_to_cap full_jitter_bounds system_random_within_ceiling
        jitter_fraction_bounds equal_jitter_upper_half)
wl_unit_test(config SOURCES test_config.c
  CASES defaults_apply flag_overrides_environment durations_parse bare_duration_is_seconds
        alias_takes_whole_seconds choice_lists_expected file_checks_name_setting errors_name_option
        bool_value_forms
        secret_never_echoed help_lists_units durations_reject_other_syntax
        numbers_reject_other_syntax duration_range_in_units zero_off_outside_range)
wl_unit_test(credential SOURCES test_credential.c
  CASES sas_token_matches_openssl sas_static_expiry refresh_schedule cbs_refresh_window
        wi_exchange_sends_form wi_cache_and_rotation wi_aadsts_error wi_transient_retried
        wi_missing_token_file wi_environment_named wi_background_serves_cache
        wi_background_after_fetch wi_background_short_lifetime wi_background_failure_reported
        wi_background_none_for_sas)
wl_unit_test(amqp SOURCES test_amqp.c
  CASES condition_status_table condition_to_error_text map_reads_any_integer encode_grows_buffer
        put_token_request receive_without_bytes_fails)
wl_unit_test(amqp_message SOURCES test_amqp_message.c LIBS producer_core
  CASES encode_decodes_in_proton padding_reaches_size count_digits too_small_buffer
        latency_percentiles)
wl_unit_test(metrics SOURCES test_metrics.c
  CASES render_prometheus_text family_help_once register_table_fills_fields)
wl_unit_test(health SOURCES test_health.c
  CASES endpoints_and_readiness healthz_fails_stalled_loop method_not_allowed_lists_allow
        one_address_cannot_fill_server bind_errors_named port_in_use_invalid)
wl_unit_test(cbs SOURCES test_cbs.c
  CASES put_token_accepted put_token_status_as_long put_token_unauthorized put_token_timeout
        reply_matched_by_correlation refresh_puts_new_token retry_delay_schedule
        retry_delay_before_expiry rejected_token_retried timed_out_token_retried
        failed_refresh_retried)
wl_unit_test(sb_conn SOURCES test_sb_conn.c
  CASES give_up_while_waiting give_up_cuts_attempt give_up_closes_unused
        closed_at_once_backs_off stable_connection_resets link_lost_gives_up
        dropped_counts_as_failure audience_brackets_ipv6)
wl_unit_test(event_loop SOURCES test_event_loop.c
  CASES connects_opens_and_closes peer_close_ends_connection idle_timeout_closes_at_once
        connect_refused_reported
        resolve_failure_reported wake_from_other_thread interrupt_ends_wait
        watched_descriptor_called heartbeats_keep_idle_connection lookup_runs_beside_loop
        loop_destroyed_during_lookup lookup_failure_reported close_during_lookup
        has_ready_consumes_nothing has_ready_sees_nested_epoll)
wl_unit_test(sb_settings SOURCES test_sb_settings.c
  CASES sections_load_together sections_help_has_titles unknown_flag_in_no_section
        resolve_cbs_with_sas_key resolve_queue_matches_entity_path resolve_plain_and_none
        resolve_errors_name_setting check_needs_health_port health_start_and_check
        resolve_expired_signature resolve_checks_ca_file health_bind_checked
        resolve_checks_queue_name resolve_namespace_rejects_ip)
wl_unit_test(producer_options SOURCES test_producer_options.c LIBS producer_core
  CASES defaults_differ_from_consumer shared_flags_reach_sections invalid_choices_named
        body_size_fits_max_message servicebus_settings_resolved)
