/*
 * The in-memory queue store: messages, peek-locks, time-to-live, dead-lettering and duplicate
 * detection for every configured queue and its dead-letter subqueue.
 *
 * Thread rule: one thread (the proactor thread) calls every function here except
 * sbe_queue_counts, which any thread may call because it reads atomic counters.
 *
 * Cost: enqueue, lock, settle and expiry are O(log n) in the queue length. Available messages
 * sit in a heap ordered by sequence number (an abandoned message goes back to its place),
 * locked ones in a heap ordered by lock expiry and in a hash table by lock token, and
 * messages with a time-to-live in a heap ordered by expiry. Time comes from the wl_clock
 * given at creation, so tests drive lock expiry and TTL with a fake clock.
 */
#ifndef SBE_STORE_H
#define SBE_STORE_H

#include "clock.h"
#include "sbe_codec.h"
#include "sbe_config.h"
#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBE_LOCK_TOKEN_SIZE    16
#define SBE_DEAD_LETTER_SUFFIX "/$DeadLetterQueue"

typedef struct sbe_store sbe_store;
typedef struct sbe_queue sbe_queue;

typedef enum sbe_message_state {
    SBE_MESSAGE_AVAILABLE,
    SBE_MESSAGE_LOCKED,
    SBE_MESSAGE_DEFERRED,
    SBE_MESSAGE_SCHEDULED, /* waiting for its scheduled enqueue time */
} sbe_message_state;

/* What a receiver decided about a locked message. */
typedef enum sbe_outcome {
    SBE_OUTCOME_COMPLETE,
    SBE_OUTCOME_ABANDON,
    SBE_OUTCOME_RELEASE, /* back to the queue without counting a delivery */
    SBE_OUTCOME_DEFER,
    SBE_OUTCOME_DEAD_LETTER,
} sbe_outcome;

/*
 * A stored message. Callers read the fields and never change them; the store owns and frees
 * messages unless a function hands one over.
 */
typedef struct sbe_message sbe_message;
struct sbe_message {
    int64_t sequence_number;
    int64_t enqueued_time_ms; /* Unix milliseconds; the scheduled time of a scheduled message */
    int64_t expires_at_ms;    /* Unix milliseconds; INT64_MAX when it never expires */
    int64_t locked_until_ms;  /* Unix milliseconds; valid while locked */
    uint32_t delivery_count;  /* failed deliveries so far: abandons and lock expiries */
    sbe_message_state state;
    bool deferred; /* deferred once: only receive-by-sequence-number hands it out again */
    uint8_t lock_token[SBE_LOCK_TOKEN_SIZE];

    /* Header fields kept from the sender. */
    bool durable;
    bool has_ttl;
    bool first_acquirer;
    uint8_t priority;
    uint32_t ttl_ms;

    /* The stored encoding: annotation entries, properties section, application-property
     * entries and body sections, one after another in `bytes`. */
    uint32_t annotation_count;
    uint32_t application_property_count;
    size_t annotations_size;
    size_t properties_size;
    size_t application_properties_size;
    size_t body_size;
    uint8_t *bytes;

    /* Private to the store. */
    size_t heap_index[4];
    sbe_message *token_next;
    sbe_message *prev;
    sbe_message *next;
};

/* Called when `queue` gains available messages, so that the caller can wake its receivers. */
typedef void sbe_available_fn(sbe_queue *queue, void *ctx);

/*
 * Creates a store with the queues of `config` (which must outlive the store) and a
 * dead-letter subqueue for each. `max_queue_messages` caps each queue (0: no cap). `clock`
 * must outlive the store. Caller frees with sbe_store_destroy.
 */
sbe_store *sbe_store_create(const sbe_config *config, const wl_clock *clock,
                            size_t max_queue_messages);
void sbe_store_destroy(sbe_store *store);

void sbe_store_set_available_callback(sbe_store *store, sbe_available_fn *callback, void *ctx);

/*
 * Finds a queue by entity path, case-insensitively: "orders" or "orders/$DeadLetterQueue".
 * Returns NULL when there is none.
 */
sbe_queue *sbe_store_find(sbe_store *store, const char *path);

/*
 * Reports whether `path` is a topic that the configuration lists ("events", or a path under
 * it) or any topic subscription ("t/Subscriptions/s"). The emulator serves neither.
 */
bool sbe_store_is_unserved_topic(const sbe_store *store, const char *path);

size_t sbe_store_queue_count(const sbe_store *store);
/* Returns the main (not dead-letter) queue at `index`, in configuration order. */
sbe_queue *sbe_store_queue_at(sbe_store *store, size_t index);

/* Activates scheduled messages and expires locks and time-to-live in every queue at the
 * clock's current time. */
void sbe_store_expire(sbe_store *store);

/* Returns the entity path ("orders" or "orders/$DeadLetterQueue"); valid for the store's life. */
const char *sbe_queue_path(const sbe_queue *queue);
const sbe_queue_config *sbe_queue_config_of(const sbe_queue *queue);
bool sbe_queue_is_dead_letter(const sbe_queue *queue);
sbe_queue *sbe_queue_dead_letter(sbe_queue *queue);

/* A pointer the caller keeps with a queue (the broker's list of receivers); NULL at first. */
void sbe_queue_set_user_data(sbe_queue *queue, void *user_data);
void *sbe_queue_user_data(const sbe_queue *queue);

/*
 * Stores one message split by sbe_message_split; one with a future
 * x-opt-scheduled-enqueue-time waits until then. Returns WL_OK (also for a duplicate that
 * duplicate detection dropped, reported in `out_duplicate`), or WL_ERR_THROTTLED when the
 * queue is at its cap.
 */
wl_status sbe_queue_enqueue(sbe_queue *queue, const sbe_message_parts *parts, bool *out_duplicate,
                            wl_error *err);

/*
 * Stores a message that becomes available at `scheduled_ms` (Unix milliseconds), for the
 * schedule-message operation, and returns its sequence number. Duplicate detection applies.
 */
wl_status sbe_queue_schedule(sbe_queue *queue, const sbe_message_parts *parts, int64_t scheduled_ms,
                             int64_t *out_sequence_number, wl_error *err);

/* Removes a scheduled message. Returns WL_ERR_NOT_FOUND when none has that sequence number. */
wl_status sbe_queue_cancel_scheduled(sbe_queue *queue, int64_t sequence_number);

/* True when `count` more messages fit under the queue's cap. */
bool sbe_queue_has_room(const sbe_queue *queue, size_t count);

/*
 * Locks the next available message for a peek-lock receiver and returns it, or NULL when
 * none is available. The message stays owned by the store.
 */
sbe_message *sbe_queue_lock_next(sbe_queue *queue);

/*
 * Finds the deferred message with `sequence_number` (not locked at the moment) and locks it,
 * or with `take` removes it (caller frees with sbe_message_free). Returns NULL when there is
 * none. NOTE: the lookup walks the queue, which is fine for the rare deferred receive.
 */
sbe_message *sbe_queue_receive_deferred(sbe_queue *queue, int64_t sequence_number, bool take);
/*
 * Reports whether a deferred message with `sequence_number` is waiting. One whose time-to-live
 * has passed expires now (dead-lettered or removed) and counts as absent, because Service Bus
 * expires a deferred message only when a client tries to receive it.
 */
bool sbe_queue_has_deferred(sbe_queue *queue, int64_t sequence_number);

/* Removes the next available message for receive-and-delete. Caller frees with sbe_message_free. */
sbe_message *sbe_queue_take_next(sbe_queue *queue);
void sbe_message_free(sbe_message *message);

/*
 * Settles the message locked with `lock_token`. `reason` and `description` (either may be
 * NULL) become the DeadLetterReason and DeadLetterErrorDescription application properties
 * when dead-lettering. Returns WL_ERR_NOT_FOUND when no message holds that lock (it expired,
 * or the message was settled already), and WL_ERR_CONFLICT, leaving the message locked, for a
 * dead-letter in a dead-letter subqueue.
 */
wl_status sbe_queue_settle(sbe_queue *queue, const uint8_t lock_token[SBE_LOCK_TOKEN_SIZE],
                           sbe_outcome outcome, const char *reason, const char *description);

/*
 * Like sbe_queue_settle, and unless completing, first sets or adds the application properties
 * in `properties_to_modify` (map entries, or NULL), as Service Bus does with the
 * properties-to-modify of abandon, defer and dead-letter. Keys DeadLetterReason and
 * DeadLetterErrorDescription are left to `reason` and `description`.
 */
wl_status sbe_queue_settle_modified(sbe_queue *queue, const uint8_t lock_token[SBE_LOCK_TOKEN_SIZE],
                                    sbe_outcome outcome, const char *reason,
                                    const char *description,
                                    const sbe_map_entries *properties_to_modify);

/* Extends a lock by the queue's lock duration. Returns WL_ERR_NOT_FOUND when the lock is lost. */
wl_status sbe_queue_renew_lock(sbe_queue *queue, const uint8_t lock_token[SBE_LOCK_TOKEN_SIZE],
                               int64_t *out_locked_until_ms);

/*
 * Returns the first message (in any state) with a sequence number >= `from_sequence_number`,
 * and with sbe_queue_next the ones after it, for peek. Valid until the store is next changed.
 */
const sbe_message *sbe_queue_first_from(const sbe_queue *queue, int64_t from_sequence_number);
const sbe_message *sbe_queue_next(const sbe_message *message);

/* Counts for the management API. Safe from any thread. */
typedef struct sbe_queue_counts {
    size_t active;      /* available, locked and deferred messages */
    size_t scheduled;   /* messages waiting for their scheduled enqueue time */
    size_t dead_letter; /* messages in the dead-letter subqueue */
} sbe_queue_counts;

void sbe_queue_get_counts(const sbe_queue *queue, sbe_queue_counts *out_counts);

/*
 * Writes `message` as a transfer payload: a header with its delivery count, its annotations
 * plus x-opt-sequence-number, x-opt-enqueued-time and, when `locked`, x-opt-locked-until and
 * x-opt-lock-token, then the stored sections. Appends to `out`.
 */
void sbe_message_encode(const sbe_message *message, bool locked, sbe_buffer *out);

/*
 * Like sbe_message_encode for a locked message, and also writes its lock token as the
 * delivery annotation x-opt-lock-token, where the Python SDK reads the lock of a message
 * received through $management.
 */
void sbe_message_encode_with_lock_token(const sbe_message *message, sbe_buffer *out);

#endif
