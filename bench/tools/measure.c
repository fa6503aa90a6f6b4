/*
 * Runs a command and writes what it cost to a file as one JSON line:
 *
 *   measure OUT_FILE COMMAND [ARG...]
 *   {"exit_code": 0, "user_s": 0.41, "system_s": 0.05, "max_rss_kb": 5120}
 *
 * The harness cannot take these from its own wait4(), because Linux carries the high-water RSS
 * of the image a process had before exec() into ru_maxrss. A child forked from the Python
 * harness starts out with the harness's 20 MB or so. Forked from this small program, the command
 * starts with about 1 MB instead. CPU times include every descendant the command reaped.
 * SIGTERM and SIGINT are passed on to the command; the exit status is the command's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward_signal(int signal_number)
{
    if (child_pid > 0) {
        kill((pid_t)child_pid, signal_number);
    }
}

static double seconds(struct timeval value)
{
    return (double)value.tv_sec + (double)value.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct sigaction action;
    struct rusage usage;
    int status = 0;
    int exit_code;
    pid_t pid;
    FILE *out;

    if (argc < 3) {
        fprintf(stderr, "usage: measure OUT_FILE COMMAND [ARG...]\n");
        return 2;
    }

    memset(&action, 0, sizeof action);
    action.sa_handler = forward_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    pid = fork();
    if (pid < 0) {
        perror("measure: fork failed");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    child_pid = pid;

    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            perror("measure: wait4 failed");
            return 2;
        }
    }
    exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    out = fopen(argv[1], "w");
    if (out == NULL) {
        fprintf(stderr, "measure: cannot write %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    fprintf(out, "{\"exit_code\": %d, \"user_s\": %.6f, \"system_s\": %.6f, \"max_rss_kb\": %ld}\n",
            exit_code, seconds(usage.ru_utime), seconds(usage.ru_stime), usage.ru_maxrss);
    fclose(out);
    return exit_code;
}
