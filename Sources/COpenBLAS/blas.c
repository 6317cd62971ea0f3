#include "lifelong_blas.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };  // CBLAS's enum values

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                         double, double *, int);
typedef void (*threads_fn)(int);
typedef char *(*string_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sgemm_fn sgemm;
static dgemm_fn dgemm;
static threads_fn set_threads;
static string_fn corename, config;
static const char *chosen_by = "fallback";
static char library[512] = "none";

const char *lifelong_blas_best_core(void) {
    __builtin_cpu_init();
    // The order of OpenBLAS's own x86-64 kernel sets, newest first; each needs the features named.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        return __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
    if (__builtin_cpu_supports("sse4.2")) return "Nehalem";
    if (__builtin_cpu_supports("ssse3")) return "Core2";
    return "Prescott";
}

static void load(void) {
    int set_here = 0;
    if (getenv("OPENBLAS_CORETYPE") == NULL) {
        setenv("OPENBLAS_CORETYPE", lifelong_blas_best_core(), 0);
        set_here = 1;
    }
    // Every caller runs BLAS on its own thread (lifelong_blas_set_threads(1)); with one thread at load time
    // OpenBLAS starts no worker pool, so a host process embedding the scorer gets no threads it did not ask for.
    int threads_set_here = 0;
    if (getenv("OPENBLAS_NUM_THREADS") == NULL) {
        setenv("OPENBLAS_NUM_THREADS", "1", 0);
        threads_set_here = 1;
    }
    void *probe = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
    void *h = probe ? probe : dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (set_here) unsetenv("OPENBLAS_CORETYPE");
    if (threads_set_here) unsetenv("OPENBLAS_NUM_THREADS");
    if (h == NULL) {
        const char *why = dlerror();
        snprintf(library, sizeof library, "none: libopenblas.so.0 could not be loaded (%s); plain C products",
                 why ? why : "unknown error");
        return;
    }
    sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    dgemm = (dgemm_fn)dlsym(h, "cblas_dgemm");
    set_threads = (threads_fn)dlsym(h, "openblas_set_num_threads");
    corename = (string_fn)dlsym(h, "openblas_get_corename");
    config = (string_fn)dlsym(h, "openblas_get_config");
    if (!sgemm || !dgemm) {
        sgemm = NULL;
        dgemm = NULL;
        snprintf(library, sizeof library, "none: libopenblas.so.0 has no cblas_sgemm/cblas_dgemm; plain C products");
        return;
    }
    snprintf(library, sizeof library, "%s", config ? config() : "OpenBLAS");
    chosen_by = probe ? "already-loaded" : set_here ? "cpu-features" : "OPENBLAS_CORETYPE";
}

int lifelong_blas_load(void) {
    pthread_once(&once, load);
    return sgemm != NULL;
}

const char *lifelong_blas_library(void) { lifelong_blas_load(); return library; }
const char *lifelong_blas_core(void) {
    lifelong_blas_load();
    return corename ? corename() : (sgemm ? "unknown" : "none");
}
const char *lifelong_blas_chosen_by(void) { lifelong_blas_load(); return chosen_by; }

void lifelong_blas_set_threads(int threads) {
    if (lifelong_blas_load() && set_threads) set_threads(threads);
}

// The fallback: a plain loop, used only when no OpenBLAS can be loaded.
#define FALLBACK(T)                                                                                        \
    for (int i = 0; i < m; i++)                                                                            \
        for (int j = 0; j < n; j++) {                                                                      \
            T s = 0;                                                                                       \
            for (int p = 0; p < k; p++)                                                                    \
                s += (trans_a ? a[p * lda + i] : a[i * lda + p]) * (trans_b ? b[j * ldb + p] : b[p * ldb + j]); \
            c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);                          \
        }

void lifelong_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (lifelong_blas_load()) {
        sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
              beta, c, ldc);
        return;
    }
    FALLBACK(float)
}

void lifelong_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                    const double *b, int ldb, double beta, double *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (lifelong_blas_load()) {
        dgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
              beta, c, ldc);
        return;
    }
    FALLBACK(double)
}
