/*
 * lx/error.h: the one error vocabulary of lxdex.
 *
 * Functions return 0 on success or a negative LX_E* code from this table.
 * These are for misuse, resource exhaustion, I/O and corruption only:
 * business outcomes (a rejected order, a failed withdrawal) are events with
 * a reason code (see lx/event.h), never C errors.
 */
#ifndef LX_ERROR_H
#define LX_ERROR_H

/* X(name, value, message) */
#define LX_ERRNO_MAP(X)                                                                            \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ERANGE, -3, "value out of range")                                                            \
    X(ETRUNC, -4, "input truncated")                                                               \
    X(ECORRUPT, -5, "data corrupt")                                                                \
    X(EIO, -6, "input/output error")                                                               \
    X(ESTATE, -7, "operation not allowed in this state")                                           \
    X(EEXIST, -8, "already exists")                                                                \
    X(ENOENT, -9, "not found")                                                                     \
    X(EVERSION, -10, "unsupported format version")                                                 \
    X(EFULL, -11, "capacity exhausted")                                                            \
    X(EAGAIN, -12, "try again")                                                                    \
    X(ECLOSED, -13, "closed")

enum {
#define LX__ERR_ENUM(name, value, msg) LX_##name = (value),
    LX_ERRNO_MAP(LX__ERR_ENUM)
#undef LX__ERR_ENUM
};

/* A static, never-NULL description of an LX_E* code (or "unknown error"). */
const char *lx_strerror(int err);
/* The symbolic name ("LX_EINVAL"), or "LX_E?" for an unknown code. */
const char *lx_err_name(int err);

#endif
