// The C ABI from a C program: scores equal the Swift scorer's, concurrent scoring while appending sees whole
// appends, and every bad argument returns a status and a message instead of crashing.
//
// usage: abi_test MODEL STORE OTHER_MODEL CORRUPT_MODEL EXPECTATIONS STORE_W STORE_C
//   EXPECTATIONS: lines "user<TAB>mode<TAB>item item ...<TAB>p p ..." from the Swift scorer on STORE.
//   STORE_W, STORE_C: two identical copies of STORE; appends go to them.
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

enum { MAX_ITEMS = 1200 };

// ---- 1. Scores equal the Swift scorer ---------------------------------------------------------------------

static int split(char *s, const char *sep, char **out, int cap) {
    int n = 0;
    for (char *save = NULL, *t = strtok_r(s, sep, &save); t && n < cap; t = strtok_r(NULL, sep, &save)) out[n++] = t;
    return n;
}

static void scores_equal_swift(lifelong_scorer *scorer, const char *path) {
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    static char line[1 << 20];
    static char *items[MAX_ITEMS], *probs[MAX_ITEMS];
    static float out[MAX_ITEMS], packed_out[MAX_ITEMS];
    static char ids[1 << 16];
    static size_t offsets[MAX_ITEMS + 1];
    int requests = 0, modes_seen = 0;
    double worst = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *fields[4];
        if (split(line, "\t", fields, 4) != 4) continue;
        int mode = atoi(fields[1]);
        int n = split(fields[2], " ", items, MAX_ITEMS);
        int np = split(fields[3], " ", probs, MAX_ITEMS);
        CHECK(n == np, "expectation line with %d items and %d probabilities", n, np);
        EXPECT_OK(lifelong_score(scorer, fields[0], (const char *const *)items, (size_t)n, mode, out));
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            offsets[i] = at;
            size_t len = strlen(items[i]);
            memcpy(ids + at, items[i], len);
            at += len;
        }
        offsets[n] = at;
        EXPECT_OK(lifelong_score_packed(scorer, fields[0], ids, offsets, (size_t)n, mode, packed_out));
        for (int i = 0; i < n; i++) {
            double want = strtod(probs[i], NULL);
            double err = fabs(out[i] - want);
            if (err > worst) worst = err;
            CHECK(err <= 1e-6, "user %s mode %d item %s: C %.9g, Swift %.9g", fields[0], mode, items[i], out[i], want);
            CHECK(packed_out[i] == out[i], "packed ids give %.9g, C strings %.9g", packed_out[i], out[i]);
        }
        requests++;
        modes_seen |= 1 << mode;
    }
    fclose(f);
    CHECK(requests >= 8, "only %d expectation lines", requests);
    CHECK(modes_seen == 0xF, "modes seen: %x (all four expected)", modes_seen);
    printf("scores: %d requests in all four modes, largest |C - Swift| = %.3g\n", requests, worst);
}

// ---- 2. Bad input: a status and a message, never a crash ---------------------------------------------------

static void *other_thread_error(void *arg) {
    (void)arg;
    EXPECT_ERROR(lifelong_score(NULL, "u", NULL, 0, 0, NULL), LIFELONG_INVALID_ARGUMENT, "scorer is NULL");
    return NULL;
}

static void error_paths(const char *model, const char *store, const char *other_model, const char *corrupt,
                        const char *store_w) {
    lifelong_scorer *s = (lifelong_scorer *)0x1;
    // Opening.
    EXPECT_ERROR(lifelong_scorer_open(NULL, store, 0, &s), LIFELONG_INVALID_ARGUMENT, "model_dir is NULL");
    CHECK(s == NULL, "*out is reset to NULL on failure");
    EXPECT_ERROR(lifelong_scorer_open(model, NULL, 0, &s), LIFELONG_INVALID_ARGUMENT, "store_dir is NULL");
    EXPECT_ERROR(lifelong_scorer_open(model, store, 0, NULL), LIFELONG_INVALID_ARGUMENT, "out is NULL");
    EXPECT_ERROR(lifelong_scorer_open("\xff\xfe", store, 0, &s), LIFELONG_INVALID_ARGUMENT, "not valid UTF-8");
    EXPECT_ERROR(lifelong_scorer_open("/nonexistent/model", store, 0, &s), LIFELONG_NOT_FOUND, "/nonexistent/model");
    EXPECT_ERROR(lifelong_scorer_open(model, "/nonexistent/store", 0, &s), LIFELONG_NOT_FOUND, "/nonexistent/store");
    EXPECT_ERROR(lifelong_scorer_open(other_model, store, 0, &s), LIFELONG_MODEL_MISMATCH, "encoded with model");
    EXPECT_ERROR(lifelong_scorer_open(corrupt, store, 0, &s), LIFELONG_DAMAGED, "model.safetensors");

    lifelong_scorer *r = NULL;
    EXPECT_OK(lifelong_scorer_open(model, store, 0, &r));
    CHECK(r != NULL, "open gave a handle");
    const char *items[] = {"1", "2", "3"}, *with_null[] = {"1", NULL}, *bad_utf8[] = {"1", "\xc3\x28"};
    float out[4];
    // Scoring.
    EXPECT_ERROR(lifelong_score(NULL, "1", items, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "scorer is NULL");
    EXPECT_ERROR(lifelong_score((lifelong_scorer *)0x12345, "1", items, 3, 0, out), LIFELONG_INVALID_ARGUMENT,
                 "not an open handle");
    EXPECT_ERROR(lifelong_score(r, NULL, items, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "user is NULL");
    EXPECT_ERROR(lifelong_score(r, "\xff", items, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "user is not valid UTF-8");
    EXPECT_ERROR(lifelong_score(r, "", items, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "is empty");
    char long_user[1000];
    memset(long_user, 'u', sizeof long_user - 1);
    long_user[sizeof long_user - 1] = 0;
    EXPECT_ERROR(lifelong_score(r, long_user, items, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "400 bytes");
    EXPECT_ERROR(lifelong_score(r, "1", NULL, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "items is NULL");
    EXPECT_ERROR(lifelong_score(r, "1", with_null, 2, 0, out), LIFELONG_INVALID_ARGUMENT, "items[1] is NULL");
    EXPECT_ERROR(lifelong_score(r, "1", bad_utf8, 2, 0, out), LIFELONG_INVALID_ARGUMENT, "items[1] is not valid UTF-8");
    EXPECT_ERROR(lifelong_score(r, "1", items, 3, 7, out), LIFELONG_INVALID_ARGUMENT, "mode is 7");
    EXPECT_ERROR(lifelong_score(r, "1", items, 3, -1, out), LIFELONG_INVALID_ARGUMENT, "mode is -1");
    EXPECT_ERROR(lifelong_score(r, "1", items, 3, 0, NULL), LIFELONG_INVALID_ARGUMENT, "out is NULL");
    EXPECT_ERROR(lifelong_score(r, "1", items, (size_t)LIFELONG_MAX_CANDIDATES + 1, 0, out), LIFELONG_INVALID_ARGUMENT,
                 "n_items");
    EXPECT_ERROR(lifelong_score(r, "1", items, SIZE_MAX, 0, out), LIFELONG_INVALID_ARGUMENT, "n_items");
    EXPECT_OK(lifelong_score(r, "1", NULL, 0, 0, NULL));  // an empty request is valid
    size_t offsets[] = {0, 2, 1};
    EXPECT_ERROR(lifelong_score_packed(r, "1", "123", offsets, 2, 0, out), LIFELONG_INVALID_ARGUMENT,
                 "less than offsets[1]");
    EXPECT_ERROR(lifelong_score_packed(r, "1", "123", NULL, 2, 0, out), LIFELONG_INVALID_ARGUMENT, "offsets is NULL");
    size_t good[] = {0, 1, 2};
    EXPECT_ERROR(lifelong_score_packed(r, "1", "\xff\xff", good, 2, 0, out), LIFELONG_INVALID_ARGUMENT, "id 0");
    // Appending to a read-only handle.
    EXPECT_ERROR(lifelong_append(r, "1", "1", 2e9, 1), LIFELONG_INVALID_ARGUMENT, "read-only");
    // Describe.
    size_t needed = 0;
    EXPECT_OK(lifelong_scorer_describe(r, NULL, 0, &needed));
    CHECK(needed > 20, "describe needs %zu bytes", needed);
    char small[8];
    EXPECT_ERROR(lifelong_scorer_describe(r, small, sizeof small, NULL), LIFELONG_INVALID_ARGUMENT, "needs");
    char *desc = malloc(needed);
    EXPECT_OK(lifelong_scorer_describe(r, desc, needed, NULL));
    CHECK(strstr(desc, "\"writable\":false") && strstr(desc, "\"users\":943"), "describe: %s", desc);
    printf("describe: %s\n", desc);
    free(desc);
    size_t d = 0;
    EXPECT_OK(lifelong_scorer_dimension(r, &d));
    CHECK(d == 48, "dimension %zu", d);
    EXPECT_ERROR(lifelong_scorer_dimension(r, NULL), LIFELONG_INVALID_ARGUMENT, "out is NULL");

    // The message is per thread: another thread's failure does not replace this thread's.
    EXPECT_ERROR(lifelong_score(r, "1", items, 3, 9, out), LIFELONG_INVALID_ARGUMENT, "mode is 9");
    pthread_t t;
    pthread_create(&t, NULL, other_thread_error, NULL);
    pthread_join(t, NULL);
    CHECK(strstr(lifelong_last_error(), "mode is 9") != NULL, "this thread's message changed: %s",
          lifelong_last_error());
    EXPECT_OK(lifelong_score(r, "1", items, 3, 0, out));
    CHECK(strstr(lifelong_last_error(), "mode is 9") != NULL, "a successful call left the message alone");

    // Closed handles are refused; closing twice, or NULL, is a no-op.
    lifelong_scorer_close(r);
    EXPECT_ERROR(lifelong_score(r, "1", items, 3, 0, out), LIFELONG_INVALID_ARGUMENT, "not an open handle");
    lifelong_scorer_close(r);
    lifelong_scorer_close(NULL);

    // Appending: bad arguments and out-of-order behaviors are refused, and nothing is written.
    lifelong_scorer *w = NULL;
    EXPECT_OK(lifelong_scorer_open(model, store_w, 1, &w));
    float before[3], after[3];
    EXPECT_OK(lifelong_score(w, "1", items, 3, LIFELONG_MODE_BSE, before));
    EXPECT_ERROR(lifelong_append(w, "1", "1", NAN, 1), LIFELONG_INVALID_ARGUMENT, "not finite");
    EXPECT_ERROR(lifelong_append(w, "1", "1", 2e9, 5), LIFELONG_INVALID_ARGUMENT, "label is 5");
    EXPECT_ERROR(lifelong_append(w, NULL, "1", 2e9, 1), LIFELONG_INVALID_ARGUMENT, "user is NULL");
    EXPECT_ERROR(lifelong_append(w, "1", "\xff", 2e9, 1), LIFELONG_INVALID_ARGUMENT, "item is not valid UTF-8");
    EXPECT_ERROR(lifelong_append(w, "1", "", 2e9, 1), LIFELONG_INVALID_ARGUMENT, "item id");
    EXPECT_ERROR(lifelong_append(w, "1", "1", 1.0, 1), LIFELONG_INVALID_ARGUMENT, "older than");
    {  // A batch: each bad behavior refused in its slot, the good ones appended.
        const char *users[] = {"batch-a", "batch-a", NULL, "batch-b", "batch-b"};
        const char *ids[] = {"1", "2", "3", "4", "\xff"};
        double times[] = {3e9, 1.0, 3e9, 3e9, 3e9};
        int labels[] = {1, 0, -1, 7, 1};
        lifelong_status st[5];
        EXPECT_OK(lifelong_append_batch(w, 5, users, ids, times, labels, st));
        CHECK(st[0] == LIFELONG_OK && st[1] == LIFELONG_INVALID_ARGUMENT && st[2] == LIFELONG_INVALID_ARGUMENT &&
                  st[3] == LIFELONG_INVALID_ARGUMENT && st[4] == LIFELONG_INVALID_ARGUMENT,
              "batch statuses %d %d %d %d %d", st[0], st[1], st[2], st[3], st[4]);
        EXPECT_OK(lifelong_append_batch(w, 0, NULL, NULL, NULL, NULL, NULL));
        EXPECT_ERROR(lifelong_append_batch(w, 2, NULL, ids, times, labels, st), LIFELONG_INVALID_ARGUMENT, "NULL");
        EXPECT_ERROR(lifelong_append_batch(NULL, 1, users, ids, times, labels, st), LIFELONG_INVALID_ARGUMENT,
                     "scorer is NULL");
    }
    EXPECT_OK(lifelong_score(w, "1", items, 3, LIFELONG_MODE_BSE, after));
    CHECK(memcmp(before, after, sizeof before) == 0, "a refused append changed the scores");
    lifelong_scorer_close(w);
}

// ---- 3. Scoring from two threads while a third appends ------------------------------------------------------

enum { APPENDS = 24, CANDIDATES = 200 };
static const char *user = "1";
static const char *candidates[CANDIDATES];
static char candidate_ids[CANDIDATES][8];
static float states[APPENDS + 1][CANDIDATES];  // the scores after 0, 1, ..., APPENDS appends
static atomic_int appending_done;

static void append_k(lifelong_scorer *s, int k) {
    char item[8];
    snprintf(item, sizeof item, "%d", 1 + (k * 37) % 1682);
    EXPECT_OK(lifelong_append(s, user, item, 2e9 + k, k % 2));
}

static int same(const float *a, const float *b) {
    for (int i = 0; i < CANDIDATES; i++)
        if (fabsf(a[i] - b[i]) > 1e-6f) return 0;
    return 1;
}

struct reader {
    lifelong_scorer *scorer;
    int requests, states_seen, bad;
};

static void *read_loop(void *arg) {
    struct reader *r = arg;
    float out[CANDIDATES];
    int state = 0;
    for (int last = 0; !last;) {
        last = atomic_load(&appending_done);
        if (lifelong_score(r->scorer, user, candidates, CANDIDATES, LIFELONG_MODE_BSE, out) != LIFELONG_OK) {
            r->bad++;
            continue;
        }
        int k = state;
        while (k <= APPENDS && !same(out, states[k])) k++;
        if (k > APPENDS) {
            r->bad++;  // neither before nor after any append, or an earlier state than one already seen
        } else {
            if (k > state || r->requests == 0) r->states_seen++;
            state = k;
        }
        r->requests++;
    }
    return NULL;
}

static void concurrent(const char *model, const char *store_w, const char *store_c) {
    for (int i = 0; i < CANDIDATES; i++) {
        snprintf(candidate_ids[i], sizeof candidate_ids[i], "%d", 1 + (i * 7) % 1682);
        candidates[i] = candidate_ids[i];
    }
    // The states, one append at a time.
    lifelong_scorer *w = NULL;
    EXPECT_OK(lifelong_scorer_open(model, store_w, 1, &w));
    EXPECT_OK(lifelong_score(w, user, candidates, CANDIDATES, LIFELONG_MODE_BSE, states[0]));
    for (int k = 1; k <= APPENDS; k++) {
        append_k(w, k);
        EXPECT_OK(lifelong_score(w, user, candidates, CANDIDATES, LIFELONG_MODE_BSE, states[k]));
        CHECK(!same(states[k], states[k - 1]), "append %d did not change the scores", k);
    }
    lifelong_scorer_close(w);

    // The same appends on the copy, while two threads score the same request on the same handle.
    lifelong_scorer *c = NULL;
    EXPECT_OK(lifelong_scorer_open(model, store_c, 1, &c));
    float warm[CANDIDATES];
    EXPECT_OK(lifelong_score(c, user, candidates, CANDIDATES, LIFELONG_MODE_BSE, warm));
    int threads = thread_count();
    CHECK(threads == 1, "the library started threads of its own: %d threads after open and score", threads);
    struct reader readers[2] = {{c, 0, 0, 0}, {c, 0, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, read_loop, &readers[i]);
    for (int k = 1; k <= APPENDS; k++) append_k(c, k);
    atomic_store(&appending_done, 1);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK(readers[i].bad == 0, "reader %d: %d of %d results were not a state before or after an append", i,
              readers[i].bad, readers[i].requests);
        CHECK(readers[i].requests > 1, "reader %d scored %d times", i, readers[i].requests);
    }
    printf("concurrent: readers scored %d and %d times during %d appends, seeing %d and %d states\n",
           readers[0].requests, readers[1].requests, APPENDS, readers[0].states_seen, readers[1].states_seen);
    float final[CANDIDATES];
    EXPECT_OK(lifelong_score(c, user, candidates, CANDIDATES, LIFELONG_MODE_BSE, final));
    CHECK(same(final, states[APPENDS]), "after all appends the scores equal the last state");
    lifelong_scorer_close(c);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s MODEL STORE OTHER_MODEL CORRUPT_MODEL EXPECTATIONS STORE_W STORE_C\n", argv[0]);
        return 2;
    }
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", LIFELONG_VERSION_MAJOR, LIFELONG_VERSION_MINOR,
             LIFELONG_VERSION_PATCH);
    CHECK(strcmp(lifelong_version(), version) == 0, "library %s, header %s", lifelong_version(), version);
    CHECK(lifelong_abi_version() == LIFELONG_ABI_VERSION, "ABI %d, header %d", lifelong_abi_version(),
          LIFELONG_ABI_VERSION);
    CHECK(strcmp(lifelong_status_name(LIFELONG_DAMAGED), "LIFELONG_DAMAGED") == 0, "status names");
    CHECK(strcmp(lifelong_status_name(LIFELONG_INPUT_ERROR), "LIFELONG_INPUT_ERROR") == 0, "status names");
    CHECK(strcmp(lifelong_status_name(LIFELONG_MODEL_MISMATCH), "LIFELONG_MODEL_MISMATCH") == 0, "status names");
    CHECK(strcmp(lifelong_last_error(), "") == 0, "no message before any failure");
    lifelong_scorer *s = NULL;
    EXPECT_OK(lifelong_scorer_open(argv[1], argv[2], 0, &s));
    scores_equal_swift(s, argv[5]);
    lifelong_scorer_close(s);
    error_paths(argv[1], argv[2], argv[3], argv[4], argv[6]);
    concurrent(argv[1], argv[6], argv[7]);
    printf("%s: %d failures\n", argv[0], failures);
    return failures == 0 ? 0 : 1;
}
