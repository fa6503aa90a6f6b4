#include "proton_log.h"

#include <proton/logger.h>

/* The sink's context: whether the transport's owner reports its failures itself. */
enum { PROTON_LOG_PLAIN = 0, PROTON_LOG_OWNER_REPORTS = 1 };

static void log_proton_line(intptr_t context, pn_log_subsystem_t subsystem, pn_log_level_t level,
                            const char *message)
{
    (void)subsystem;

    if (level & (PN_LEVEL_FRAME | PN_LEVEL_RAW)) {
        LOG_INFO("amqp-frame", "%s", message);
    } else if (context == PROTON_LOG_OWNER_REPORTS &&
               (level & (PN_LEVEL_CRITICAL | PN_LEVEL_ERROR))) {
        LOG_DEBUG("proton", "%s", message);
    } else if (level & (PN_LEVEL_CRITICAL | PN_LEVEL_ERROR)) {
        LOG_ERROR("proton", "%s", message);
    } else if (level & PN_LEVEL_WARNING) {
        LOG_WARN("proton", "%s", message);
    } else {
        LOG_DEBUG("proton", "%s", message);
    }
}

void proton_log_route(log_level level)
{
    pn_logger_t *logger = pn_default_logger();
    uint16_t levels = PN_LEVEL_CRITICAL | PN_LEVEL_ERROR | PN_LEVEL_WARNING;

    if (level == LOG_LEVEL_DEBUG) {
        levels |= PN_LEVEL_INFO | PN_LEVEL_DEBUG;
    }
    /* pn_logger_set_mask adds to the mask, so the frame levels that Proton enabled from
     * PN_TRACE_FRM at start-up stay on. */
    pn_logger_set_log_sink(logger, log_proton_line, PROTON_LOG_PLAIN);
    pn_logger_set_mask(logger, PN_SUBSYSTEM_ALL, levels);
}

void proton_log_route_reported(pn_transport_t *transport)
{
    pn_logger_set_log_sink(pn_transport_logger(transport), log_proton_line,
                           PROTON_LOG_OWNER_REPORTS);
}
