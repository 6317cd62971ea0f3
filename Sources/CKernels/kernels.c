// Hot loops that Swift compiles to the x86-64 baseline (SSE2, 4 floats per instruction). Here the AVX2
// variant is compiled for AVX2 alone (`target` attribute) and chosen at load time with
// __builtin_cpu_supports, so the binary still runs on any x86-64 CPU.
#include "kernels.h"
#include <stddef.h>

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

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the SSE4.2 `crc32` instruction, 8 bytes per step,
// when the CPU has it; slicing-by-8 over eight 256-entry tables otherwise. Both give the same value.
static uint32_t crc_tables[8][256];

static uint32_t crc32c_tables(uint32_t c, const uint8_t *p, size_t n) {
    while (n >= 8) {
        uint32_t lo, hi;
        __builtin_memcpy(&lo, p, 4);
        __builtin_memcpy(&hi, p + 4, 4);
        lo ^= c;  // little-endian loads: x86-64 and aarch64 both are
        c = crc_tables[7][lo & 0xFF] ^ crc_tables[6][(lo >> 8) & 0xFF] ^ crc_tables[5][(lo >> 16) & 0xFF]
            ^ crc_tables[4][lo >> 24] ^ crc_tables[3][hi & 0xFF] ^ crc_tables[2][(hi >> 8) & 0xFF]
            ^ crc_tables[1][(hi >> 16) & 0xFF] ^ crc_tables[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = crc_tables[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t c, const uint8_t *p, size_t n) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--) c = _mm_crc32_u8(c, *p++);
    return c;
}
#endif

typedef uint32_t (*crc32c_fn)(uint32_t, const uint8_t *, size_t);
static crc32c_fn crc32c_impl = crc32c_tables;
static int crc_uses_sse42 = 0;

uint32_t lifelong_crc32c_update(uint32_t state, const void *bytes, size_t count) {
    return crc32c_impl(state, (const uint8_t *)bytes, count);
}

uint32_t lifelong_crc32c_update_portable(uint32_t state, const void *bytes, size_t count) {
    return crc32c_tables(state, (const uint8_t *)bytes, count);
}

int lifelong_crc32c_uses_sse42(void) { return crc_uses_sse42; }

typedef void (*rows_add_fn)(const intptr_t *, intptr_t, const float *, intptr_t, float *);
static rows_add_fn rows_add_impl = lifelong_rows_add_baseline;
static int uses_avx2 = 0;

__attribute__((constructor))
static void choose_kernels(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tables[0][i] = c;
    }
    for (int k = 1; k < 8; k++) {
        for (int i = 0; i < 256; i++) {
            crc_tables[k][i] = (crc_tables[k - 1][i] >> 8) ^ crc_tables[0][crc_tables[k - 1][i] & 0xFF];
        }
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) {
        rows_add_impl = rows_add_avx2;
        uses_avx2 = 1;
    }
    if (__builtin_cpu_supports("sse4.2")) {
        crc32c_impl = crc32c_sse42;
        crc_uses_sse42 = 1;
    }
#endif
}

void lifelong_rows_add(const intptr_t *rows, intptr_t count, const float *vectors, intptr_t d, float *out) {
    rows_add_impl(rows, count, vectors, d, out);
}

int lifelong_rows_add_uses_avx2(void) { return uses_avx2; }
