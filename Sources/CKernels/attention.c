// Target attention (docs/MODEL.md) for one query over a list of behaviors, forward and backward, and the
// softmax it is built on. The AVX2 + FMA variants are compiled for those extensions alone (`target`
// attribute) and chosen at load time with __builtin_cpu_supports; the baseline variants are the same loops
// in plain C. Both variants compute the same sums in the same order except that the AVX2 one adds 8 lanes
// at a time and uses a polynomial exp (relative error below 2e-7), so they agree to float rounding.
// The AVX2 loops are written out rather than left to the compiler: one body compiled for both targets ran
// the trainer's `full` variant at 0.55–0.81× the samples/s of these intrinsics (lifelong-bench train).
#include "kernels.h"
#include <math.h>

// MARK: Baseline

static float dot_baseline(const float *a, const float *b, intptr_t n) {
    float s = 0;
    for (intptr_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

void lifelong_softmax_baseline(float *v, intptr_t n) {
    if (n <= 0) return;
    float top = v[0];
    for (intptr_t j = 1; j < n; j++) top = v[j] > top ? v[j] : top;
    float total = 0;
    for (intptr_t j = 0; j < n; j++) {
        v[j] = expf(v[j] - top);
        total += v[j];
    }
    float inverse = 1 / total;
    for (intptr_t j = 0; j < n; j++) v[j] *= inverse;
}

void lifelong_attend_baseline(const LifelongAttention *a, float *alpha, float *out) {
    intptr_t n = a->count, dh = a->head_width, da = a->heads * dh;
    for (intptr_t j = 0; j < n; j++) {
        const float *k = a->keys + (intptr_t)a->list[j] * da;
        for (intptr_t h = 0; h < a->heads; h++) {
            alpha[h * n + j] = a->scale * dot_baseline(a->query + h * dh, k + h * dh, dh);
        }
    }
    for (intptr_t h = 0; h < a->heads; h++) lifelong_softmax_baseline(alpha + h * n, n);
    for (intptr_t k = 0; k < da; k++) out[k] = 0;
    for (intptr_t j = 0; j < n; j++) {
        const float *v = a->values + (intptr_t)a->list[j] * da;
        for (intptr_t h = 0; h < a->heads; h++) {
            float w = alpha[h * n + j];
            for (intptr_t k = h * dh; k < (h + 1) * dh; k++) out[k] += w * v[k];
        }
    }
}

void lifelong_attend_backward_baseline(
    const LifelongAttention *a, const float *alpha, const float *d_out, float *d_query, float *d_keys, float *d_values
) {
    intptr_t n = a->count, dh = a->head_width, H = a->heads, da = H * dh;
    float mean[64];  // Σ_j α_j (dO · V_j) per head; heads ≤ 64 (checked by the caller)
    for (intptr_t h = 0; h < H; h++) mean[h] = 0;
    for (intptr_t j = 0; j < n; j++) {
        const float *v = a->values + (intptr_t)a->list[j] * da;
        for (intptr_t h = 0; h < H; h++) mean[h] += alpha[h * n + j] * dot_baseline(d_out + h * dh, v + h * dh, dh);
    }
    for (intptr_t j = 0; j < n; j++) {
        intptr_t row = (intptr_t)a->list[j] * da;
        const float *v = a->values + row, *k = a->keys + row;
        float *dv = d_values + row, *dk = d_keys + row;
        for (intptr_t h = 0; h < H; h++) {
            intptr_t o = h * dh;
            float w = alpha[h * n + j];
            float ds = w * (dot_baseline(d_out + o, v + o, dh) - mean[h]) * a->scale;
            for (intptr_t x = o; x < o + dh; x++) {
                dv[x] += w * d_out[x];
                d_query[x] += ds * k[x];
                dk[x] += ds * a->query[x];
            }
        }
    }
}

// MARK: AVX2 + FMA

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

// e^x for 8 floats: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness), e^r by a degree-6
// polynomial (Cephes' expf coefficients), 2^n from the exponent bits. Inputs below −87.3 give 0.
AVX2 static inline __m256 exp256(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.37626f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

AVX2 static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// A dot product of a multiple of 8 floats.
AVX2 static inline float dot8(const float *a, const float *b, intptr_t n) {
    __m256 s = _mm256_mul_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b));
    for (intptr_t k = 8; k < n; k += 8) s = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s);
    return hsum256(s);
}

AVX2 static void softmax_avx2(float *v, intptr_t n) {
    if (n <= 0) return;
    intptr_t j = 0;
    __m256 top8 = _mm256_set1_ps(v[0]);
    for (; j + 8 <= n; j += 8) top8 = _mm256_max_ps(top8, _mm256_loadu_ps(v + j));
    __m128 t = _mm_max_ps(_mm256_castps256_ps128(top8), _mm256_extractf128_ps(top8, 1));
    t = _mm_max_ps(t, _mm_movehl_ps(t, t));
    t = _mm_max_ss(t, _mm_movehdup_ps(t));
    float top = _mm_cvtss_f32(t);
    for (; j < n; j++) top = v[j] > top ? v[j] : top;
    __m256 top_v = _mm256_set1_ps(top), total8 = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(v + j), top_v));
        _mm256_storeu_ps(v + j, e);
        total8 = _mm256_add_ps(total8, e);
    }
    float total = hsum256(total8);
    if (j < n) {  // the tail through the same polynomial, so every weight has the same accuracy
        float tail[8] = {0};
        for (intptr_t k = j; k < n; k++) tail[k - j] = v[k] - top;
        __m256 mask = _mm256_cmp_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_ps((float)(n - j)), _CMP_LT_OQ);
        __m256 e = _mm256_and_ps(mask, exp256(_mm256_loadu_ps(tail)));
        _mm256_storeu_ps(tail, e);
        for (intptr_t k = j; k < n; k++) v[k] = tail[k - j];
        total += hsum256(e);
    }
    __m256 inverse = _mm256_set1_ps(1 / total);
    for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(v + j, _mm256_mul_ps(_mm256_loadu_ps(v + j), inverse));
    for (; j < n; j++) v[j] *= 1 / total;
}

AVX2 static void attend_avx2(const LifelongAttention *a, float *alpha, float *out) {
    intptr_t n = a->count, dh = a->head_width, H = a->heads, da = H * dh;
    for (intptr_t j = 0; j < n; j++) {
        const float *k = a->keys + (intptr_t)a->list[j] * da;
        for (intptr_t h = 0; h < H; h++) alpha[h * n + j] = a->scale * dot8(a->query + h * dh, k + h * dh, dh);
    }
    for (intptr_t h = 0; h < H; h++) softmax_avx2(alpha + h * n, n);
    for (intptr_t x = 0; x < da; x += 8) _mm256_storeu_ps(out + x, _mm256_setzero_ps());
    for (intptr_t j = 0; j < n; j++) {
        const float *v = a->values + (intptr_t)a->list[j] * da;
        for (intptr_t h = 0; h < H; h++) {
            __m256 w = _mm256_set1_ps(alpha[h * n + j]);
            for (intptr_t x = h * dh; x < (h + 1) * dh; x += 8) {
                _mm256_storeu_ps(out + x, _mm256_fmadd_ps(w, _mm256_loadu_ps(v + x), _mm256_loadu_ps(out + x)));
            }
        }
    }
}

AVX2 static void attend_backward_avx2(
    const LifelongAttention *a, const float *alpha, const float *d_out, float *d_query, float *d_keys, float *d_values
) {
    intptr_t n = a->count, dh = a->head_width, H = a->heads, da = H * dh;
    float mean[64];
    for (intptr_t h = 0; h < H; h++) mean[h] = 0;
    for (intptr_t j = 0; j < n; j++) {
        const float *v = a->values + (intptr_t)a->list[j] * da;
        for (intptr_t h = 0; h < H; h++) mean[h] += alpha[h * n + j] * dot8(d_out + h * dh, v + h * dh, dh);
    }
    for (intptr_t j = 0; j < n; j++) {
        intptr_t row = (intptr_t)a->list[j] * da;
        const float *v = a->values + row, *k = a->keys + row;
        float *dv = d_values + row, *dk = d_keys + row;
        for (intptr_t h = 0; h < H; h++) {
            intptr_t o = h * dh;
            float w = alpha[h * n + j];
            __m256 w8 = _mm256_set1_ps(w);
            __m256 ds = _mm256_set1_ps(w * (dot8(d_out + o, v + o, dh) - mean[h]) * a->scale);
            for (intptr_t x = o; x < o + dh; x += 8) {
                _mm256_storeu_ps(dv + x, _mm256_fmadd_ps(w8, _mm256_loadu_ps(d_out + x), _mm256_loadu_ps(dv + x)));
                __m256 q = _mm256_loadu_ps(a->query + x);
                __m256 dq = _mm256_loadu_ps(d_query + x);
                _mm256_storeu_ps(d_query + x, _mm256_fmadd_ps(ds, _mm256_loadu_ps(k + x), dq));
                _mm256_storeu_ps(dk + x, _mm256_fmadd_ps(ds, q, _mm256_loadu_ps(dk + x)));
            }
        }
    }
}
#endif

// MARK: Dispatch

static int attention_avx2 = 0;

__attribute__((constructor))
static void choose_attention(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    attention_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
}

int lifelong_attention_uses_avx2(void) { return attention_avx2; }

void lifelong_softmax(float *v, intptr_t n) {
#if defined(__x86_64__)
    if (attention_avx2) return softmax_avx2(v, n);
#endif
    lifelong_softmax_baseline(v, n);
}

void lifelong_attend(const LifelongAttention *a, float *alpha, float *out) {
#if defined(__x86_64__)
    if (attention_avx2 && a->head_width % 8 == 0) return attend_avx2(a, alpha, out);
#endif
    lifelong_attend_baseline(a, alpha, out);
}

void lifelong_attend_backward(
    const LifelongAttention *a, const float *alpha, const float *d_out, float *d_query, float *d_keys, float *d_values
) {
#if defined(__x86_64__)
    if (attention_avx2 && a->head_width % 8 == 0) {
        return attend_backward_avx2(a, alpha, d_out, d_query, d_keys, d_values);
    }
#endif
    lifelong_attend_backward_baseline(a, alpha, d_out, d_query, d_keys, d_values);
}
