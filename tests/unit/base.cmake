# Unit tests of the common base modules.
wl_unit_test(encoding SOURCES test_encoding.c
  CASES base64_roundtrip base64_rejects_invalid url_encode_reserved url_decode hmac_sha256_rfc4231
  hex_digit_values utf8_decode_table utf8_encode_roundtrip utf8_copy_table json_escape_utf8
  url_redact_userinfo)
wl_unit_test(timefmt SOURCES test_timefmt.c
  CASES stamp_format stamp_parse_rejects rfc1123_roundtrip rfc1123_parse_rejects uuid_v4_shape
        guid_order
        stamp_cache_seconds iso8601_cached_seconds times_beyond_four_digit_years
        uuid_v4_unique_many uuid_v4_fork_refills)
wl_unit_test(sas SOURCES test_sas.c
  CASES create_matches_openssl create_rejects_empty verify_accepts_covered_audience
        verify_rejects_each_fault parse_rejects_malformed)
wl_unit_test(proton_log SOURCES test_proton_log.c
  CASES frames_logged_at_info frames_absent_without_trace sink_maps_levels
        reported_errors_logged_at_debug)
set_tests_properties(proton_log.frames_logged_at_info PROPERTIES ENVIRONMENT PN_TRACE_FRM=1)
set_tests_properties(proton_log.frames_absent_without_trace PROPERTIES
  ENVIRONMENT_MODIFICATION PN_TRACE_FRM=unset:)
