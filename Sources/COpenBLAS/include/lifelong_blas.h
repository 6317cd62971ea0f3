#ifndef LIFELONG_BLAS_H
#define LIFELONG_BLAS_H
// OpenBLAS, loaded at run time with the best kernels this CPU's feature bits allow.
//
// Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from the CPU's model number; a model newer than
// the release, or one a virtual machine reports generically, falls back to the SSE3 baseline ("Prescott"),
// ~7x slower for sgemm on an AVX-512 machine. OPENBLAS_CORETYPE overrides that choice, but only when set
// before the library initialises. So the library is not linked: the first BLAS call (or lifelong_blas_load)
// sets OPENBLAS_CORETYPE from CPUID — unless the user already set it — dlopens libopenblas.so.0, and removes
// the variable again so that the host process's environment is as it was. This works inside any host
// process (the CLI, a server embedding the scorer, Python); a host that already loaded the same library
// keeps the kernels it chose, and lifelong_blas_core() says which.
//
// Where OpenBLAS is looked for, in order (LIFELONG_OPENBLAS, comma-separated, changes the list):
//   host    the host process's own: libopenblas.so.0 or scipy-openblas's libscipy_openblas.so already loaded;
//   debian  Debian's libopenblas0 (libopenblas.so.0 on the loader's path);
//   scipy   the scipy-openblas32 wheel installed beside the Python package (site-packages/scipy_openblas32,
//           symbols prefixed scipy_; its OpenBLAS 0.3.3x picks kernels by CPU features itself);
//   PATH    a library file; "none" alone asks for the plain C products.
// Every function is safe from any thread; loading happens once. Without a loadable OpenBLAS, the products
// run in a plain C loop (correct, slow), one warning goes to stderr and lifelong_blas_library() says so.
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Loads OpenBLAS if it is not loaded yet (idempotent). Returns 1 when OpenBLAS is in use, 0 for the fallback.
int lifelong_blas_load(void);

/// Row-major C[m, n] = alpha * op(A) * op(B) + beta * C, op(A) [m, k], op(B) [k, n].
void lifelong_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc);
void lifelong_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                    const double *b, int ldb, double beta, double *c, int ldc);

/// Every later product runs on the calling thread only.
void lifelong_blas_set_threads(int threads);

/// What is in use: "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …" (openblas_get_config), or a sentence saying
/// why the fallback runs.
const char *lifelong_blas_library(void);
/// The kernel set in use ("SkylakeX", "Haswell", …; "none" for the fallback).
const char *lifelong_blas_core(void);
/// The best kernel set this CPU's feature bits allow (what is chosen when the user sets nothing).
const char *lifelong_blas_best_core(void);
/// Who chose the kernels: "cpu-features" (Lifelong, from CPUID), "OPENBLAS_CORETYPE" (the user's
/// environment), "already-loaded" (the host process had loaded OpenBLAS before), or "fallback".
const char *lifelong_blas_chosen_by(void);
/// Where the OpenBLAS in use came from: "host process (libopenblas.so.0, loaded before Lifelong)",
/// "Debian libopenblas0 (libopenblas.so.0)", "scipy-openblas32 (PATH)", "LIFELONG_OPENBLAS (PATH)" or "none".
const char *lifelong_blas_source(void);

#ifdef __cplusplus
}
#endif
#endif
