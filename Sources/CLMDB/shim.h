#ifndef LIFELONG_CLMDB_SHIM_H
#define LIFELONG_CLMDB_SHIM_H
// Debian's liblmdb-dev (LMDB 0.9.x). Found through pkg-config ("lmdb").
#include <lmdb.h>
#endif
