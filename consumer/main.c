/*
 * consumer: drains a Service Bus queue in peek-lock mode into Cosmos DB, one document per
 * message, completing each message only after its document is stored. See docs/CONSUMER.md.
 */
#include "consumer.h"
#include "health.h"
#include "log.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>

static int run_check(const consumer_options *options)
{
    char url[96];
    wl_error err = {0};

    snprintf(url, sizeof url, "http://127.0.0.1:%lld/healthz", (long long)options->health_port);
    if (health_check_url(url, 2000, &err) != WL_OK) {
        fprintf(stderr, "consumer --check: %s is not healthy: %s\n", url, err.message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    consumer_options options;
    wl_error err = {0};
    bool help = false;
    log_level level = LOG_LEVEL_INFO;

    if (consumer_options_load(&options, argc, argv, &help, &err) != WL_OK) {
        fprintf(stderr, "consumer: %s\n", err.message);
        consumer_options_free(&options);
        return 2;
    }
    if (help) {
        config_print_help(&consumer_config_table, "usage: consumer [--option value]...", stdout);
        consumer_options_free(&options);
        return 0;
    }
    if (options.check) {
        int status = run_check(&options);
        consumer_options_free(&options);
        return status;
    }

    log_level_parse(options.log_level, &level);
    log_init("consumer", level, NULL);
    char *described = config_describe_json(&consumer_config_table, &options);
    log_write_fields(LOG_LEVEL_INFO, "config", NULL, "%s", described);
    free(described);

    int status = consumer_run(&options);
    consumer_options_free(&options);
    return status;
}
