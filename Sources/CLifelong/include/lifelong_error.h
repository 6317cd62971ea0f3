/* Used by the library itself (not part of the API): sets this thread's lifelong_last_error() message to
 * `count` bytes of UTF-8 (cut at a character boundary past 4095 bytes). Hidden from the shared library's
 * exported symbols. */
#ifndef LIFELONG_ERROR_H
#define LIFELONG_ERROR_H

#include <stddef.h>

__attribute__((visibility("hidden"))) void lifelong_set_last_error(const char *bytes, size_t count);

#endif
