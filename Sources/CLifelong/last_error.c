// The thread-local error message behind lifelong_last_error(), and the setter the Swift side calls.
#include "lifelong.h"
#include "lifelong_error.h"

#include <string.h>

enum { CAPACITY = 4096 };
static _Thread_local char message[CAPACITY];

const char *lifelong_last_error(void) { return message; }

void lifelong_set_last_error(const char *bytes, size_t count) {
    if (count >= CAPACITY) {
        count = CAPACITY - 1;
        // Cut at a UTF-8 character boundary: drop continuation bytes (10xxxxxx) and the lead byte before them.
        while (count > 0 && ((unsigned char)bytes[count] & 0xC0) == 0x80) count--;
    }
    memcpy(message, bytes, count);
    message[count] = 0;
}

const char *lifelong_status_name(int status) {
    switch (status) {
    case LIFELONG_OK: return "LIFELONG_OK";
    case LIFELONG_INVALID_ARGUMENT: return "LIFELONG_INVALID_ARGUMENT";
    case LIFELONG_NOT_FOUND: return "LIFELONG_NOT_FOUND";
    case LIFELONG_MODEL_MISMATCH: return "LIFELONG_MODEL_MISMATCH";
    case LIFELONG_DAMAGED: return "LIFELONG_DAMAGED";
    case LIFELONG_IO_ERROR: return "LIFELONG_IO_ERROR";
    case LIFELONG_INTERNAL: return "LIFELONG_INTERNAL";
    case LIFELONG_INPUT_ERROR: return "LIFELONG_INPUT_ERROR";
    default: return "LIFELONG_UNKNOWN_STATUS";
    }
}
