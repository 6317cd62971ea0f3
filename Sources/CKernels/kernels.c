// Hot loops that Swift compiles to the x86-64 baseline (SSE2, 4 floats per instruction). Here the AVX2
// variant is compiled for AVX2 alone (`target` attribute) and chosen at load time with
// __builtin_cpu_supports, so the binary still runs on any x86-64 CPU.
#include "kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2")))
static void rows_add_avx2(const intptr_t *rows, intptr_t count, const float *vectors, intptr_t d, float *out) {
    intptr_t k = 0;
    for (; k + 32 <= d; k += 32) {
        __m256 a0 = _mm256_loadu_ps(out + k), a1 = _mm256_loadu_ps(out + k + 8);
        __m256 a2 = _mm256_loadu_ps(out + k + 16), a3 = _mm256_loadu_ps(out + k + 24);
        for (intptr_t r = 0; r < count; r++) {
            const float *v = vectors + rows[r] * d + k;
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(v));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(v + 8));
            a2 = _mm256_add_ps(a2, _mm256_loadu_ps(v + 16));
            a3 = _mm256_add_ps(a3, _mm256_loadu_ps(v + 24));
        }
        _mm256_storeu_ps(out + k, a0);
        _mm256_storeu_ps(out + k + 8, a1);
        _mm256_storeu_ps(out + k + 16, a2);
        _mm256_storeu_ps(out + k + 24, a3);
    }
    for (; k + 8 <= d; k += 8) {
        __m256 a = _mm256_loadu_ps(out + k);
        for (intptr_t r = 0; r < count; r++) a = _mm256_add_ps(a, _mm256_loadu_ps(vectors + rows[r] * d + k));
        _mm256_storeu_ps(out + k, a);
    }
    for (; k < d; k++) {
        float a = out[k];
        for (intptr_t r = 0; r < count; r++) a += vectors[rows[r] * d + k];
        out[k] = a;
    }
}
#endif

void lifelong_rows_add_baseline(const intptr_t *rows, intptr_t count, const float *vectors, intptr_t d, float *out) {
    intptr_t k = 0;
    for (; k + 16 <= d; k += 16) {
        float a[16];
        for (int j = 0; j < 16; j++) a[j] = out[k + j];
        for (intptr_t r = 0; r < count; r++) {
            const float *v = vectors + rows[r] * d + k;
            for (int j = 0; j < 16; j++) a[j] += v[j];
        }
        for (int j = 0; j < 16; j++) out[k + j] = a[j];
    }
    for (; k < d; k++) {
        float a = out[k];
        for (intptr_t r = 0; r < count; r++) a += vectors[rows[r] * d + k];
        out[k] = a;
    }
}

typedef void (*rows_add_fn)(const intptr_t *, intptr_t, const float *, intptr_t, float *);
static rows_add_fn rows_add_impl = lifelong_rows_add_baseline;
static int uses_avx2 = 0;

__attribute__((constructor))
static void choose_kernels(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) {
        rows_add_impl = rows_add_avx2;
        uses_avx2 = 1;
    }
#endif
}

void lifelong_rows_add(const intptr_t *rows, intptr_t count, const float *vectors, intptr_t d, float *out) {
    rows_add_impl(rows, count, vectors, d, out);
}

int lifelong_rows_add_uses_avx2(void) { return uses_avx2; }
