/*
 * lifelong.h: the C interface of the Lifelong scorer (liblifelong_c.so).
 *
 * Build:  swift build -c release --product lifelong_c   ->  .build/release/liblifelong_c.so
 * Use:    cc app.c -I Sources/CLifelong/include -L .build/release -llifelong_c -Wl,-rpath,.build/release
 *
 * Conventions
 * - Every function that can fail returns a lifelong_status (LIFELONG_OK = 0; compilers warn when it is
 *   ignored). On failure it sets a message for the calling thread, read with lifelong_last_error();
 *   successful calls leave it unchanged. The statuses are the kinds of failure of every Lifelong layer
 *   (the Python package's exception classes follow them).
 * - A lifelong_scorer is an opaque handle. Handles are checked on every call: a closed, never-opened or
 *   made-up handle returns LIFELONG_INVALID_ARGUMENT, never a crash. Closing twice is harmless.
 * - One handle may score from many threads at once; lifelong_append may run while others score (they see
 *   each append entirely or not at all). The library starts no threads; BLAS runs on the calling thread.
 * - Strings are NUL-terminated UTF-8. Invalid UTF-8 is refused with LIFELONG_INVALID_ARGUMENT.
 * - The model contract (what a probability is) is docs/MODEL.md; the semantics equal the Swift Scorer:
 *   a user not in the store is scored with no history, an item not in the model's vocabulary uses row 0,
 *   a store encoded with another model is refused (LIFELONG_MODEL_MISMATCH).
 */
#ifndef LIFELONG_H
#define LIFELONG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this header; lifelong_version() gives the library's. */
#define LIFELONG_VERSION_MAJOR 0
#define LIFELONG_VERSION_MINOR 3
#define LIFELONG_VERSION_PATCH 0

/**
 * The ABI this header describes: the functions, their signatures and the meaning of every status and mode.
 * It changes whenever any of them does; compare it with lifelong_abi_version() and refuse a library that
 * speaks another one.
 */
#define LIFELONG_ABI_VERSION 2

#if defined(__GNUC__) || defined(__clang__)
#define LIFELONG_NODISCARD __attribute__((warn_unused_result))
#else
#define LIFELONG_NODISCARD
#endif

/** An open model bundle + store. Opaque. */
typedef struct lifelong_scorer lifelong_scorer;

/** What a call returns: LIFELONG_OK, or the kind of failure (the message is in lifelong_last_error()). */
typedef enum lifelong_status {
    LIFELONG_OK = 0,
    LIFELONG_INVALID_ARGUMENT = 1, /* NULL, bad UTF-8, unknown mode, bad handle, read-only append, ... */
    LIFELONG_NOT_FOUND = 2,        /* the model or store folder, the manifest (or a file in them) does not exist */
    LIFELONG_MODEL_MISMATCH = 3,   /* the store or manifest was encoded with another model bundle */
    LIFELONG_DAMAGED = 4,          /* a bundle, store record or manifest is not what its format says */
    LIFELONG_IO_ERROR = 5,         /* reading or writing failed: permissions, a full disk, an LMDB call */
    LIFELONG_INTERNAL = 6,         /* anything else; the message says what */
    LIFELONG_INPUT_ERROR = 7       /* input data (a log or event line) breaks the log rules of docs/FORMATS.md */
} lifelong_status;

/** How the long-term interest is computed (docs/MODEL.md "Modes"). */
typedef enum lifelong_mode {
    LIFELONG_MODE_BSE = 0,    /* stored bucket sums (SDIM Eq. 12): the serving path */
    LIFELONG_MODE_ONLINE = 1, /* re-hash the stored sequence per request; equals BSE */
    LIFELONG_MODE_FULL = 2,   /* exact target attention over the whole sequence */
    LIFELONG_MODE_SHORT = 3   /* no long-term term */
} lifelong_mode;

/** Most candidates one call may score (a request is typically about 1,000). */
#define LIFELONG_MAX_CANDIDATES 100000

/** The library's version, "MAJOR.MINOR.PATCH". Static storage. */
const char *lifelong_version(void);

/** The library's LIFELONG_ABI_VERSION. */
int lifelong_abi_version(void);

/** The name of a status, e.g. "LIFELONG_NOT_FOUND" ("LIFELONG_UNKNOWN_STATUS" otherwise). Static storage. */
const char *lifelong_status_name(int status);

/**
 * Opens a model bundle folder and a store folder encoded with it. writable != 0 also opens the store for
 * lifelong_append. On success *out is the new handle; on failure *out is set to NULL.
 */
LIFELONG_NODISCARD lifelong_status lifelong_scorer_open(const char *model_dir, const char *store_dir, int writable,
                                                        lifelong_scorer **out);

/**
 * Opens a sharded store: the manifest.json of `lifelong manifest` (each shard a store of `encode --shard K/N`)
 * and the bundle they were encoded with. Every call on the handle goes to its user's shard (FNV-1a-64 of the
 * UTF-8 user id, mod the shard count); scores equal those of one store holding every user. A missing shard or
 * a shard of another model is refused, naming the shard.
 */
LIFELONG_NODISCARD lifelong_status lifelong_scorer_open_manifest(const char *model_dir, const char *manifest,
                                                                 int writable, lifelong_scorer **out);

/** Closes a handle (NULL, or a handle already closed, is a no-op). Calls already running on it finish. */
void lifelong_scorer_close(lifelong_scorer *scorer);

/**
 * Probabilities of `user` clicking each of `items[0 .. n_items)`, written to out[0 .. n_items) in input order.
 * n_items = 0 is a valid empty request. mode is one of LIFELONG_MODE_*.
 */
LIFELONG_NODISCARD lifelong_status lifelong_score(lifelong_scorer *scorer, const char *user, const char *const *items,
                                                  size_t n_items, lifelong_mode mode, float *out);

/**
 * lifelong_score with the candidate ids packed into one buffer: id i is the bytes
 * ids[offsets[i] .. offsets[i + 1]) (no NUL needed), so `offsets` has n_items + 1 entries, non-decreasing.
 * Saves one C string per candidate for callers that hold ids in bulk (Python, Java).
 */
LIFELONG_NODISCARD lifelong_status lifelong_score_packed(lifelong_scorer *scorer, const char *user, const char *ids,
                                                         const size_t *offsets, size_t n_items, lifelong_mode mode,
                                                         float *out);

/** The width d of u_long and of the item vectors (what lifelong_long_term_interest writes per candidate). */
LIFELONG_NODISCARD lifelong_status lifelong_scorer_dimension(lifelong_scorer *scorer, size_t *out);

/**
 * The long-term interest u_long alone: n_items * d floats into out (row i for items[i]), for analysis.
 * mode: LIFELONG_MODE_BSE, _ONLINE, _FULL or _SHORT (zeros).
 */
LIFELONG_NODISCARD lifelong_status lifelong_long_term_interest(lifelong_scorer *scorer, const char *user,
                                                               const char *const *items, size_t n_items,
                                                               lifelong_mode mode, float *out);

/**
 * A JSON object describing the handle: {"version", "model", "store" (or "manifest"), "shards", "fingerprint",
 * "model_format", "d", "writable", "users", "items", "blas"}; "blas" says what runs the matrix products:
 * {"library", "core", "best_core", "chosen_by", "source"}, source being where OpenBLAS was found (the host
 * process, Debian's libopenblas0, the scipy-openblas32 wheel) or "none". Writes at most `capacity` bytes
 * including the NUL into buf (truncating never: if it does not fit, nothing is written and the status is
 * LIFELONG_INVALID_ARGUMENT); *needed (if not NULL) is set to the size including the NUL either way. buf may
 * be NULL with capacity 0 to ask for the size.
 */
LIFELONG_NODISCARD lifelong_status lifelong_scorer_describe(lifelong_scorer *scorer, char *buf, size_t capacity,
                                                            size_t *needed);

/**
 * Appends one behavior: `user` acted on `item` at `timestamp` (seconds, any epoch, finite). label: -1 unknown,
 * 0 shown and not clicked, 1 clicked. The handle must be writable. A behavior older than the user's last one
 * is refused (LIFELONG_INVALID_ARGUMENT) and nothing is written. Runs in one write transaction.
 */
LIFELONG_NODISCARD lifelong_status lifelong_append(lifelong_scorer *scorer, const char *user, const char *item,
                                                   double timestamp, int label);

/**
 * Appends n behaviors in order, exactly as n calls of lifelong_append would, with each user's record read and
 * written once and every user in one write transaction (one per shard of a manifest's handle). Behavior i is
 * users[i], items[i], timestamps[i] and labels[i] (labels NULL: all unknown). out_status (NULL: not wanted)
 * receives each behavior's status: LIFELONG_OK when appended, or when it is already the user's last behavior
 * (the same item, time and label, as after a batch that is sent again); LIFELONG_INVALID_ARGUMENT when refused
 * alone (a NULL or invalid id, a non-finite timestamp, a label other than -1/0/1, older than the user's last).
 * Returns LIFELONG_OK when every behavior got its status, and another status when the batch could not be
 * written (a bad or read-only handle, NULL arrays with n > 0, a store failure): then nothing of it was (on a
 * manifest's handle, the shards before the failing one keep theirs).
 */
LIFELONG_NODISCARD lifelong_status lifelong_append_batch(lifelong_scorer *scorer, size_t n, const char *const *users,
                                                         const char *const *items, const double *timestamps,
                                                         const int *labels, lifelong_status *out_status);

/** This thread's message for its last failed call ("" if none). Valid until this thread's next failed call. */
const char *lifelong_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* LIFELONG_H */
