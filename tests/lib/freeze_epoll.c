/*
 * A library for LD_PRELOAD that freezes a program's event loop on demand: while the file named
 * by WL_FREEZE_FILE exists, every epoll_wait call waits for it to go away first. Only the
 * thread that calls epoll_wait stops. The event loops of the producer and the consumer call it,
 * and their health servers (libmicrohttpd) and signal threads do not, so /healthz keeps
 * responding while the loop is stopped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    static epoll_wait_fn real;
    const char *flag = getenv("WL_FREEZE_FILE");
    const struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};

    if (real == NULL) {
        /* POSIX's way to store dlsym's object pointer in a function pointer. */
        *(void **)&real = dlsym(RTLD_NEXT, "epoll_wait");
    }
    while (flag != NULL && access(flag, F_OK) == 0) {
        nanosleep(&pause, NULL);
    }
    return real(epfd, events, maxevents, timeout);
}
