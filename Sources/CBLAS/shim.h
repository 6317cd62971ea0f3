#ifndef LIFELONG_CBLAS_SHIM_H
#define LIFELONG_CBLAS_SHIM_H
// Debian's libopenblas-dev (OpenBLAS, pthread flavour). Found through pkg-config ("openblas").
#include <cblas.h>
#endif
