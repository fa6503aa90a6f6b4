/*
 * Routes Qpid Proton's own log output (TLS, SASL and framing problems, and the AMQP frame trace
 * that PN_TRACE_FRM=1 turns on) into the JSON-line logger, so that a service has one log stream.
 */
#ifndef WL_PROTON_LOG_H
#define WL_PROTON_LOG_H

#include "log.h"

#include <proton/transport.h>

/*
 * Installs the sink on Proton's default logger, which every transport created afterwards
 * inherits, so call it before creating any connection. Proton's errors and warnings are logged
 * at those levels (event "proton"), its info and debug lines only at LOG_LEVEL_DEBUG, and frame
 * trace lines at info (event "amqp-frame") whenever PN_TRACE_FRM=1 enabled them, because an
 * operator who sets that variable wants to see the frames without changing the log level.
 */
void proton_log_route(log_level level);

/*
 * Logs the error lines of `transport` at debug, for a transport whose owner reports each failure
 * itself: sb_conn passes the transport's condition to on_disconnected. A retried or closed
 * connection then adds no error line beside the owner's report. Warnings and frame trace lines
 * keep their levels. Call it before the transport is used.
 */
void proton_log_route_reported(pn_transport_t *transport);

#endif
