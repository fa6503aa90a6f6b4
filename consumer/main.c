/*
 * consumer: drains a Service Bus queue in peek-lock mode into Cosmos DB, one document per
 * message, completing each message only after its document is stored. See docs/CONSUMER.md.
 */
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "proton_log.h"
#include "service.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    consumer_config config;
    wl_error err = {0};
    bool help = false;
    log_level level = LOG_LEVEL_INFO;

    /* Before any thread starts, so that only the signal thread receives SIGTERM and SIGINT. */
    service_block_signals();
    if (consumer_config_load(&config, argc, argv, &help, &err) != WL_OK) {
        fprintf(stderr, "consumer: %s\n", err.message);
        consumer_config_free(&config);
        return 2;
    }
    if (help) {
        consumer_config_print_help(&config, stdout);
        consumer_config_free(&config);
        return 0;
    }
    if (config.service.check) {
        int status = service_run_check(&config.service, 2000, &err);
        if (status != 0) {
            fprintf(stderr, "consumer --check: %s\n", err.message);
        }
        consumer_config_free(&config);
        return status;
    }

    log_level_parse(config.service.log_level, &level);
    log_init("consumer", level, NULL);
    proton_log_route(level);
    char *described = consumer_config_describe_json(&config);
    log_write_fields(LOG_LEVEL_INFO, "config", NULL, "%s", described);
    free(described);

    int status = consumer_run(&config);
    consumer_config_free(&config);
    return status;
}
