// A seeded fuzz of the C ABI: random, NULL, overlong and non-UTF-8 arguments, made-up, closed and reopened
// handles. Passes when nothing crashes or hangs, every call returns a known status (a failure with a
// message), and anonymous memory stays flat from the first fifth of the run to the end.
//
// usage: fuzz MODEL STORE_R STORE_W CALLS SEED
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>

#include "check.h"

static uint64_t state;
static uint64_t next(void) {  // xorshift64*
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
}
static int below(int n) { return (int)(next() % (uint64_t)n); }

enum { POOL = 64, HANDLES = 4, MAX_N = 24 };
static char strings[POOL][2048];

// A random string argument: a known id, random bytes (often not UTF-8), an overlong one, an empty one, or NULL.
static const char *random_string(void) {
    int kind = below(10);
    if (kind == 0) return NULL;
    char *s = strings[below(POOL)];
    if (kind <= 4) {  // an id that exists in MovieLens (users 1..943, items 1..1682)
        snprintf(s, 16, "%d", 1 + below(1682));
    } else if (kind <= 6) {  // random bytes
        int n = below(24);
        for (int i = 0; i < n; i++) s[i] = (char)(1 + below(255));
        s[n] = 0;
    } else if (kind == 7) {  // overlong
        int n = 400 + below(1600);
        memset(s, 'a' + below(26), (size_t)n);
        s[n] = 0;
    } else if (kind == 8) {
        s[0] = 0;
    } else {  // a truncated multi-byte sequence
        strcpy(s, "caf\xc3");
    }
    return s;
}

// Usually a valid id (1 in 40 candidates is a random string, like a hostile client's).
static const char *random_id(void) {
    char *s = strings[below(POOL)];
    snprintf(s, 16, "%d", 1 + below(1682));
    return s;
}

static int known_status(int rc) { return rc >= LIFELONG_OK && rc <= LIFELONG_INPUT_ERROR; }

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL STORE_R STORE_W CALLS SEED\n", argv[0]);
        return 2;
    }
    const char *model = argv[1], *stores[2] = {argv[2], argv[3]};
    long calls = atol(argv[4]);
    state = (uint64_t)atoll(argv[5]) | 1;
    lifelong_scorer *handles[HANDLES] = {0}, *closed[HANDLES] = {0};
    const char *items[MAX_N];
    float out[MAX_N * 64];
    char ids[MAX_N * 2048];
    size_t offsets[MAX_N + 1];
    double timestamp = 3e9;
    long rss_early = 0, ok = 0, failed = 0, opens = 0, counts[8] = {0};
    for (long call = 0; call < calls; call++) {
        if (call == calls / 5) rss_early = rss_anon_kib();
        int slot = below(HANDLES);
        // The handle argument: open, closed, made up or NULL.
        lifelong_scorer *h;
        switch (below(8)) {
        case 0: h = NULL; break;
        case 1: h = closed[slot]; break;
        case 2: h = (lifelong_scorer *)(uintptr_t)next(); break;
        default: h = handles[slot];
        }
        int n = below(MAX_N + 1);
        for (int i = 0; i < n; i++) items[i] = below(40) == 0 ? random_string() : random_id();
        const char *const *item_arg = below(20) == 0 ? NULL : items;
        float *out_arg = below(30) == 0 ? NULL : out;
        int mode = below(12) == 0 ? below(9) - 4 : below(4);
        size_t n_arg = below(50) == 0 ? (size_t)next() : (size_t)n;
        if (n_arg > MAX_N && n_arg <= LIFELONG_MAX_CANDIDATES) n_arg = (size_t)n;  // never past our buffers
        int rc;
        switch (below(100)) {
        case 0:  // open (read-only or writable), replacing the slot's handle
        case 1: {
            lifelong_scorer *fresh = NULL;
            if (below(6) == 0) {  // a manifest that is missing, or not a manifest (a store folder, random text)
                const char *where = below(2) ? random_string() : stores[below(2)];
                rc = lifelong_scorer_open_manifest(model, where, below(2), &fresh);
            } else {
                rc = lifelong_scorer_open(below(8) == 0 ? random_string() : model, stores[below(2)], below(2), &fresh);
            }
            CHECK((rc == LIFELONG_OK) == (fresh != NULL), "open: status %d with handle %p", rc, (void *)fresh);
            if (rc == LIFELONG_OK) {
                lifelong_scorer_close(handles[slot]);
                closed[slot] = handles[slot];
                handles[slot] = fresh;
                opens++;
            }
            break;
        }
        case 2:  // close (perhaps twice, perhaps NULL or made up)
            lifelong_scorer_close(h);
            if (h == handles[slot] && h) {
                closed[slot] = h;
                handles[slot] = NULL;
            }
            rc = LIFELONG_OK;
            break;
        case 3 ... 7: {  // append
            int label = below(10) == 0 ? below(7) - 3 : below(3) - 1;
            double t = below(10) == 0 ? (below(2) ? NAN : 1.0) : (timestamp += 1);
            rc = lifelong_append(h, random_string(), random_string(), t, label);
            break;
        }
        case 8 ... 9: {  // a batch of appends: bad behaviors among good ones, arrays sometimes NULL
            const char *users[MAX_N];
            double times[MAX_N];
            int labels[MAX_N];
            lifelong_status status[MAX_N];
            for (int i = 0; i < n; i++) {
                users[i] = below(10) == 0 ? random_string() : random_id();
                times[i] = below(20) == 0 ? (below(2) ? NAN : 1.0) : (timestamp += 1);
                labels[i] = below(20) == 0 ? below(7) - 3 : below(3) - 1;
            }
            rc = lifelong_append_batch(h, (size_t)n, below(30) == 0 ? NULL : users, item_arg,
                                       below(30) == 0 ? NULL : times, below(4) == 0 ? NULL : labels,
                                       below(4) == 0 ? NULL : status);
            break;
        }
        case 10 ... 19: {  // packed ids, offsets sometimes decreasing
            size_t at = 0;
            for (int i = 0; i < n; i++) {
                offsets[i] = at;
                const char *s = items[i] ? items[i] : "";
                size_t len = strlen(s);
                memcpy(ids + at, s, len);
                at += len;
            }
            offsets[n] = at;
            if (n > 1 && below(5) == 0) offsets[1 + below(n - 1)] = at + 1;
            rc = lifelong_score_packed(h, random_string(), below(20) == 0 ? NULL : ids,
                                       below(20) == 0 ? NULL : offsets, n_arg, mode, out_arg);
            break;
        }
        case 20 ... 24: {
            size_t need = 0;
            char buf[1024];
            rc = lifelong_scorer_describe(h, below(3) == 0 ? NULL : buf, (size_t)below(sizeof buf + 1),
                                          below(2) ? &need : NULL);
            break;
        }
        case 25 ... 29: {
            size_t d = 0;
            rc = lifelong_scorer_dimension(h, below(10) == 0 ? NULL : &d);
            if (rc == LIFELONG_OK && n_arg <= 64 && n_arg * d <= sizeof out / sizeof out[0])
                rc = lifelong_long_term_interest(h, random_string(), item_arg, n_arg, mode, out_arg);
            break;
        }
        default:
            rc = lifelong_score(h, random_string(), item_arg, n_arg, mode, out_arg);
        }
        CHECK(known_status(rc), "call %ld returned %d", call, rc);
        if (rc == LIFELONG_OK) {
            ok++;
        } else {
            failed++;
            if (known_status(rc)) counts[rc]++;
            if (rc == LIFELONG_DAMAGED && counts[rc] <= 3) fprintf(stderr, "damaged: %s\n", lifelong_last_error());
            CHECK(strlen(lifelong_last_error()) > 0, "call %ld failed (%s) without a message", call,
                  lifelong_status_name(rc));
        }
    }
    for (int i = 0; i < HANDLES; i++) lifelong_scorer_close(handles[i]);
    long rss_end = rss_anon_kib();
    printf("fuzz: %ld calls (%ld ok, %ld failed: invalid %ld, not found %ld, mismatch %ld, damaged %ld, io %ld, "
           "internal %ld, input %ld), %ld opens; anonymous RSS %ld KiB at 20%%, %ld KiB at the end\n",
           calls, ok, failed, counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], counts[7], opens,
           rss_early, rss_end);
    CHECK(counts[LIFELONG_INTERNAL] == 0, "%ld calls failed with LIFELONG_INTERNAL", counts[LIFELONG_INTERNAL]);
    CHECK(ok > calls / 20, "only %ld calls succeeded", ok);
    CHECK(rss_end - rss_early < 16 * 1024, "anonymous RSS grew by %ld KiB", rss_end - rss_early);
    return failures == 0 ? 0 : 1;
}
