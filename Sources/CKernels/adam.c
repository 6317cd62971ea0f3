// One Adam step over a contiguous range (Kingma & Ba, with AdamW's decoupled decay), as loops the compiler
// vectorises: `restrict` tells it the four arrays do not overlap, which Swift cannot. The AVX2 variant is the
// same source compiled for AVX2 (chosen at load); contraction into FMA is off, so both give the same floats.
#include "kernels.h"
#include <math.h>

#pragma clang fp contract(off)

#define ADAM_BODY                                                                    \
    for (intptr_t k = 0; k < n; k++) {                                               \
        float gk = g[k];                                                             \
        float mk = p->beta1 * m[k] + (1 - p->beta1) * gk;                            \
        float vk = p->beta2 * v[k] + (1 - p->beta2) * gk * gk;                       \
        m[k] = mk;                                                                   \
        v[k] = vk;                                                                   \
        w[k] = w[k] * p->shrink - p->rate * mk / (sqrtf(vk) + p->epsilon);           \
        g[k] = 0;                                                                    \
    }

void lifelong_adam_baseline(
    float *restrict w, float *restrict g, float *restrict m, float *restrict v, intptr_t n, const LifelongAdam *p
) {
    ADAM_BODY
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static void adam_avx2(
    float *restrict w, float *restrict g, float *restrict m, float *restrict v, intptr_t n, const LifelongAdam *p
) {
    ADAM_BODY
}
#endif

static int adam_uses_avx2 = 0;

__attribute__((constructor))
static void choose_adam(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    adam_uses_avx2 = __builtin_cpu_supports("avx2");
#endif
}

void lifelong_adam(float *w, float *g, float *m, float *v, intptr_t n, const LifelongAdam *p) {
#if defined(__x86_64__)
    if (adam_uses_avx2) return adam_avx2(w, g, m, v, n, p);
#endif
    lifelong_adam_baseline(w, g, m, v, n, p);
}
