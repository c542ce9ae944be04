/*
 * io.c: the journal's contact with the file system.
 *
 * Four things live here:
 *
 *   - lx_io_posix(), the I/O vtable (lx/journal.h) over the real system
 *     calls. The writer, the snapshot writer and recovery call nothing else
 *     to change files, so a test can swap in a vtable that fails the n-th
 *     write or fsync (tests/support/journal_faultio.c). The POSIX write
 *     loops over short writes and EINTR (that is how write(2) is used, not a
 *     retry of a failure); every other failure is handed back as -errno, at
 *     once and only once.
 *   - lx_io_mkdir(): creating a directory durably. A new directory's entry
 *     lives in its parent, and like a new file's it survives a crash only
 *     once the parent is fsync'ed: without that, the journal's first
 *     segment (fsync'ed, its directory fsync'ed, the commands acknowledged)
 *     can vanish with the directory that holds it. The parent is fsync'ed
 *     also when the directory exists already: a start whose fsync failed
 *     left it created but not durable. mkdir itself is not in the vtable;
 *     the parent's fsync is (fsync_dir), so tests see and fail it like any
 *     other.
 *   - the directory listing: segment files seg-<20 digits>.lxj and snapshot
 *     files snap-<20 digits>.lxs, sorted by their number; anything else in
 *     the directory is ignored, except leftover snapshot temporaries
 *     (snap-*.lxs.tmp), which recovery removes.
 *   - read-only mappings of whole files for the reader. Mapping instead of
 *     read() lets the scanner parse records in place and makes a warm replay
 *     memory-speed; the files are only read while no writer exists (recovery,
 *     tools), so nothing truncates them under the mapping.
 *
 * What this file does not do: decide anything about formats or validity.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jnl.h"

/* ---- POSIX vtable -------------------------------------------------------- */

static int px_open(void *ctx, const char *path, int flags, mode_t mode) {
    (void)ctx;
    int fd;
    do fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

static int px_close(void *ctx, int fd) {
    (void)ctx;
    /* close() is not retried on EINTR (Linux frees the descriptor anyway) */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

static int px_write(void *ctx, int fd, const void *buf, size_t len) {
    (void)ctx;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int px_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off) {
    (void)ctx;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

static int px_fdatasync(void *ctx, int fd) {
    (void)ctx;
    return fdatasync(fd) < 0 ? -errno : 0;
}

static int px_fsync(void *ctx, int fd) {
    (void)ctx;
    return fsync(fd) < 0 ? -errno : 0;
}

static int px_ftruncate(void *ctx, int fd, off_t len) {
    (void)ctx;
    return ftruncate(fd, len) < 0 ? -errno : 0;
}

static int px_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to) < 0 ? -errno : 0;
}

static int px_unlink(void *ctx, const char *path) {
    (void)ctx;
    return unlink(path) < 0 ? -errno : 0;
}

static int px_fsync_dir(void *ctx, const char *dir) {
    (void)ctx;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static const lx_io_t posix_io = {
    .ctx = NULL,
    .open = px_open,
    .close = px_close,
    .write = px_write,
    .pwrite = px_pwrite,
    .fdatasync = px_fdatasync,
    .fsync = px_fsync,
    .ftruncate = px_ftruncate,
    .rename = px_rename,
    .unlink = px_unlink,
    .fsync_dir = px_fsync_dir,
};

const lx_io_t *lx_io_posix(void) {
    return &posix_io;
}

int lx_io_mkdir(const lx_io_t *io, const char *path, bool sync_parent) {
    if (!io) io = lx_io_posix();
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -errno;
    /* existing or not: one that exists may have been created by a start
     * whose fsync of its parent failed, and never made durable since */
    if (!sync_parent) return 0;
    /* the parent: path without its last component (and the slashes before
     * it); "." for a relative name of one component, "/" at the root */
    char parent[4096];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    while (n > 0 && path[n - 1] != '/') n--;
    while (n > 1 && path[n - 1] == '/') n--;
    if (n >= sizeof parent) return -ENAMETOOLONG;
    if (n == 0)
        snprintf(parent, sizeof parent, ".");
    else
        snprintf(parent, sizeof parent, "%.*s", (int)n, path);
    return io->fsync_dir(io->ctx, parent);
}

/* the errno of this thread's last I/O failure mapped to LX_EIO */
static _Thread_local int last_eio;

const char *lx_journal_strerror(int rc) {
    return rc == LX_EIO && last_eio ? strerror(last_eio) : lx_strerror(rc);
}

int jnl_io_err(int neg_errno) {
    switch (-neg_errno) {
    case ENOENT:
        return LX_ENOENT;
    case EEXIST:
        return LX_EEXIST;
    case ENOMEM:
        return LX_ENOMEM;
    default:
        last_eio = -neg_errno;
        return LX_EIO;
    }
}

/* ---- names --------------------------------------------------------------- */

void jnl_seg_name(char out[64], uint64_t index) {
    snprintf(out, 64, "seg-%020" PRIu64 ".lxj", index);
}

void jnl_snap_name(char out[64], uint64_t seq) {
    snprintf(out, 64, "snap-%020" PRIu64 ".lxs", seq);
}

int jnl_path(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? LX_ERANGE : 0;
}

/* "<prefix><20 digits><suffix>" exactly; the number into *key. */
static bool parse_name(const char *name, const char *prefix, const char *suffix, uint64_t *key) {
    size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
    if (nl != pl + 20 + sl || memcmp(name, prefix, pl) != 0 ||
        memcmp(name + pl + 20, suffix, sl) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = pl; i < pl + 20; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *key = v;
    return true;
}

static int push(jnl_file_t **arr, size_t *n, size_t *cap, uint64_t key, const char *name) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        jnl_file_t *a = realloc(*arr, nc * sizeof *a);
        if (!a) return LX_ENOMEM;
        *arr = a;
        *cap = nc;
    }
    (*arr)[*n].key = key;
    snprintf((*arr)[*n].name, sizeof(*arr)[*n].name, "%s", name);
    (*n)++;
    return 0;
}

static int cmp_file(const void *a, const void *b) {
    uint64_t x = ((const jnl_file_t *)a)->key, y = ((const jnl_file_t *)b)->key;
    return x < y ? -1 : x > y;
}

int jnl_dir_list(const char *dir, jnl_dir_t *d) {
    memset(d, 0, sizeof *d);
    DIR *dp = opendir(dir);
    if (!dp) return errno == ENOENT ? LX_ENOENT : LX_EIO;
    size_t cs = 0, cn = 0, ct = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        uint64_t key;
        const char *nm = de->d_name;
        if (parse_name(nm, "seg-", ".lxj", &key))
            rc = push(&d->segs, &d->nsegs, &cs, key, nm);
        else if (parse_name(nm, "snap-", ".lxs", &key))
            rc = push(&d->snaps, &d->nsnaps, &cn, key, nm);
        else if (parse_name(nm, "snap-", ".lxs.tmp", &key))
            rc = push(&d->tmps, &d->ntmps, &ct, key, nm);
        if (rc) break;
    }
    closedir(dp);
    if (rc) {
        jnl_dir_free(d);
        return rc;
    }
    if (d->nsegs) qsort(d->segs, d->nsegs, sizeof *d->segs, cmp_file);
    if (d->nsnaps) qsort(d->snaps, d->nsnaps, sizeof *d->snaps, cmp_file);
    return 0;
}

void jnl_dir_free(jnl_dir_t *d) {
    free(d->segs);
    free(d->snaps);
    free(d->tmps);
    memset(d, 0, sizeof *d);
}

/* ---- mappings ------------------------------------------------------------ */

int jnl_map(const char *path, jnl_map_t *m) {
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? LX_ENOENT : LX_EIO;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return LX_EIO;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return errno == ENOMEM ? LX_ENOMEM : LX_EIO;
        }
        /* read sequentially once; tell the kernel to read ahead */
        madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
        m->data = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void jnl_unmap(jnl_map_t *m) {
    if (m->data) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}
