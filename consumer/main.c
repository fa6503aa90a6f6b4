/*
 * consumer: drains a Service Bus queue in peek-lock mode into Cosmos DB, one document per
 * message, completing each message only after its document is stored. See docs/CONSUMER.md.
 */
#include "consumer.h"
#include "options.h"
#include "service.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    static const char usage[] = "usage: consumer [--option value]...\n\nDrains a Service Bus "
                                "queue in peek-lock mode into Cosmos DB.";
    consumer_config config;
    wl_error err = {0};
    bool help = false;

    /* Before any thread starts, so that only the signal thread receives SIGTERM and SIGINT. */
    service_block_signals();
    if (consumer_config_load(&config, argc, argv, &help, &err) != WL_OK) {
        fprintf(stderr, "consumer: %s\n", err.message);
        consumer_config_free(&config);
        return 2;
    }
    int exit_code = service_begin("consumer", usage, config.sections, CONSUMER_SECTION_COUNT,
                                  &config.service, help, 2000);
    if (exit_code >= 0) {
        consumer_config_free(&config);
        return exit_code;
    }

    exit_code = consumer_run(&config);
    consumer_config_free(&config);
    return exit_code;
}
