/*
 * The emulator's queue store driven by a fake clock: lock expiry, MaxDeliveryCount, TTL,
 * renewal, duplicate detection and the queue cap, without waiting. Messages are encoded with
 * Proton's pn_message, independently of the emulator's codec.
 */
#include "check.h"
#include "sbe_codec.h"
#include "sbe_store.h"

#include <proton/codec.h>
#include <proton/message.h>

#include <stdlib.h>
#include <string.h>

#define START_US 1893456000000000LL /* 2030-01-01T00:00:00Z */

typedef struct fixture {
    wl_fake_clock clock;
    sbe_config config;
    sbe_store *store;
    int available_calls;
} fixture;

static void count_available(sbe_queue *queue, void *ctx)
{
    (void)queue;
    ((fixture *)ctx)->available_calls++;
}

static void fixture_init(fixture *f, size_t max_messages)
{
    static const char json[] =
        "{\"UserConfig\": {\"Namespaces\": [{\"Name\": \"ns\", \"Queues\": ["
        "{\"Name\": \"work\", \"Properties\": {\"LockDuration\": \"PT30S\", "
        "\"MaxDeliveryCount\": 3}},"
        "{\"Name\": \"expiring\", \"Properties\": {\"DefaultMessageTimeToLive\": \"PT10S\", "
        "\"DeadLetteringOnMessageExpiration\": true}},"
        "{\"Name\": \"dropping\", \"Properties\": {\"DefaultMessageTimeToLive\": \"PT10S\"}},"
        "{\"Name\": \"dedup\", \"Properties\": {\"RequiresDuplicateDetection\": true, "
        "\"DuplicateDetectionHistoryTimeWindow\": \"PT1M\"}}]}]}}";
    wl_error err = {0};

    memset(f, 0, sizeof *f);
    wl_fake_clock_init(&f->clock, 1000, START_US);
    if (sbe_config_parse(json, "test", &f->config, &err) != WL_OK) {
        fprintf(stderr, "fixture config: %s\n", err.message);
        abort();
    }
    f->store = sbe_store_create(&f->config, &f->clock.clock, max_messages);
    sbe_store_set_available_callback(f->store, count_available, f);
}

static void fixture_free(fixture *f)
{
    sbe_store_destroy(f->store);
    sbe_config_free(&f->config);
}

/* Encodes a message with Proton; `ttl_ms` 0 means none. Caller frees. */
static char *encode(const char *id, const char *body, uint32_t ttl_ms, size_t *out_size)
{
    pn_message_t *message = pn_message();
    size_t capacity = 1024;
    char *bytes = wl_xmalloc(capacity);

    if (id != NULL) {
        pn_data_put_string(pn_message_id(message), pn_bytes(strlen(id), id));
    }
    if (ttl_ms > 0) {
        pn_message_set_ttl(message, ttl_ms);
    }
    pn_data_put_string(pn_message_body(message), pn_bytes(strlen(body), body));
    *out_size = capacity;
    if (pn_message_encode(message, bytes, out_size) != 0) {
        abort();
    }
    pn_message_free(message);
    return bytes;
}

static void enqueue(sbe_queue *queue, const char *id, uint32_t ttl_ms, bool *out_duplicate)
{
    size_t size;
    char *bytes = encode(id, id ? id : "no id", ttl_ms, &size);
    sbe_message_parts parts;
    wl_error err = {0};
    bool duplicate = false;

    CHECK_INT_EQ(sbe_message_split((const uint8_t *)bytes, size, &parts, &err), WL_OK);
    CHECK_INT_EQ(sbe_queue_enqueue(queue, &parts, &duplicate, &err), WL_OK);
    if (out_duplicate != NULL) {
        *out_duplicate = duplicate;
    }
    free(bytes);
}

/* Decodes what a receiver would get for `message` with Proton. Caller frees. */
static pn_message_t *delivered(const sbe_message *message, bool locked)
{
    sbe_buffer buffer = {0};
    pn_message_t *decoded = pn_message();

    sbe_message_encode(message, locked, &buffer);
    CHECK_INT_EQ(pn_message_decode(decoded, (const char *)buffer.data, buffer.size), 0);
    sbe_buffer_free(&buffer);
    return decoded;
}

static const char *body_text(pn_message_t *message)
{
    static char text[128];
    pn_data_t *body = pn_message_body(message);

    pn_data_rewind(body);
    text[0] = '\0';
    if (pn_data_next(body) && pn_data_type(body) == PN_STRING) {
        pn_bytes_t bytes = pn_data_get_string(body);
        snprintf(text, sizeof text, "%.*s", (int)bytes.size, bytes.start);
    }
    return text;
}

/* Finds a string value in the application-properties map, or returns "". */
static const char *application_property(pn_message_t *message, const char *key)
{
    static char value[256];
    pn_data_t *properties = pn_message_properties(message);

    value[0] = '\0';
    pn_data_rewind(properties);
    if (!pn_data_next(properties) || pn_data_type(properties) != PN_MAP) {
        return value;
    }
    pn_data_enter(properties);
    while (pn_data_next(properties)) {
        pn_bytes_t name = pn_data_get_string(properties);
        pn_data_next(properties);
        if (name.size == strlen(key) && memcmp(name.start, key, name.size) == 0 &&
            pn_data_type(properties) == PN_STRING) {
            pn_bytes_t text = pn_data_get_string(properties);
            snprintf(value, sizeof value, "%.*s", (int)text.size, text.start);
        }
    }
    return value;
}

static size_t active(sbe_queue *queue)
{
    sbe_queue_counts counts;

    sbe_queue_get_counts(queue, &counts);
    return counts.active;
}

static size_t dead_lettered(sbe_queue *queue)
{
    sbe_queue_counts counts;

    sbe_queue_get_counts(queue, &counts);
    return counts.dead_letter;
}

TEST_CASE(lock_expiry_redelivers)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "m1", 0, NULL);
    sbe_message *first = sbe_queue_lock_next(work);
    CHECK(first != NULL);
    if (first == NULL) {
        fixture_free(&f);
        return;
    }
    uint8_t first_token[SBE_LOCK_TOKEN_SIZE];
    memcpy(first_token, first->lock_token, sizeof first_token);
    CHECK_INT_EQ(first->locked_until_ms, START_US / 1000 + 30000);
    CHECK(sbe_queue_lock_next(work) == NULL);

    wl_fake_clock_advance(&f.clock, 29999);
    sbe_store_expire(f.store);
    CHECK(sbe_queue_lock_next(work) == NULL);

    wl_fake_clock_advance(&f.clock, 1);
    int calls_before = f.available_calls;
    sbe_store_expire(f.store);
    CHECK(f.available_calls > calls_before);
    sbe_message *second = sbe_queue_lock_next(work);
    CHECK(second != NULL);
    if (second != NULL) {
        CHECK_INT_EQ(second->delivery_count, 1);
        CHECK(memcmp(second->lock_token, first_token, sizeof first_token) != 0);
        pn_message_t *decoded = delivered(second, true);
        CHECK_INT_EQ(pn_message_get_delivery_count(decoded), 1);
        CHECK_STR_EQ(body_text(decoded), "m1");
        pn_message_free(decoded);
    }
    CHECK_INT_EQ(sbe_queue_settle(work, first_token, SBE_OUTCOME_COMPLETE, NULL, NULL),
                 WL_ERR_NOT_FOUND);
    CHECK_INT_EQ(active(work), 1);
    fixture_free(&f);
}

TEST_CASE(settle_after_expiry_is_lock_lost)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "m1", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(work);
    uint8_t token[SBE_LOCK_TOKEN_SIZE];
    memcpy(token, message->lock_token, sizeof token);
    /* Past the lock but before an expiry pass ran: the lock is lost all the same. */
    wl_fake_clock_advance(&f.clock, 30000);
    CHECK_INT_EQ(sbe_queue_settle(work, token, SBE_OUTCOME_COMPLETE, NULL, NULL), WL_ERR_NOT_FOUND);
    int64_t until = 0;
    CHECK_INT_EQ(sbe_queue_renew_lock(work, token, &until), WL_ERR_NOT_FOUND);
    fixture_free(&f);
}

TEST_CASE(renew_lock_extends)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "m1", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(work);
    uint8_t token[SBE_LOCK_TOKEN_SIZE];
    memcpy(token, message->lock_token, sizeof token);

    wl_fake_clock_advance(&f.clock, 20000);
    int64_t until = 0;
    CHECK_INT_EQ(sbe_queue_renew_lock(work, token, &until), WL_OK);
    CHECK_INT_EQ(until, START_US / 1000 + 20000 + 30000);

    /* Past the first lock's end the renewed lock still holds. */
    wl_fake_clock_advance(&f.clock, 20000);
    sbe_store_expire(f.store);
    CHECK(sbe_queue_lock_next(work) == NULL);
    CHECK_INT_EQ(sbe_queue_settle(work, token, SBE_OUTCOME_COMPLETE, NULL, NULL), WL_OK);
    CHECK_INT_EQ(active(work), 0);
    fixture_free(&f);
}

TEST_CASE(max_delivery_count_dead_letters)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");
    sbe_queue *dead = sbe_store_find(f.store, "work/$deadletterqueue");

    CHECK(dead == sbe_queue_dead_letter(work));
    enqueue(work, "poison", 0, NULL);
    /* Two abandons and one lock expiry make three failed deliveries. */
    for (int attempt = 0; attempt < 2; attempt++) {
        sbe_message *message = sbe_queue_lock_next(work);
        CHECK(message != NULL);
        if (message == NULL) {
            break;
        }
        CHECK_INT_EQ(message->delivery_count, attempt);
        CHECK_INT_EQ(sbe_queue_settle(work, message->lock_token, SBE_OUTCOME_ABANDON, NULL, NULL),
                     WL_OK);
    }
    CHECK(sbe_queue_lock_next(work) != NULL);
    wl_fake_clock_advance(&f.clock, 30000);
    sbe_store_expire(f.store);

    CHECK(sbe_queue_lock_next(work) == NULL);
    CHECK_INT_EQ(active(work), 0);
    CHECK_INT_EQ(dead_lettered(work), 1);
    sbe_message *moved = sbe_queue_lock_next(dead);
    CHECK(moved != NULL);
    if (moved != NULL) {
        CHECK_INT_EQ(moved->delivery_count, 3);
        pn_message_t *decoded = delivered(moved, true);
        CHECK_STR_EQ(application_property(decoded, "DeadLetterReason"), "MaxDeliveryCountExceeded");
        CHECK_STR_EQ(body_text(decoded), "poison");
        pn_message_free(decoded);
    }
    fixture_free(&f);
}

TEST_CASE(dead_letter_keeps_reason)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "bad", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(work);
    CHECK_INT_EQ(sbe_queue_settle(work, message->lock_token, SBE_OUTCOME_DEAD_LETTER,
                                  "ValidationFailed", "srcStamp is missing"),
                 WL_OK);
    sbe_message *moved = sbe_queue_lock_next(sbe_queue_dead_letter(work));
    CHECK(moved != NULL);
    if (moved != NULL) {
        pn_message_t *decoded = delivered(moved, true);
        CHECK_STR_EQ(application_property(decoded, "DeadLetterReason"), "ValidationFailed");
        CHECK_STR_EQ(application_property(decoded, "DeadLetterErrorDescription"),
                     "srcStamp is missing");
        pn_message_free(decoded);
    }
    fixture_free(&f);
}

TEST_CASE(abandon_keeps_sequence_order)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "first", 0, NULL);
    enqueue(work, "second", 0, NULL);
    sbe_message *first = sbe_queue_lock_next(work);
    int64_t first_sequence = first->sequence_number;
    CHECK_INT_EQ(sbe_queue_settle(work, first->lock_token, SBE_OUTCOME_ABANDON, NULL, NULL), WL_OK);
    sbe_message *again = sbe_queue_lock_next(work);
    CHECK(again != NULL);
    if (again != NULL) {
        CHECK_INT_EQ(again->sequence_number, first_sequence);
    }
    fixture_free(&f);
}

TEST_CASE(defer_keeps_message_out_of_delivery)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "later", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(work);
    CHECK_INT_EQ(sbe_queue_settle(work, message->lock_token, SBE_OUTCOME_DEFER, NULL, NULL), WL_OK);
    CHECK(sbe_queue_lock_next(work) == NULL);
    CHECK_INT_EQ(active(work), 1);
    const sbe_message *peeked = sbe_queue_first_from(work, 1);
    CHECK(peeked != NULL && peeked->state == SBE_MESSAGE_DEFERRED);
    fixture_free(&f);
}

TEST_CASE(deferred_receive_by_sequence)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "later", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(work);
    int64_t sequence = message->sequence_number;
    CHECK_INT_EQ(sbe_queue_settle(work, message->lock_token, SBE_OUTCOME_DEFER, NULL, NULL), WL_OK);
    CHECK(sbe_queue_has_deferred(work, sequence));
    CHECK(!sbe_queue_has_deferred(work, sequence + 1));

    sbe_message *locked = sbe_queue_receive_deferred(work, sequence, false);
    CHECK(locked != NULL);
    if (locked == NULL) {
        fixture_free(&f);
        return;
    }
    CHECK(!sbe_queue_has_deferred(work, sequence)); /* locked now */
    CHECK_INT_EQ(sbe_queue_settle(work, locked->lock_token, SBE_OUTCOME_ABANDON, NULL, NULL),
                 WL_OK);
    /* Abandoning a deferred message keeps it deferred, never back on the link. */
    CHECK(sbe_queue_lock_next(work) == NULL);
    CHECK(sbe_queue_has_deferred(work, sequence));

    sbe_message *taken = sbe_queue_receive_deferred(work, sequence, true);
    CHECK(taken != NULL);
    if (taken != NULL) {
        /* The deferral and the abandon each count a delivery, as in Service Bus. */
        CHECK_INT_EQ(taken->delivery_count, 2);
    }
    sbe_message_free(taken);
    CHECK_INT_EQ(active(work), 0);
    fixture_free(&f);
}

TEST_CASE(dead_letter_subqueue_keeps_messages)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");
    sbe_queue *dead_letters = sbe_store_find(f.store, "work/$DeadLetterQueue");

    enqueue(work, "dead", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(work);
    CHECK_INT_EQ(
        sbe_queue_settle(work, message->lock_token, SBE_OUTCOME_DEAD_LETTER, "reason", NULL),
        WL_OK);

    sbe_message *dead = sbe_queue_lock_next(dead_letters);
    CHECK(dead != NULL);
    if (dead == NULL) {
        fixture_free(&f);
        return;
    }
    CHECK_INT_EQ(sbe_queue_settle(dead_letters, dead->lock_token, SBE_OUTCOME_ABANDON, NULL, NULL),
                 WL_OK);
    dead = sbe_queue_lock_next(dead_letters);
    CHECK(dead != NULL);
    if (dead == NULL) {
        fixture_free(&f);
        return;
    }
    /* An abandon in a dead-letter subqueue is not counted. */
    CHECK_INT_EQ(dead->delivery_count, 0);
    /* Dead-lettering again is refused, and the message keeps its lock. */
    CHECK_INT_EQ(
        sbe_queue_settle(dead_letters, dead->lock_token, SBE_OUTCOME_DEAD_LETTER, "again", NULL),
        WL_ERR_CONFLICT);
    CHECK_INT_EQ(sbe_queue_settle(dead_letters, dead->lock_token, SBE_OUTCOME_COMPLETE, NULL, NULL),
                 WL_OK);
    sbe_queue_counts counts;
    sbe_queue_get_counts(work, &counts);
    CHECK_INT_EQ(counts.dead_letter, 0);
    fixture_free(&f);
}

TEST_CASE(scheduled_message_waits)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");
    size_t size;
    char *bytes = encode("later", "later", 0, &size);
    sbe_message_parts parts;
    wl_error err = {0};
    int64_t first = 0;
    int64_t second = 0;
    sbe_queue_counts counts;
    int64_t at_ms = START_US / 1000 + 5000;

    CHECK_INT_EQ(sbe_message_split((const uint8_t *)bytes, size, &parts, &err), WL_OK);
    CHECK_INT_EQ(sbe_queue_schedule(work, &parts, at_ms, &first, &err), WL_OK);
    CHECK_INT_EQ(sbe_queue_schedule(work, &parts, at_ms, &second, &err), WL_OK);
    CHECK(second > first);
    sbe_queue_get_counts(work, &counts);
    CHECK_INT_EQ(counts.active, 0);
    CHECK_INT_EQ(counts.scheduled, 2);
    CHECK(sbe_queue_lock_next(work) == NULL);

    CHECK_INT_EQ(sbe_queue_cancel_scheduled(work, second), WL_OK);
    CHECK_INT_EQ(sbe_queue_cancel_scheduled(work, second), WL_ERR_NOT_FOUND);
    wl_fake_clock_advance(&f.clock, 4999);
    sbe_store_expire(f.store);
    CHECK(sbe_queue_lock_next(work) == NULL);

    wl_fake_clock_advance(&f.clock, 1);
    sbe_store_expire(f.store);
    sbe_queue_get_counts(work, &counts);
    CHECK_INT_EQ(counts.active, 1);
    CHECK_INT_EQ(counts.scheduled, 0);
    sbe_message *message = sbe_queue_lock_next(work);
    CHECK(message != NULL);
    if (message != NULL) {
        CHECK_INT_EQ(message->sequence_number, first);
        CHECK_INT_EQ(message->enqueued_time_ms, at_ms);
        CHECK_INT_EQ(sbe_queue_cancel_scheduled(work, first), WL_ERR_NOT_FOUND);
    }
    free(bytes);
    fixture_free(&f);
}

TEST_CASE(ttl_expiry_dead_letters)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *expiring = sbe_store_find(f.store, "expiring");

    enqueue(expiring, "stale", 0, NULL);
    wl_fake_clock_advance(&f.clock, 9999);
    sbe_store_expire(f.store);
    CHECK_INT_EQ(active(expiring), 1);

    wl_fake_clock_advance(&f.clock, 1);
    sbe_store_expire(f.store);
    CHECK_INT_EQ(active(expiring), 0);
    CHECK_INT_EQ(dead_lettered(expiring), 1);
    sbe_message *moved = sbe_queue_lock_next(sbe_queue_dead_letter(expiring));
    CHECK(moved != NULL);
    if (moved != NULL) {
        pn_message_t *decoded = delivered(moved, true);
        CHECK_STR_EQ(application_property(decoded, "DeadLetterReason"), "TTLExpiredException");
        pn_message_free(decoded);
    }
    fixture_free(&f);
}

TEST_CASE(deferred_expires_on_receive)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *expiring = sbe_store_find(f.store, "expiring");

    enqueue(expiring, "set aside", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(expiring);
    int64_t sequence = message->sequence_number;
    CHECK_INT_EQ(sbe_queue_settle(expiring, message->lock_token, SBE_OUTCOME_DEFER, NULL, NULL),
                 WL_OK);
    wl_fake_clock_advance(&f.clock, 10000);
    sbe_store_expire(f.store);
    /* Past its time-to-live, the deferred message waits for a receive by sequence number. */
    CHECK_INT_EQ(active(expiring), 1);
    CHECK_INT_EQ(dead_lettered(expiring), 0);
    CHECK(!sbe_queue_has_deferred(expiring, sequence));
    CHECK_INT_EQ(active(expiring), 0);
    CHECK_INT_EQ(dead_lettered(expiring), 1);
    fixture_free(&f);
}

TEST_CASE(ttl_expiry_removes)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *dropping = sbe_store_find(f.store, "dropping");

    enqueue(dropping, "stale", 0, NULL);
    wl_fake_clock_advance(&f.clock, 10000);
    /* An expired message is never handed out, even before an expiry pass. */
    CHECK(sbe_queue_lock_next(dropping) == NULL);
    CHECK_INT_EQ(active(dropping), 0);
    CHECK_INT_EQ(dead_lettered(dropping), 0);
    fixture_free(&f);
}

TEST_CASE(message_ttl_shorter_than_queue)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *dropping = sbe_store_find(f.store, "dropping");
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(dropping, "brief", 2000, NULL);
    enqueue(dropping, "long", 60000, NULL); /* capped at the queue's 10 s */
    enqueue(work, "no queue ttl", 2000, NULL);
    wl_fake_clock_advance(&f.clock, 2000);
    sbe_store_expire(f.store);
    CHECK_INT_EQ(active(dropping), 1);
    CHECK_INT_EQ(active(work), 0);
    wl_fake_clock_advance(&f.clock, 8000);
    sbe_store_expire(f.store);
    CHECK_INT_EQ(active(dropping), 0);
    fixture_free(&f);
}

TEST_CASE(locked_message_expires_after_release)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *expiring = sbe_store_find(f.store, "expiring");

    enqueue(expiring, "held", 0, NULL);
    sbe_message *message = sbe_queue_lock_next(expiring);
    wl_fake_clock_advance(&f.clock, 15000);
    sbe_store_expire(f.store);
    CHECK_INT_EQ(active(expiring), 1); /* still locked: the TTL waits */
    CHECK_INT_EQ(sbe_queue_settle(expiring, message->lock_token, SBE_OUTCOME_ABANDON, NULL, NULL),
                 WL_OK);
    CHECK_INT_EQ(active(expiring), 0);
    CHECK_INT_EQ(dead_lettered(expiring), 1);
    fixture_free(&f);
}

TEST_CASE(duplicate_detection_window)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *dedup = sbe_store_find(f.store, "dedup");
    bool duplicate = false;

    enqueue(dedup, "same", 0, &duplicate);
    CHECK(!duplicate);
    wl_fake_clock_advance(&f.clock, 59999);
    enqueue(dedup, "same", 0, &duplicate);
    CHECK(duplicate);
    enqueue(dedup, "other", 0, &duplicate);
    CHECK(!duplicate);
    CHECK_INT_EQ(active(dedup), 2);

    wl_fake_clock_advance(&f.clock, 1);
    enqueue(dedup, "same", 0, &duplicate);
    CHECK(!duplicate);
    CHECK_INT_EQ(active(dedup), 3);

    /* Without duplicate detection the same id is stored twice. */
    sbe_queue *work = sbe_store_find(f.store, "work");
    enqueue(work, "same", 0, &duplicate);
    enqueue(work, "same", 0, &duplicate);
    CHECK(!duplicate);
    CHECK_INT_EQ(active(work), 2);
    fixture_free(&f);
}

TEST_CASE(queue_cap_rejects)
{
    fixture f;
    fixture_init(&f, 2);
    sbe_queue *work = sbe_store_find(f.store, "work");
    size_t size;
    char *bytes = encode("third", "third", 0, &size);
    sbe_message_parts parts;
    wl_error err = {0};
    bool duplicate = false;

    enqueue(work, "first", 0, NULL);
    enqueue(work, "second", 0, NULL);
    CHECK(!sbe_queue_has_room(work, 1));
    CHECK_INT_EQ(sbe_message_split((const uint8_t *)bytes, size, &parts, &err), WL_OK);
    CHECK_INT_EQ(sbe_queue_enqueue(work, &parts, &duplicate, &err), WL_ERR_THROTTLED);
    CHECK_STR_EQ(err.condition, "amqp:resource-limit-exceeded");
    CHECK_INT_EQ(active(work), 2);
    free(bytes);
    fixture_free(&f);
}

TEST_CASE(receive_and_delete_takes)
{
    fixture f;
    fixture_init(&f, 0);
    sbe_queue *work = sbe_store_find(f.store, "work");

    enqueue(work, "taken", 0, NULL);
    sbe_message *message = sbe_queue_take_next(work);
    CHECK(message != NULL);
    CHECK_INT_EQ(active(work), 0);
    if (message != NULL) {
        pn_message_t *decoded = delivered(message, false);
        CHECK_STR_EQ(body_text(decoded), "taken");
        pn_message_free(decoded);
    }
    sbe_message_free(message);
    fixture_free(&f);
}

TEST_MAIN(TEST_ENTRY(lock_expiry_redelivers), TEST_ENTRY(settle_after_expiry_is_lock_lost),
          TEST_ENTRY(renew_lock_extends), TEST_ENTRY(max_delivery_count_dead_letters),
          TEST_ENTRY(dead_letter_keeps_reason), TEST_ENTRY(abandon_keeps_sequence_order),
          TEST_ENTRY(defer_keeps_message_out_of_delivery), TEST_ENTRY(deferred_receive_by_sequence),
          TEST_ENTRY(dead_letter_subqueue_keeps_messages), TEST_ENTRY(scheduled_message_waits),
          TEST_ENTRY(ttl_expiry_dead_letters), TEST_ENTRY(deferred_expires_on_receive),
          TEST_ENTRY(ttl_expiry_removes), TEST_ENTRY(message_ttl_shorter_than_queue),
          TEST_ENTRY(locked_message_expires_after_release), TEST_ENTRY(duplicate_detection_window),
          TEST_ENTRY(queue_cap_rejects), TEST_ENTRY(receive_and_delete_takes))
