#ifndef LIFELONG_ALLOCATION_COUNTER_H
#define LIFELONG_ALLOCATION_COUNTER_H
// Counts heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by the
// calling thread between start and stop. Linked only into lifelong-bench and the test binary: its
// definitions interpose glibc's for the whole process and forward to glibc's __libc_* entry points.
#include <stdint.h>
void lifelong_allocations_start(void);
uint64_t lifelong_allocations_stop(void);
#endif
