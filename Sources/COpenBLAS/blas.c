#define _GNU_SOURCE
#include "lifelong_blas.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
static char source[640] = "none";
static char last_failure[512] = "";  // the last dlopen error of the search, for the fallback's message

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

// Takes the functions from `h` (symbols named `prefix` + the CBLAS name); 0 when it has no sgemm/dgemm.
static int bind(void *h, const char *prefix) {
    char name[64];
#define SYMBOL(type, var, base)                                                                            \
    snprintf(name, sizeof name, "%s%s", prefix, base);                                                     \
    var = (type)dlsym(h, name);
    SYMBOL(sgemm_fn, sgemm, "cblas_sgemm")
    SYMBOL(dgemm_fn, dgemm, "cblas_dgemm")
    SYMBOL(threads_fn, set_threads, "openblas_set_num_threads")
    SYMBOL(string_fn, corename, "openblas_get_corename")
    SYMBOL(string_fn, config, "openblas_get_config")
#undef SYMBOL
    if (sgemm && dgemm) return 1;
    sgemm = NULL;
    dgemm = NULL;
    return 0;
}

// The folder of the file this code was linked into (liblifelong_c.so, or the executable), "" if unknown.
static void own_folder(char *out, size_t size) {
    Dl_info info;
    char path[4096];
    out[0] = 0;
    int resolved = dladdr((void *)own_folder, &info) && info.dli_fname && realpath(info.dli_fname, path);
    if (!resolved) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0) return;
        path[n] = 0;
    }
    char *slash = strrchr(path, '/');
    if (slash) *slash = 0;
    snprintf(out, size, "%s", path);
}

// One source of the search. Returns 1 when it bound OpenBLAS (and filled `source`).
static int try_host(void) {
    static const char *const sonames[][2] = {{"libopenblas.so.0", ""}, {"libscipy_openblas.so", "scipy_"}};
    for (size_t i = 0; i < sizeof sonames / sizeof sonames[0]; i++) {
        void *h = dlopen(sonames[i][0], RTLD_NOW | RTLD_NOLOAD);
        if (h == NULL) continue;
        if (bind(h, sonames[i][1])) {
            snprintf(source, sizeof source, "host process (%s, loaded before Lifelong)", sonames[i][0]);
            return 1;
        }
        dlclose(h);  // NOLOAD took a reference too
    }
    return 0;
}

static int try_file(const char *path, const char *what) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        snprintf(last_failure, sizeof last_failure, "%s", why ? why : path);
        return 0;
    }
    if (bind(h, "") || bind(h, "scipy_")) {
        snprintf(source, sizeof source, "%s (%s)", what, path);
        return 1;
    }
    snprintf(last_failure, sizeof last_failure, "%s has no cblas_sgemm/cblas_dgemm", path);
    dlclose(h);
    return 0;
}

// scipy-openblas32 installed beside this package: site-packages/scipy_openblas32/lib, seen from
// site-packages/lifelong/ (the library) or site-packages/lifelong/bin/ (the CLI).
static int try_scipy(void) {
    char folder[4096], path[4600], resolved[4096];
    own_folder(folder, sizeof folder);
    if (!folder[0]) return 0;
    static const char *const ups[] = {"/..", "/../.."};
    for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
        snprintf(path, sizeof path, "%s%s/scipy_openblas32/lib/libscipy_openblas.so", folder, ups[i]);
        if (realpath(path, resolved) && try_file(resolved, "scipy-openblas32")) return 1;
    }
    return 0;
}

// LIFELONG_OPENBLAS: the sources to try, in order, comma-separated: "host", "debian", "scipy", or a path
// to a library file; "none" alone means the plain C products. Unset: host,debian,scipy.
static int try_sources(const char *list) {
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (strcmp(item, "host") == 0) {
            if (try_host()) return 1;
        } else if (strcmp(item, "debian") == 0) {
            if (try_file("libopenblas.so.0", "Debian libopenblas0")) return 1;
        } else if (strcmp(item, "scipy") == 0) {
            if (try_scipy()) return 1;
        } else if (strcmp(item, "none") != 0) {
            if (try_file(item, "LIFELONG_OPENBLAS")) return 1;
        }
    }
    return 0;
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
    const char *wanted = getenv("LIFELONG_OPENBLAS");
    const char *list = wanted && wanted[0] ? wanted : "host,debian,scipy";
    int found = try_sources(list);
    if (set_here) unsetenv("OPENBLAS_CORETYPE");
    if (threads_set_here) unsetenv("OPENBLAS_NUM_THREADS");
    if (!found) {
        snprintf(library, sizeof library, "none: no OpenBLAS found (searched: %s; last: %s); plain C products", list,
                 last_failure[0] ? last_failure : "nothing to load");
        snprintf(source, sizeof source, "none");
        if (strcmp(list, "none") != 0) {
            fprintf(stderr, "lifelong: warning: no OpenBLAS found (searched %s; install Debian's libopenblas0 "
                            "or the scipy-openblas32 wheel): matrix products run in plain C, many times slower\n",
                    list);
        }
        return;
    }
    snprintf(library, sizeof library, "%s", config ? config() : "OpenBLAS");
    chosen_by = strncmp(source, "host", 4) == 0 ? "already-loaded" : set_here ? "cpu-features" : "OPENBLAS_CORETYPE";
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
const char *lifelong_blas_source(void) { lifelong_blas_load(); return source; }

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
