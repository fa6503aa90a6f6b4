#include "sbe_store.h"

#include "encoding.h"
#include "timefmt.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum heap_kind { HEAP_AVAILABLE, HEAP_EXPIRY, HEAP_LOCK, HEAP_SCHEDULED, HEAP_KIND_COUNT };

#define HEAP_ABSENT SIZE_MAX

/* A binary min-heap of messages; each message records its position for O(log n) removal. */
typedef struct message_heap {
    sbe_message **items;
    size_t size;
    size_t capacity;
    enum heap_kind kind;
} message_heap;

/* A message-id remembered for duplicate detection, in a hash chain and in arrival order. */
typedef struct seen_id {
    struct seen_id *bucket_next;
    struct seen_id *fifo_next;
    int64_t seen_at_ms;
    uint64_t hash;
    char id[];
} seen_id;

struct sbe_queue {
    sbe_store *store;
    const sbe_queue_config *config;
    char *path;
    bool is_dead_letter;
    sbe_queue *dead_letter; /* the subqueue; NULL for a subqueue itself */
    sbe_queue *parent;      /* the main queue of a subqueue */
    void *user_data;

    message_heap available;
    message_heap expiry;
    message_heap locks;
    message_heap scheduled; /* by enqueued time, which is the scheduled time */
    /* Locked messages by lock token; chained, power-of-two bucket count. */
    sbe_message **token_buckets;
    size_t token_bucket_count;
    size_t locked_count;
    /* Every message in sequence order, for peek and for freeing. */
    sbe_message *head;
    sbe_message *tail;
    _Atomic size_t message_count;   /* every message, scheduled ones included */
    _Atomic size_t scheduled_count; /* messages waiting for their scheduled time */
    int64_t next_sequence_number;

    seen_id **seen_buckets;
    size_t seen_bucket_count;
    size_t seen_count;
    seen_id *seen_oldest;
    seen_id *seen_newest;
};

struct sbe_store {
    const sbe_config *config;
    const wl_clock *clock;
    size_t max_queue_messages;
    sbe_queue **queues; /* main queues only */
    size_t queue_count;
    sbe_available_fn *available_callback;
    void *available_ctx;
};

/* memcpy that accepts an empty range with a NULL pointer, as an absent section has. */
static void copy_bytes(void *destination, const void *source, size_t size)
{
    if (size > 0) {
        memcpy(destination, source, size);
    }
}

static int64_t now_ms(const sbe_store *store)
{
    return wl_clock_realtime_us(store->clock) / 1000;
}

static int64_t heap_key(const sbe_message *message, enum heap_kind kind)
{
    switch (kind) {
    case HEAP_AVAILABLE:
        return message->sequence_number;
    case HEAP_EXPIRY:
        return message->expires_at_ms;
    case HEAP_SCHEDULED:
        return message->enqueued_time_ms;
    case HEAP_LOCK:
    default:
        return message->locked_until_ms;
    }
}

static void heap_place(message_heap *heap, size_t index, sbe_message *message)
{
    heap->items[index] = message;
    message->heap_index[heap->kind] = index;
}

static void heap_sift_up(message_heap *heap, size_t index)
{
    sbe_message *message = heap->items[index];
    int64_t key = heap_key(message, heap->kind);

    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (heap_key(heap->items[parent], heap->kind) <= key) {
            break;
        }
        heap_place(heap, index, heap->items[parent]);
        index = parent;
    }
    heap_place(heap, index, message);
}

static void heap_sift_down(message_heap *heap, size_t index)
{
    sbe_message *message = heap->items[index];
    int64_t key = heap_key(message, heap->kind);

    for (;;) {
        size_t child = 2 * index + 1;
        if (child >= heap->size) {
            break;
        }
        if (child + 1 < heap->size && heap_key(heap->items[child + 1], heap->kind) <
                                          heap_key(heap->items[child], heap->kind)) {
            child++;
        }
        if (heap_key(heap->items[child], heap->kind) >= key) {
            break;
        }
        heap_place(heap, index, heap->items[child]);
        index = child;
    }
    heap_place(heap, index, message);
}

static void heap_push(message_heap *heap, sbe_message *message)
{
    if (heap->size == heap->capacity) {
        heap->capacity = heap->capacity ? heap->capacity * 2 : 64;
        heap->items = wl_xrealloc(heap->items, heap->capacity * sizeof *heap->items);
    }
    heap_place(heap, heap->size, message);
    heap->size++;
    heap_sift_up(heap, heap->size - 1);
}

static void heap_remove(message_heap *heap, sbe_message *message)
{
    size_t index = message->heap_index[heap->kind];

    if (index == HEAP_ABSENT) {
        return;
    }
    message->heap_index[heap->kind] = HEAP_ABSENT;
    heap->size--;
    if (index == heap->size) {
        return;
    }
    heap_place(heap, index, heap->items[heap->size]);
    heap_sift_down(heap, index);
    heap_sift_up(heap, heap->items[index]->heap_index[heap->kind]);
}

static sbe_message *heap_top(const message_heap *heap)
{
    return heap->size > 0 ? heap->items[0] : NULL;
}

static uint64_t token_hash(const uint8_t token[SBE_LOCK_TOKEN_SIZE])
{
    uint64_t hash;

    /* Lock tokens are random, so their first bytes already spread evenly. */
    memcpy(&hash, token, sizeof hash);
    return hash;
}

static void token_table_grow(sbe_queue *queue)
{
    size_t count = queue->token_bucket_count ? queue->token_bucket_count * 2 : 256;
    sbe_message **buckets = wl_xcalloc(count, sizeof *buckets);

    for (size_t i = 0; i < queue->token_bucket_count; i++) {
        sbe_message *message = queue->token_buckets[i];
        while (message != NULL) {
            sbe_message *next = message->token_next;
            size_t slot = (size_t)(token_hash(message->lock_token) & (count - 1));
            message->token_next = buckets[slot];
            buckets[slot] = message;
            message = next;
        }
    }
    free(queue->token_buckets);
    queue->token_buckets = buckets;
    queue->token_bucket_count = count;
}

static void token_insert(sbe_queue *queue, sbe_message *message)
{
    if (queue->locked_count + 1 > queue->token_bucket_count) {
        token_table_grow(queue);
    }
    size_t slot = (size_t)(token_hash(message->lock_token) & (queue->token_bucket_count - 1));
    message->token_next = queue->token_buckets[slot];
    queue->token_buckets[slot] = message;
    queue->locked_count++;
}

static sbe_message **token_slot(sbe_queue *queue, const uint8_t token[SBE_LOCK_TOKEN_SIZE])
{
    if (queue->token_bucket_count == 0) {
        return NULL;
    }
    size_t slot = (size_t)(token_hash(token) & (queue->token_bucket_count - 1));
    for (sbe_message **link = &queue->token_buckets[slot]; *link != NULL;
         link = &(*link)->token_next) {
        if (memcmp((*link)->lock_token, token, SBE_LOCK_TOKEN_SIZE) == 0) {
            return link;
        }
    }
    return NULL;
}

static void token_remove(sbe_queue *queue, sbe_message *message)
{
    sbe_message **link = token_slot(queue, message->lock_token);

    if (link != NULL) {
        *link = message->token_next;
        message->token_next = NULL;
        queue->locked_count--;
    }
}

static void list_append(sbe_queue *queue, sbe_message *message)
{
    message->prev = queue->tail;
    message->next = NULL;
    if (queue->tail != NULL) {
        queue->tail->next = message;
    } else {
        queue->head = message;
    }
    queue->tail = message;
    atomic_fetch_add(&queue->message_count, 1);
}

/* Inserts in sequence order; dead-lettered messages keep their number and may arrive late. */
static void list_insert_ordered(sbe_queue *queue, sbe_message *message)
{
    sbe_message *after = queue->tail;

    while (after != NULL && after->sequence_number > message->sequence_number) {
        after = after->prev;
    }
    if (after == queue->tail) {
        list_append(queue, message);
        return;
    }
    message->prev = after;
    message->next = after ? after->next : queue->head;
    message->next->prev = message;
    if (after != NULL) {
        after->next = message;
    } else {
        queue->head = message;
    }
    atomic_fetch_add(&queue->message_count, 1);
}

static void list_remove(sbe_queue *queue, sbe_message *message)
{
    if (message->prev != NULL) {
        message->prev->next = message->next;
    } else {
        queue->head = message->next;
    }
    if (message->next != NULL) {
        message->next->prev = message->prev;
    } else {
        queue->tail = message->prev;
    }
    message->prev = message->next = NULL;
    atomic_fetch_sub(&queue->message_count, 1);
}

static void notify_available(sbe_queue *queue)
{
    sbe_store *store = queue->store;

    if (store->available_callback != NULL) {
        store->available_callback(queue, store->available_ctx);
    }
}

static sbe_message *message_alloc(size_t bytes_size)
{
    sbe_message *message = wl_xcalloc(1, sizeof *message);

    message->bytes = wl_xmalloc(bytes_size > 0 ? bytes_size : 1);
    for (size_t i = 0; i < HEAP_KIND_COUNT; i++) {
        message->heap_index[i] = HEAP_ABSENT;
    }
    return message;
}

void sbe_message_free(sbe_message *message)
{
    if (message == NULL) {
        return;
    }
    free(message->bytes);
    free(message);
}

/* Detaches `message` from every index of `queue`, leaving it owned by the caller. */
static void queue_unlink(sbe_queue *queue, sbe_message *message)
{
    heap_remove(&queue->available, message);
    heap_remove(&queue->expiry, message);
    if (message->state == SBE_MESSAGE_SCHEDULED) {
        heap_remove(&queue->scheduled, message);
        atomic_fetch_sub(&queue->scheduled_count, 1);
    }
    if (message->state == SBE_MESSAGE_LOCKED) {
        heap_remove(&queue->locks, message);
        token_remove(queue, message);
    }
    list_remove(queue, message);
}

static void append_string_entry(sbe_buffer *buffer, const char *key, const char *value)
{
    sbe_put_string(buffer, key);
    sbe_put_string(buffer, value);
}

/* Replaces the application-property entries of `message` with `entries`. */
static void set_application_properties(sbe_message *message, const sbe_buffer *entries,
                                       uint32_t count)
{
    size_t prefix = message->annotations_size + message->properties_size;
    size_t total = prefix + entries->size + message->body_size;
    uint8_t *bytes = wl_xmalloc(total > 0 ? total : 1);

    copy_bytes(bytes, message->bytes, prefix);
    copy_bytes(bytes + prefix, entries->data, entries->size);
    copy_bytes(bytes + prefix + entries->size,
               message->bytes + prefix + message->application_properties_size, message->body_size);
    free(message->bytes);
    message->bytes = bytes;
    message->application_properties_size = entries->size;
    message->application_property_count = count;
}

/* Sets or adds the application properties in `changes`, skipping `ignored_keys`. */
static void modify_application_properties(sbe_message *message, sbe_map_entries changes,
                                          const char *const *ignored_keys)
{
    sbe_map_entries current = {
        .bytes = {message->bytes + message->annotations_size + message->properties_size,
                  message->application_properties_size},
        .count = message->application_property_count,
    };
    sbe_buffer entries = {0};

    uint32_t count = sbe_map_entries_merge(current, changes, ignored_keys, &entries);
    set_application_properties(message, &entries, count);
    sbe_buffer_free(&entries);
}

/* Moves `message` (already unlinked from its queue) to the dead-letter subqueue. */
static void dead_letter(sbe_queue *queue, sbe_message *message, const char *reason,
                        const char *description)
{
    sbe_queue *target = queue->dead_letter;
    sbe_buffer changes = {0};
    uint32_t count = 0;

    if (target == NULL) {
        /* Not reached: settling rejects a dead-letter in a subqueue, and messages there
         * neither expire nor count deliveries. */
        sbe_message_free(message);
        return;
    }
    if (reason != NULL) {
        append_string_entry(&changes, "DeadLetterReason", reason);
        count += 2;
    }
    if (description != NULL) {
        append_string_entry(&changes, "DeadLetterErrorDescription", description);
        count += 2;
    }
    modify_application_properties(
        message, (sbe_map_entries){.bytes = {changes.data, changes.size}, .count = count}, NULL);
    sbe_buffer_free(&changes);

    message->state = SBE_MESSAGE_AVAILABLE;
    message->deferred = false;
    message->expires_at_ms = INT64_MAX;
    list_insert_ordered(target, message);
    heap_push(&target->available, message);
    notify_available(target);
}

static void make_available(sbe_queue *queue, sbe_message *message)
{
    message->state = SBE_MESSAGE_AVAILABLE;
    heap_push(&queue->available, message);
}

static void expire_message(sbe_queue *queue, sbe_message *message);

/* Puts a message unlinked from its lock back: available, deferred, or expired by its TTL. */
static void return_message(sbe_queue *queue, sbe_message *message, int64_t now)
{
    if (message->expires_at_ms <= now) {
        /* The time-to-live passed while the message was locked. */
        message->state = SBE_MESSAGE_AVAILABLE;
        expire_message(queue, message);
        return;
    }
    if (message->deferred) {
        /* An abandoned deferred message stays deferred, as in Service Bus. */
        message->state = SBE_MESSAGE_DEFERRED;
        return;
    }
    make_available(queue, message);
    notify_available(queue);
}

/* Handles a failed delivery (abandon or lock expiry) of a message unlinked from its lock. */
static void delivery_failed(sbe_queue *queue, sbe_message *message, int64_t now)
{
    if (queue->is_dead_letter) {
        /* Service Bus does not count an abandon in a dead-letter subqueue.
         * NOTE: a lock expiry there is assumed to behave the same, which is not checked. */
        return_message(queue, message, now);
        return;
    }
    message->delivery_count++;
    if (message->delivery_count >= queue->config->max_delivery_count) {
        heap_remove(&queue->expiry, message);
        list_remove(queue, message);
        dead_letter(queue, message, "MaxDeliveryCountExceeded",
                    "Message could not be consumed after maximum delivery attempts.");
        return;
    }
    return_message(queue, message, now);
}

static void expire_message(sbe_queue *queue, sbe_message *message)
{
    queue_unlink(queue, message);
    if (queue->config->dead_letter_on_expiration) {
        dead_letter(queue, message, "TTLExpiredException",
                    "The message expired and was dead lettered.");
    } else {
        sbe_message_free(message);
    }
}

static void queue_expire(sbe_queue *queue, int64_t now)
{
    sbe_message *message;
    bool activated = false;

    while ((message = heap_top(&queue->scheduled)) != NULL && message->enqueued_time_ms <= now) {
        heap_remove(&queue->scheduled, message);
        atomic_fetch_sub(&queue->scheduled_count, 1);
        make_available(queue, message);
        activated = true;
    }
    if (activated) {
        notify_available(queue);
    }

    while ((message = heap_top(&queue->locks)) != NULL && message->locked_until_ms <= now) {
        heap_remove(&queue->locks, message);
        token_remove(queue, message);
        delivery_failed(queue, message, now);
    }
    /* Only available messages expire here. A locked one expires once released, and a deferred
     * one when a client tries to receive it, as Service Bus documents for deferral. */
    while ((message = heap_top(&queue->expiry)) != NULL && message->expires_at_ms <= now) {
        if (message->state == SBE_MESSAGE_LOCKED || message->state == SBE_MESSAGE_DEFERRED) {
            heap_remove(&queue->expiry, message);
            continue;
        }
        expire_message(queue, message);
    }
}

static void seen_forget_old(sbe_queue *queue, int64_t now)
{
    while (queue->seen_oldest != NULL &&
           queue->seen_oldest->seen_at_ms + queue->config->duplicate_window_ms <= now) {
        seen_id *oldest = queue->seen_oldest;
        size_t slot = (size_t)(oldest->hash & (queue->seen_bucket_count - 1));
        seen_id **link = &queue->seen_buckets[slot];
        while (*link != oldest) {
            link = &(*link)->bucket_next;
        }
        *link = oldest->bucket_next;
        queue->seen_oldest = oldest->fifo_next;
        if (queue->seen_oldest == NULL) {
            queue->seen_newest = NULL;
        }
        queue->seen_count--;
        free(oldest);
    }
}

static uint64_t text_hash(const char *text)
{
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a */

    for (const char *p = text; *p != '\0'; p++) {
        hash = (hash ^ (uint8_t)*p) * 1099511628211ULL;
    }
    return hash;
}

static void seen_grow(sbe_queue *queue)
{
    size_t count = queue->seen_bucket_count ? queue->seen_bucket_count * 2 : 1024;
    seen_id **buckets = wl_xcalloc(count, sizeof *buckets);

    for (seen_id *entry = queue->seen_oldest; entry != NULL; entry = entry->fifo_next) {
        size_t slot = (size_t)(entry->hash & (count - 1));
        entry->bucket_next = buckets[slot];
        buckets[slot] = entry;
    }
    free(queue->seen_buckets);
    queue->seen_buckets = buckets;
    queue->seen_bucket_count = count;
}

/* Records `id` and returns true when it was already seen inside the window. */
static bool seen_check_and_add(sbe_queue *queue, const char *id, int64_t now)
{
    uint64_t hash = text_hash(id);

    seen_forget_old(queue, now);
    if (queue->seen_bucket_count > 0) {
        size_t slot = (size_t)(hash & (queue->seen_bucket_count - 1));
        for (seen_id *entry = queue->seen_buckets[slot]; entry; entry = entry->bucket_next) {
            if (entry->hash == hash && strcmp(entry->id, id) == 0) {
                return true;
            }
        }
    }
    if (queue->seen_count + 1 > queue->seen_bucket_count) {
        seen_grow(queue);
    }
    size_t length = strlen(id);
    seen_id *entry = wl_xmalloc(sizeof *entry + length + 1);
    memcpy(entry->id, id, length + 1);
    entry->hash = hash;
    entry->seen_at_ms = now;
    entry->fifo_next = NULL;
    size_t slot = (size_t)(hash & (queue->seen_bucket_count - 1));
    entry->bucket_next = queue->seen_buckets[slot];
    queue->seen_buckets[slot] = entry;
    if (queue->seen_newest != NULL) {
        queue->seen_newest->fifo_next = entry;
    } else {
        queue->seen_oldest = entry;
    }
    queue->seen_newest = entry;
    queue->seen_count++;
    return false;
}

/* Returns `parts` with a new message-id, as Service Bus gives a message sent without one. */
static const sbe_message_parts *assign_message_id(const sbe_message_parts *parts,
                                                  sbe_message_parts *out_parts,
                                                  sbe_buffer *properties)
{
    uint8_t random[16];
    char id[33];

    if (!wl_random_bytes(random, sizeof random)) {
        abort();
    }
    for (size_t i = 0; i < sizeof random; i++) {
        static const char digits[] = "0123456789abcdef";
        id[2 * i] = digits[random[i] >> 4];
        id[2 * i + 1] = digits[random[i] & 0xf];
    }
    id[32] = '\0';
    sbe_properties_with_message_id(parts->properties, id, properties);
    *out_parts = *parts;
    out_parts->properties = (sbe_bytes){properties->data, properties->size};
    return out_parts;
}

/*
 * Returns `parts`, or a copy in `out_parts` whose annotations (written to `buffer`) lack the
 * ones that encode_message writes. A received message sent again carries them from its first
 * trip, and a repeated key in the delivered annotations map is invalid AMQP.
 */
static const sbe_message_parts *remove_broker_annotations(const sbe_message_parts *parts,
                                                          sbe_message_parts *out_parts,
                                                          sbe_buffer *buffer)
{
    static const char *const broker_keys[] = {"x-opt-sequence-number", "x-opt-enqueued-time",
                                              "x-opt-locked-until", "x-opt-message-state", NULL};
    sbe_bytes value;
    bool found = false;

    for (size_t i = 0; broker_keys[i] != NULL && !found; i++) {
        found = sbe_map_entries_find(parts->annotations, broker_keys[i], &value);
    }
    if (!found) {
        return parts;
    }
    *out_parts = *parts;
    out_parts->annotations.count = sbe_map_entries_remove(parts->annotations, broker_keys, buffer);
    out_parts->annotations.bytes = (sbe_bytes){buffer->data, buffer->size};
    return out_parts;
}

/*
 * Stores a message that becomes available at `scheduled_ms` (now or earlier: at once). Its
 * enqueued time is then the scheduled time, as in Service Bus.
 */
static wl_status enqueue_at(sbe_queue *queue, const sbe_message_parts *parts, int64_t scheduled_ms,
                            int64_t *out_sequence_number, bool *out_duplicate, wl_error *err)
{
    sbe_store *store = queue->store;
    int64_t now = now_ms(store);

    *out_duplicate = false;
    *out_sequence_number = 0;
    if (!sbe_queue_has_room(queue, 1)) {
        return wl_error_set_condition(err, WL_ERR_THROTTLED, "amqp:resource-limit-exceeded",
                                      "queue %s holds its maximum of %zu messages", queue->path,
                                      store->max_queue_messages);
    }
    if (queue->config->requires_duplicate_detection && parts->message_id.size > 0) {
        char id[256];
        if (sbe_message_id_text(parts->message_id, id, sizeof id) &&
            seen_check_and_add(queue, id, now)) {
            *out_duplicate = true;
            return WL_OK;
        }
    }

    sbe_message_parts with_id;
    sbe_buffer properties = {0};
    if (parts->message_id.size == 0) {
        parts = assign_message_id(parts, &with_id, &properties);
    }
    sbe_message_parts without_broker_annotations;
    sbe_buffer annotations = {0};
    parts = remove_broker_annotations(parts, &without_broker_annotations, &annotations);

    size_t total = parts->annotations.bytes.size + parts->properties.size +
                   parts->application_properties.bytes.size + parts->body.size;
    sbe_message *message = message_alloc(total);
    uint8_t *p = message->bytes;
    copy_bytes(p, parts->annotations.bytes.data, parts->annotations.bytes.size);
    p += parts->annotations.bytes.size;
    copy_bytes(p, parts->properties.data, parts->properties.size);
    p += parts->properties.size;
    copy_bytes(p, parts->application_properties.bytes.data,
               parts->application_properties.bytes.size);
    p += parts->application_properties.bytes.size;
    copy_bytes(p, parts->body.data, parts->body.size);

    message->annotations_size = parts->annotations.bytes.size;
    message->annotation_count = parts->annotations.count;
    message->properties_size = parts->properties.size;
    message->application_properties_size = parts->application_properties.bytes.size;
    message->application_property_count = parts->application_properties.count;
    message->body_size = parts->body.size;
    message->durable = parts->durable;
    message->priority = parts->priority;
    message->has_ttl = parts->has_ttl;
    message->ttl_ms = parts->ttl_ms;
    message->first_acquirer = parts->first_acquirer;

    bool scheduled = scheduled_ms > now;
    int64_t enqueued_ms = scheduled ? scheduled_ms : now;
    message->sequence_number = queue->next_sequence_number++;
    message->enqueued_time_ms = enqueued_ms;
    int64_t ttl_ms = queue->config->default_ttl_ms;
    if (parts->has_ttl && (int64_t)parts->ttl_ms < ttl_ms) {
        ttl_ms = parts->ttl_ms;
    }
    message->expires_at_ms = ttl_ms >= INT64_MAX - enqueued_ms ? INT64_MAX : enqueued_ms + ttl_ms;
    *out_sequence_number = message->sequence_number;

    list_append(queue, message);
    if (message->expires_at_ms != INT64_MAX) {
        heap_push(&queue->expiry, message);
    }
    sbe_buffer_free(&properties);
    sbe_buffer_free(&annotations);
    if (scheduled) {
        message->state = SBE_MESSAGE_SCHEDULED;
        heap_push(&queue->scheduled, message);
        atomic_fetch_add(&queue->scheduled_count, 1);
        return WL_OK;
    }
    make_available(queue, message);
    notify_available(queue);
    return WL_OK;
}

wl_status sbe_queue_enqueue(sbe_queue *queue, const sbe_message_parts *parts, bool *out_duplicate,
                            wl_error *err)
{
    int64_t sequence_number;
    int64_t scheduled_ms = parts->has_scheduled_enqueue_time ? parts->scheduled_enqueue_time_ms : 0;

    return enqueue_at(queue, parts, scheduled_ms, &sequence_number, out_duplicate, err);
}

wl_status sbe_queue_schedule(sbe_queue *queue, const sbe_message_parts *parts, int64_t scheduled_ms,
                             int64_t *out_sequence_number, wl_error *err)
{
    bool duplicate;

    return enqueue_at(queue, parts, scheduled_ms, out_sequence_number, &duplicate, err);
}

wl_status sbe_queue_cancel_scheduled(sbe_queue *queue, int64_t sequence_number)
{
    for (sbe_message *message = queue->head; message != NULL; message = message->next) {
        if (message->sequence_number == sequence_number) {
            if (message->state != SBE_MESSAGE_SCHEDULED) {
                return WL_ERR_NOT_FOUND;
            }
            queue_unlink(queue, message);
            sbe_message_free(message);
            return WL_OK;
        }
    }
    return WL_ERR_NOT_FOUND;
}

bool sbe_queue_has_room(const sbe_queue *queue, size_t count)
{
    size_t cap = queue->store->max_queue_messages;

    return cap == 0 || atomic_load(&queue->message_count) + count <= cap;
}

/* Pops the next available message that has not expired, or NULL. */
static sbe_message *pop_available(sbe_queue *queue, int64_t now)
{
    sbe_message *message;

    while ((message = heap_top(&queue->available)) != NULL) {
        heap_remove(&queue->available, message);
        if (message->expires_at_ms > now) {
            return message;
        }
        /* An expired message is expired here instead of being handed out. */
        message->state = SBE_MESSAGE_AVAILABLE;
        expire_message(queue, message);
    }
    return NULL;
}

static void lock_message(sbe_queue *queue, sbe_message *message, int64_t now)
{
    if (!wl_random_bytes(message->lock_token, sizeof message->lock_token)) {
        abort();
    }
    message->state = SBE_MESSAGE_LOCKED;
    message->locked_until_ms = now + queue->config->lock_duration_ms;
    heap_push(&queue->locks, message);
    token_insert(queue, message);
}

sbe_message *sbe_queue_lock_next(sbe_queue *queue)
{
    int64_t now = now_ms(queue->store);
    sbe_message *message = pop_available(queue, now);

    if (message != NULL) {
        lock_message(queue, message, now);
    }
    return message;
}

static sbe_message *find_deferred(const sbe_queue *queue, int64_t sequence_number)
{
    for (sbe_message *message = queue->head; message != NULL; message = message->next) {
        if (message->sequence_number == sequence_number) {
            return message->state == SBE_MESSAGE_DEFERRED ? message : NULL;
        }
    }
    return NULL;
}

bool sbe_queue_has_deferred(sbe_queue *queue, int64_t sequence_number)
{
    sbe_message *message = find_deferred(queue, sequence_number);

    if (message != NULL && message->expires_at_ms <= now_ms(queue->store)) {
        expire_message(queue, message);
        return false;
    }
    return message != NULL;
}

sbe_message *sbe_queue_receive_deferred(sbe_queue *queue, int64_t sequence_number, bool take)
{
    int64_t now = now_ms(queue->store);
    sbe_message *message = find_deferred(queue, sequence_number);

    if (message == NULL) {
        return NULL;
    }
    if (message->expires_at_ms <= now) {
        expire_message(queue, message);
        return NULL;
    }
    if (take) {
        heap_remove(&queue->expiry, message);
        list_remove(queue, message);
    } else {
        lock_message(queue, message, now);
    }
    return message;
}

sbe_message *sbe_queue_take_next(sbe_queue *queue)
{
    sbe_message *message = pop_available(queue, now_ms(queue->store));

    if (message != NULL) {
        heap_remove(&queue->expiry, message);
        list_remove(queue, message);
    }
    return message;
}

static sbe_message *find_locked(sbe_queue *queue, const uint8_t token[SBE_LOCK_TOKEN_SIZE])
{
    sbe_message **link = token_slot(queue, token);

    return link != NULL ? *link : NULL;
}

wl_status sbe_queue_settle(sbe_queue *queue, const uint8_t lock_token[SBE_LOCK_TOKEN_SIZE],
                           sbe_outcome outcome, const char *reason, const char *description)
{
    return sbe_queue_settle_modified(queue, lock_token, outcome, reason, description, NULL);
}

wl_status sbe_queue_settle_modified(sbe_queue *queue, const uint8_t lock_token[SBE_LOCK_TOKEN_SIZE],
                                    sbe_outcome outcome, const char *reason,
                                    const char *description,
                                    const sbe_map_entries *properties_to_modify)
{
    /* The dead-letter reason and description have their own parameters. */
    static const char *const dead_letter_keys[] = {"DeadLetterReason", "DeadLetterErrorDescription",
                                                   NULL};
    int64_t now = now_ms(queue->store);
    sbe_message *message = find_locked(queue, lock_token);

    if (message == NULL || message->locked_until_ms <= now) {
        /* An expired lock not yet collected is lost all the same. */
        return WL_ERR_NOT_FOUND;
    }
    if (outcome == SBE_OUTCOME_DEAD_LETTER && queue->is_dead_letter) {
        /* Service Bus rejects this and keeps the message in the subqueue.
         * NOTE: that it also keeps the lock, as here, is not checked. */
        return WL_ERR_CONFLICT;
    }
    heap_remove(&queue->locks, message);
    token_remove(queue, message);
    if (properties_to_modify != NULL && properties_to_modify->count > 0 &&
        outcome != SBE_OUTCOME_COMPLETE) {
        modify_application_properties(message, *properties_to_modify, dead_letter_keys);
    }

    switch (outcome) {
    case SBE_OUTCOME_COMPLETE:
        heap_remove(&queue->expiry, message);
        list_remove(queue, message);
        sbe_message_free(message);
        break;
    case SBE_OUTCOME_ABANDON:
        delivery_failed(queue, message, now);
        break;
    case SBE_OUTCOME_RELEASE:
        return_message(queue, message, now);
        break;
    case SBE_OUTCOME_DEFER:
        /* Service Bus counts a deferral as a delivery, as it does an abandon. */
        message->delivery_count++;
        message->state = SBE_MESSAGE_DEFERRED;
        message->deferred = true;
        break;
    case SBE_OUTCOME_DEAD_LETTER:
        heap_remove(&queue->expiry, message);
        list_remove(queue, message);
        dead_letter(queue, message, reason, description);
        break;
    }
    return WL_OK;
}

wl_status sbe_queue_renew_lock(sbe_queue *queue, const uint8_t lock_token[SBE_LOCK_TOKEN_SIZE],
                               int64_t *out_locked_until_ms)
{
    int64_t now = now_ms(queue->store);
    sbe_message *message = find_locked(queue, lock_token);

    if (message == NULL || message->locked_until_ms <= now) {
        return WL_ERR_NOT_FOUND;
    }
    heap_remove(&queue->locks, message);
    message->locked_until_ms = now + queue->config->lock_duration_ms;
    heap_push(&queue->locks, message);
    *out_locked_until_ms = message->locked_until_ms;
    return WL_OK;
}

const sbe_message *sbe_queue_first_from(const sbe_queue *queue, int64_t from_sequence_number)
{
    const sbe_message *message = queue->head;

    while (message != NULL && message->sequence_number < from_sequence_number) {
        message = message->next;
    }
    return message;
}

const sbe_message *sbe_queue_next(const sbe_message *message)
{
    return message->next;
}

void sbe_queue_get_counts(const sbe_queue *queue, sbe_queue_counts *out_counts)
{
    size_t scheduled = atomic_load(&queue->scheduled_count);
    out_counts->active = atomic_load(&queue->message_count) - scheduled;
    out_counts->scheduled = scheduled;
    out_counts->dead_letter =
        queue->dead_letter != NULL ? atomic_load(&queue->dead_letter->message_count) : 0;
}

static void encode_message(const sbe_message *message, bool locked, bool lock_token_annotation,
                           sbe_buffer *out)
{
    const uint8_t *p = message->bytes;

    sbe_buffer_reserve(out, 200 + message->annotations_size + message->properties_size +
                                message->application_properties_size + message->body_size);
    sbe_put_header(out, message->durable, message->priority, message->has_ttl, message->ttl_ms,
                   message->first_acquirer, message->delivery_count);
    if (lock_token_annotation) {
        /* The lock token as a uuid in string order, which is the delivery tag with its first
         * three groups byte-swapped (the .NET GUID layout). */
        uint8_t uuid[SBE_LOCK_TOKEN_SIZE];
        uint8_t code = 0x98;
        wl_uuid_swap_guid_order(message->lock_token, uuid);
        size_t annotations = sbe_map_section_begin(out, 0x71);
        sbe_put_symbol(out, "x-opt-lock-token");
        sbe_buffer_append(out, &code, 1);
        sbe_buffer_append(out, uuid, sizeof uuid);
        sbe_map_section_end(out, annotations, 2);
    }

    size_t begin = sbe_map_section_begin(out, 0x72);
    sbe_buffer_append(out, p, message->annotations_size);
    uint32_t count = message->annotation_count + 4;
    sbe_put_symbol(out, "x-opt-sequence-number");
    sbe_put_long(out, message->sequence_number);
    sbe_put_symbol(out, "x-opt-enqueued-time");
    sbe_put_timestamp(out, message->enqueued_time_ms);
    /* x-opt-message-state: 1 deferred, 2 scheduled, absent for active (the SDKs' default). */
    if (message->deferred || message->state == SBE_MESSAGE_SCHEDULED) {
        sbe_put_symbol(out, "x-opt-message-state");
        sbe_put_long(out, message->deferred ? 1 : 2);
        count += 2;
    }
    if (locked) {
        sbe_put_symbol(out, "x-opt-locked-until");
        sbe_put_timestamp(out, message->locked_until_ms);
        count += 2;
    }
    sbe_map_section_end(out, begin, count);
    p += message->annotations_size;

    sbe_buffer_append(out, p, message->properties_size);
    p += message->properties_size;

    if (message->application_property_count > 0) {
        begin = sbe_map_section_begin(out, 0x74);
        sbe_buffer_append(out, p, message->application_properties_size);
        sbe_map_section_end(out, begin, message->application_property_count);
    }
    p += message->application_properties_size;
    sbe_buffer_append(out, p, message->body_size);
}

void sbe_message_encode(const sbe_message *message, bool locked, sbe_buffer *out)
{
    encode_message(message, locked, false, out);
}

void sbe_message_encode_with_lock_token(const sbe_message *message, sbe_buffer *out)
{
    encode_message(message, true, true, out);
}

static sbe_queue *queue_create(sbe_store *store, const sbe_queue_config *config, bool dead_letter)
{
    sbe_queue *queue = wl_xcalloc(1, sizeof *queue);

    queue->store = store;
    queue->config = config;
    queue->is_dead_letter = dead_letter;
    queue->path = dead_letter ? wl_xasprintf("%s%s", config->name, SBE_DEAD_LETTER_SUFFIX)
                              : wl_xstrdup(config->name);
    queue->available.kind = HEAP_AVAILABLE;
    queue->expiry.kind = HEAP_EXPIRY;
    queue->locks.kind = HEAP_LOCK;
    queue->scheduled.kind = HEAP_SCHEDULED;
    atomic_init(&queue->scheduled_count, 0);
    queue->next_sequence_number = 1;
    atomic_init(&queue->message_count, 0);
    return queue;
}

static void queue_destroy(sbe_queue *queue)
{
    sbe_message *message = queue->head;

    while (message != NULL) {
        sbe_message *next = message->next;
        sbe_message_free(message);
        message = next;
    }
    seen_id *entry = queue->seen_oldest;
    while (entry != NULL) {
        seen_id *next = entry->fifo_next;
        free(entry);
        entry = next;
    }
    free(queue->seen_buckets);
    free(queue->token_buckets);
    free(queue->available.items);
    free(queue->expiry.items);
    free(queue->locks.items);
    free(queue->scheduled.items);
    free(queue->path);
    free(queue);
}

sbe_store *sbe_store_create(const sbe_config *config, const wl_clock *clock,
                            size_t max_queue_messages)
{
    sbe_store *store = wl_xcalloc(1, sizeof *store);

    store->config = config;
    store->clock = clock;
    store->max_queue_messages = max_queue_messages;
    store->queue_count = config->queue_count;
    store->queues = wl_xcalloc(config->queue_count ? config->queue_count : 1, sizeof(sbe_queue *));
    for (size_t i = 0; i < config->queue_count; i++) {
        sbe_queue *queue = queue_create(store, &config->queues[i], false);
        queue->dead_letter = queue_create(store, &config->queues[i], true);
        queue->dead_letter->parent = queue;
        store->queues[i] = queue;
    }
    return store;
}

void sbe_store_destroy(sbe_store *store)
{
    if (store == NULL) {
        return;
    }
    for (size_t i = 0; i < store->queue_count; i++) {
        queue_destroy(store->queues[i]->dead_letter);
        queue_destroy(store->queues[i]);
    }
    free(store->queues);
    free(store);
}

void sbe_store_set_available_callback(sbe_store *store, sbe_available_fn *callback, void *ctx)
{
    store->available_callback = callback;
    store->available_ctx = ctx;
}

sbe_queue *sbe_store_find(sbe_store *store, const char *path)
{
    size_t length = strlen(path);
    size_t suffix_length = strlen(SBE_DEAD_LETTER_SUFFIX);
    bool dead_letter = length > suffix_length &&
                       strcasecmp(path + length - suffix_length, SBE_DEAD_LETTER_SUFFIX) == 0;
    size_t name_length = dead_letter ? length - suffix_length : length;

    for (size_t i = 0; i < store->queue_count; i++) {
        sbe_queue *queue = store->queues[i];
        if (strlen(queue->path) == name_length &&
            strncasecmp(queue->path, path, name_length) == 0) {
            return dead_letter ? queue->dead_letter : queue;
        }
    }
    return NULL;
}

bool sbe_store_is_unserved_topic(const sbe_store *store, const char *path)
{
    static const char subscriptions[] = "/subscriptions/";
    size_t topic_length = strcspn(path, "/");

    for (const char *p = path; *p != '\0'; p++) {
        if (strncasecmp(p, subscriptions, sizeof subscriptions - 1) == 0) {
            return true;
        }
    }
    char *topic = wl_xstrndup(path, topic_length);
    bool listed = sbe_config_has_topic(store->config, topic);
    free(topic);
    return listed;
}

size_t sbe_store_queue_count(const sbe_store *store)
{
    return store->queue_count;
}

sbe_queue *sbe_store_queue_at(sbe_store *store, size_t index)
{
    return index < store->queue_count ? store->queues[index] : NULL;
}

void sbe_store_expire(sbe_store *store)
{
    int64_t now = now_ms(store);

    for (size_t i = 0; i < store->queue_count; i++) {
        queue_expire(store->queues[i], now);
        queue_expire(store->queues[i]->dead_letter, now);
    }
}

const char *sbe_queue_path(const sbe_queue *queue)
{
    return queue->path;
}

const sbe_queue_config *sbe_queue_config_of(const sbe_queue *queue)
{
    return queue->config;
}

bool sbe_queue_is_dead_letter(const sbe_queue *queue)
{
    return queue->is_dead_letter;
}

sbe_queue *sbe_queue_dead_letter(sbe_queue *queue)
{
    return queue->dead_letter;
}

void sbe_queue_set_user_data(sbe_queue *queue, void *user_data)
{
    queue->user_data = user_data;
}

void *sbe_queue_user_data(const sbe_queue *queue)
{
    return queue->user_data;
}
