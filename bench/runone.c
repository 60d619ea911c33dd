/*
 * runone -- run one command; report its wall time and peak RSS.
 *
 *   runone REPORT CMD [ARG...]
 *
 * Writes "WALL_NS MAXRSS_KIB EXIT CPU_NS" to REPORT, where EXIT is the exit
 * status or 128+signal and CPU_NS the user + system time of the command.  bench/run uses it instead of timing from Python: a child
 * forked from a large process inherits that process's RSS high-water mark,
 * and Python's fork/exec costs would blur millisecond timings.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: runone REPORT CMD [ARG...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runone: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("runone: exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("runone: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    long long cpu = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                    ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    if (!f || fprintf(f, "%lld %ld %d %lld\n", ns, ru.ru_maxrss, code, cpu) < 0 ||
        fclose(f) != 0) {
        perror("runone: report");
        return 2;
    }
    return code;
}
