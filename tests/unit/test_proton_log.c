#include "check.h"
#include "log.h"
#include "proton_log.h"

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/logger.h>
#include <proton/transport.h>

#include <stdlib.h>

/* Moves the bytes that each driver wants to write into the other until neither has any. */
static void pump(pn_connection_driver_t *a, pn_connection_driver_t *b)
{
    for (int round = 0; round < 20; round++) {
        pn_connection_driver_t *pair[2][2] = {{a, b}, {b, a}};
        size_t moved = 0;

        for (int i = 0; i < 2; i++) {
            pn_bytes_t out = pn_connection_driver_write_buffer(pair[i][0]);
            pn_rwbytes_t in = pn_connection_driver_read_buffer(pair[i][1]);
            size_t n = out.size < in.size ? out.size : in.size;

            if (n > 0) {
                memcpy(in.start, out.start, n);
                pn_connection_driver_read_done(pair[i][1], n);
                pn_connection_driver_write_done(pair[i][0], n);
                moved += n;
            }
            while (pn_connection_driver_next_event(pair[i][0]) != NULL) {
            }
        }
        if (moved == 0) {
            return;
        }
    }
}

/* Opens a connection between two in-memory drivers with the frame trace on, and returns what
 * the logger wrote. Caller frees. */
static char *trace_open_frames(log_level level)
{
    pn_connection_driver_t client;
    pn_connection_driver_t server;
    char *output = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&output, &size);

    log_init("test", level, out);
    proton_log_route(level);
    CHECK(pn_connection_driver_init(&client, NULL, NULL) == 0);
    CHECK(pn_connection_driver_init(&server, NULL, NULL) == 0);
    pn_transport_set_server(server.transport);
    pn_connection_open(client.connection);
    pn_connection_open(server.connection);
    pump(&client, &server);
    pn_connection_driver_destroy(&client);
    pn_connection_driver_destroy(&server);

    log_init("test", LOG_LEVEL_INFO, NULL);
    fclose(out);
    return output;
}

TEST_CASE(frames_logged_at_info)
{
    char *output = trace_open_frames(LOG_LEVEL_INFO);

    CHECK(strstr(output, "\"event\":\"amqp-frame\"") != NULL);
    CHECK(strstr(output, "@open") != NULL);
    CHECK(strstr(output, "\"level\":\"info\"") != NULL);
    free(output);
}

TEST_CASE(sink_maps_levels)
{
    pn_log_sink_t sink;
    char *output = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&output, &size);

    log_init("test", LOG_LEVEL_INFO, out);
    proton_log_route(LOG_LEVEL_INFO);
    sink = pn_logger_get_log_sink(pn_default_logger());
    sink(0, PN_SUBSYSTEM_SSL, PN_LEVEL_ERROR, "certificate verify failed");
    sink(0, PN_SUBSYSTEM_SASL, PN_LEVEL_WARNING, "mechanism refused");
    sink(0, PN_SUBSYSTEM_IO, PN_LEVEL_DEBUG, "hidden at info");
    log_init("test", LOG_LEVEL_INFO, NULL);
    fclose(out);

    CHECK(strstr(output, "\"level\":\"error\",\"service\":\"test\",\"event\":\"proton\"") != NULL);
    CHECK(strstr(output, "certificate verify failed") != NULL);
    CHECK(strstr(output, "\"level\":\"warn\"") != NULL);
    CHECK(strstr(output, "hidden at info") == NULL);
    free(output);
}

/* Feeds bytes that are no AMQP header to a routed driver, and returns what the logger wrote at
 * `level`. Caller frees. */
static char *log_framing_error(log_level level, bool reported)
{
    static const char garbage[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    pn_connection_driver_t driver;
    char *output = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&output, &size);

    log_init("test", level, out);
    proton_log_route(level);
    CHECK(pn_connection_driver_init(&driver, NULL, NULL) == 0);
    if (reported) {
        proton_log_route_reported(driver.transport);
    }
    pn_connection_open(driver.connection);
    pn_rwbytes_t in = pn_connection_driver_read_buffer(&driver);
    CHECK(in.size >= sizeof garbage - 1);
    memcpy(in.start, garbage, sizeof garbage - 1);
    pn_connection_driver_read_done(&driver, sizeof garbage - 1);
    while (pn_connection_driver_next_event(&driver) != NULL) {
    }
    CHECK(pn_condition_is_set(pn_transport_condition(driver.transport)));
    pn_connection_driver_destroy(&driver);

    log_init("test", LOG_LEVEL_INFO, NULL);
    fclose(out);
    return output;
}

TEST_CASE(reported_errors_logged_at_debug)
{
    char *plain = log_framing_error(LOG_LEVEL_INFO, false);
    char *reported = log_framing_error(LOG_LEVEL_INFO, true);
    char *debug = log_framing_error(LOG_LEVEL_DEBUG, true);

    /* Without the routing, Proton's own error line is logged at error. */
    CHECK(strstr(plain, "\"level\":\"error\",\"service\":\"test\",\"event\":\"proton\"") != NULL);
    CHECK(strstr(reported, "\"event\":\"proton\"") == NULL);
    CHECK(strstr(debug, "\"level\":\"debug\",\"service\":\"test\",\"event\":\"proton\"") != NULL);
    CHECK(strstr(debug, "\"level\":\"error\"") == NULL);
    free(plain);
    free(reported);
    free(debug);
}

TEST_CASE(frames_absent_without_trace)
{
    char *output = trace_open_frames(LOG_LEVEL_DEBUG);

    CHECK(strstr(output, "\"event\":\"amqp-frame\"") == NULL);
    free(output);
}

/* Proton reads PN_TRACE_FRM when the library loads, so ctest sets it for the frame case. */
TEST_MAIN(TEST_ENTRY(frames_logged_at_info), TEST_ENTRY(frames_absent_without_trace),
          TEST_ENTRY(sink_maps_levels), TEST_ENTRY(reported_errors_logged_at_debug))
