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

// A number field of /proc/self/status ("Threads:", "RssAnon:" in KiB); -1 if absent.
static inline long status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long n = -1;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0) n = atol(line + len);
    fclose(f);
    return n;
}

// Threads of this process.
static inline int thread_count(void) { return (int)status_field("Threads:"); }

// Anonymous resident memory in KiB (heap and anonymous maps; file-backed pages of the store excluded).
static inline long rss_anon_kib(void) { return status_field("RssAnon:"); }

#endif
