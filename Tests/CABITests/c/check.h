// Small helpers shared by the C programs of the C ABI tests.
#ifndef LIFELONG_TEST_CHECK_H
#define LIFELONG_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifelong.h"

static int failures = 0;

#define CHECK(cond, ...)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            failures++;                                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                                   \
            fprintf(stderr, "\n");                                                                          \
        }                                                                                                   \
    } while (0)

// A call must fail with `status`, and the thread's message must contain `needle`.
#define EXPECT_ERROR(call, status, needle)                                                                  \
    do {                                                                                                    \
        int rc_ = (call);                                                                                   \
        CHECK(rc_ == (status), "%s returned %s, expected %s (message: %s)", #call, lifelong_status_name(rc_), \
              lifelong_status_name(status), lifelong_last_error());                                         \
        CHECK(strstr(lifelong_last_error(), (needle)) != NULL, "%s: message '%s' does not mention '%s'",     \
              #call, lifelong_last_error(), (needle));                                                      \
    } while (0)

#define EXPECT_OK(call)                                                                                     \
    do {                                                                                                    \
        int rc_ = (call);                                                                                   \
        CHECK(rc_ == LIFELONG_OK, "%s returned %s: %s", #call, lifelong_status_name(rc_),                   \
              lifelong_last_error());                                                                       \
    } while (0)

// Threads of this process, from /proc/self/task.
static inline int thread_count(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0) n = atoi(line + 8);
    fclose(f);
    return n;
}

// Anonymous resident memory in KiB (heap and anonymous maps; file-backed pages of the store excluded).
static inline long rss_anon_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long n = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "RssAnon:", 8) == 0) n = atol(line + 8);
    fclose(f);
    return n;
}

#endif
