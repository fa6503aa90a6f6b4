#include "job.h"

#include "status.h"

#include <stdlib.h>
#include <string.h>

void consumer_job_free(consumer_job *job)
{
    if (job == NULL) {
        return;
    }
    free(job->message_id);
    free(job->log_id);
    free(job->body);
    free(job->document);
    free(job->partition_key);
    free(job);
}

void consumer_job_set_message_id(consumer_job *job, char *id, size_t length)
{
    job->message_id = id;
    job->message_id_length = length;
    job->log_id = NULL;
    if (memchr(id, '\0', length) == NULL && memchr(id, '\\', length) == NULL) {
        return;
    }
    /* A backslash is doubled, so that "a\0" as text and "a" with a NUL log differently. */
    char *log_text = wl_xmalloc(2 * length + 1);
    size_t used = 0;
    for (size_t i = 0; i < length; i++) {
        if (id[i] == '\0') {
            log_text[used++] = '\\';
            log_text[used++] = '0';
        } else if (id[i] == '\\') {
            log_text[used++] = '\\';
            log_text[used++] = '\\';
        } else {
            log_text[used++] = id[i];
        }
    }
    log_text[used] = '\0';
    job->log_id = log_text;
}

const char *consumer_job_log_id(const consumer_job *job)
{
    if (job->log_id != NULL) {
        return job->log_id;
    }
    return job->message_id != NULL ? job->message_id : "";
}

void job_queue_init(job_queue *queue, size_t capacity)
{
    queue->items = wl_xcalloc(capacity, sizeof *queue->items);
    queue->capacity = capacity;
    queue->head = 0;
    queue->count = 0;
}

void job_queue_destroy(job_queue *queue)
{
    free(queue->items);
    queue->items = NULL;
}

bool job_queue_push(job_queue *queue, consumer_job *job)
{
    if (queue->count == queue->capacity) {
        return false;
    }
    queue->items[(queue->head + queue->count) % queue->capacity] = job;
    queue->count++;
    return true;
}

consumer_job *job_queue_pop(job_queue *queue)
{
    if (queue->count == 0) {
        return NULL;
    }
    consumer_job *job = queue->items[queue->head];
    queue->head = (queue->head + 1) % queue->capacity;
    queue->count--;
    return job;
}
