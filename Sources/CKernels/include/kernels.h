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

/// One query's target attention over `count` listed behaviors (docs/MODEL.md), every head at once: rows of
/// `keys` and `values` are `heads · head_width` floats, behavior j is row `list[j]`, and head h uses floats
/// h·head_width ..< (h+1)·head_width of the query and of each row. `heads` ≤ 64.
typedef struct {
    const float *query;
    const float *keys;
    const float *values;
    const int32_t *list;
    intptr_t count;
    intptr_t heads;
    intptr_t head_width;
    float scale;  // 1/√head_width
} LifelongAttention;

/// alpha[h·count + j] = softmax_j(scale · q_h · K_j,h) and out[h·head_width + k] = Σ_j alpha · V_j,h,k.
/// AVX2 + FMA when the CPU has them and head_width is a multiple of 8 (chosen at load), baseline otherwise.
void lifelong_attend(const LifelongAttention *a, float *alpha, float *out);

/// Backward of lifelong_attend given its `alpha` and dL/d(out): adds dL/dq into d_query and dL/dK, dL/dV
/// into the listed rows of d_keys and d_values.
void lifelong_attend_backward(
    const LifelongAttention *a, const float *alpha, const float *d_out, float *d_query, float *d_keys, float *d_values);

/// In-place softmax of n floats (max subtracted); the AVX2 + FMA variant when the CPU has them.
void lifelong_softmax(float *v, intptr_t n);

/// The baseline variants, callable directly (tests compare them with the ones chosen at load).
void lifelong_attend_baseline(const LifelongAttention *a, float *alpha, float *out);
void lifelong_attend_backward_baseline(
    const LifelongAttention *a, const float *alpha, const float *d_out, float *d_query, float *d_keys, float *d_values);
void lifelong_softmax_baseline(float *v, intptr_t n);

/// 1 when the attention kernels and lifelong_softmax run their AVX2 + FMA variants on this CPU.
int lifelong_attention_uses_avx2(void);

/// One Adam step over n parameters: m ← β1 m + (1 − β1) g, v ← β2 v + (1 − β2) g², w ← w · shrink −
/// rate · m / (√v + ε), g ← 0. `rate` carries the bias correction, `shrink` the decoupled weight decay.
/// The four arrays must not overlap. AVX2 when the CPU has it (chosen at load); both variants agree bit for bit.
typedef struct {
    float beta1, beta2, epsilon, rate, shrink;
} LifelongAdam;

void lifelong_adam(float *w, float *g, float *m, float *v, intptr_t n, const LifelongAdam *p);
void lifelong_adam_baseline(float *w, float *g, float *m, float *v, intptr_t n, const LifelongAdam *p);

#endif
