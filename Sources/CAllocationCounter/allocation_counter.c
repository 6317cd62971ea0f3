#include "allocation_counter.h"
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

// Per thread: a test process runs other work on other threads while one thread counts its own requests.
// initial-exec TLS needs no allocation to reach (a lazily allocated TLS block would recurse into malloc).
static _Thread_local int counting __attribute__((tls_model("initial-exec")));
static _Thread_local uint64_t allocations __attribute__((tls_model("initial-exec")));

static inline void count(void) {
    if (counting) allocations += 1;
}

void lifelong_allocations_start(void) { allocations = 0; counting = 1; }
uint64_t lifelong_allocations_stop(void) { counting = 0; return allocations; }

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t n) { count(); return __libc_memalign(alignment, n); }
void *aligned_alloc(size_t alignment, size_t n) { count(); return __libc_memalign(alignment, n); }
int posix_memalign(void **out, size_t alignment, size_t n) {
    count();
    void *p = __libc_memalign(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
