#ifndef LIFELONG_KERNELS_H
#define LIFELONG_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// out[0..<d] += Σ_k vectors[rows[k]·d ..< rows[k]·d + d], each element summed in row order (so every
/// variant gives the same floats). AVX2 when the CPU has it (chosen once at load), SSE otherwise.
void lifelong_rows_add(const intptr_t *rows, intptr_t count, const float *vectors, intptr_t d, float *out);

/// The x86-64 baseline variant, callable directly (tests compare it with the one chosen at load).
void lifelong_rows_add_baseline(const intptr_t *rows, intptr_t count, const float *vectors, intptr_t d, float *out);

/// 1 when lifelong_rows_add runs its AVX2 variant on this CPU.
int lifelong_rows_add_uses_avx2(void);

/// CRC-32C (Castagnoli) of `count` bytes continued from `state` (start with 0xFFFFFFFF, finish with ~): the
/// SSE4.2 instruction when the CPU has it (chosen once at load), slicing-by-8 tables otherwise.
uint32_t lifelong_crc32c_update(uint32_t state, const void *bytes, size_t count);

/// The table variant, callable directly (tests compare it with the one chosen at load).
uint32_t lifelong_crc32c_update_portable(uint32_t state, const void *bytes, size_t count);

/// 1 when lifelong_crc32c_update runs the SSE4.2 instruction on this CPU.
int lifelong_crc32c_uses_sse42(void);

#endif
