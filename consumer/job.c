#include "job.h"

#include "status.h"

#include <stdlib.h>

void consumer_job_free(consumer_job *job)
{
    if (job == NULL) {
        return;
    }
    free(job->message_id);
    free(job->body);
    free(job->document);
    free(job->partition_key);
    free(job);
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
