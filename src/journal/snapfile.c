/*
 * snapfile.c: snapshot files: the engine's state at one seq, compressed,
 * checksummed, and made durable by temp file + fsync + rename + fsync of
 * the directory.
 *
 * The image inside is lx_engine_save()'s canonical byte stream (specified in
 * src/core/snapshot.c); this file wraps it. File snap-<seq, 20 digits>.lxs:
 *
 *   offset size field
 *   0      8    magic "LXDEXSNP" (4c 58 44 45 58 53 4e 50)
 *   8      2    format version (1)
 *   10     2    header length (128)
 *   12     4    compression: 1 = zstd (one frame)
 *   16     8    epoch: the journal epoch when the snapshot was taken
 *   24     8    seq: lx_engine_last_seq() of the state
 *   32     8    ts: lx_engine_last_ts() (i64)
 *   40     8    digest: lx_engine_digest() of the state
 *   48     8    image length (uncompressed bytes of lx_engine_save)
 *   56     8    data length: compressed bytes after the header (= file size - 128)
 *   64     4    CRC32C of the compressed data
 *   68     4    CRC32C of the image
 *   72     24   engine configuration, six u32 (as in the segment header)
 *   96     28   zero
 *   124    4    CRC32C of bytes [0, 124)
 *   128    ...  the zstd frame (with its own content checksum)
 *
 * Valid: every CRC matches, lengths agree with the file and the frame, the
 * image loads (lx_engine_load validates every structure), and the loaded
 * engine's seq, configuration and digest equal the header's.
 *
 * Writing streams: lx_engine_save() -> ZSTD_compressStream2 -> write(), so
 * memory stays bounded whatever the state's size; the header is written
 * last, with pwrite at offset 0, once the lengths and CRCs are known. The
 * temporary file (snap-*.lxs.tmp) is fsync'ed, renamed over its final name
 * and the directory is fsync'ed: a crash leaves either no snapshot or a
 * complete one, plus perhaps a temporary that recovery deletes.
 *
 * Stalling the engine: lx_snapshot_fork() fork()s; the child writes the
 * snapshot from its copy-on-write image of the parent's memory and _exit()s,
 * while the parent goes on at once (Redis's BGSAVE). The parent pays for
 * fork() copying its page tables (about 2 KiB per MiB of resident state
 * with 4 KiB pages) and later for the copy-on-write faults of the pages it
 * writes while the child runs. fork() is called from the thread that owns
 * the engine, between commands, so the child's image is a consistent state.
 *
 * What this file does not do: choose which snapshot to load (recover.c) or
 * decide when to take one (the caller, or lx_journal_snapshot).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>
#include "lx/snapshot.h"
#include "jnl.h"

#define COMP_ZSTD 1

static void put_cfg(uint8_t *p, const lx_engine_config_t *c) {
    lx_put_u32(p, c->max_markets);
    lx_put_u32(p + 4, c->max_assets);
    lx_put_u32(p + 8, c->max_accounts);
    lx_put_u32(p + 12, c->max_orders);
    lx_put_u32(p + 16, c->max_open_orders_per_account);
    lx_put_u32(p + 20, c->clearing ? 1 : 0);
}

static bool get_cfg(const uint8_t *p, lx_engine_config_t *c) {
    memset(c, 0, sizeof *c);
    c->max_markets = lx_get_u32(p);
    c->max_assets = lx_get_u32(p + 4);
    c->max_accounts = lx_get_u32(p + 8);
    c->max_orders = lx_get_u32(p + 12);
    c->max_open_orders_per_account = lx_get_u32(p + 16);
    uint32_t cl = lx_get_u32(p + 20);
    c->clearing = cl == 1;
    return cl <= 1;
}

static bool cfg_equal(const lx_engine_config_t *a, const lx_engine_config_t *b) {
    return a->max_markets == b->max_markets && a->max_assets == b->max_assets &&
           a->max_accounts == b->max_accounts && a->max_orders == b->max_orders &&
           a->max_open_orders_per_account == b->max_open_orders_per_account &&
           a->clearing == b->clearing;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct {
    const lx_io_t *io;
    int fd;
    ZSTD_CCtx *cctx;
    uint8_t *out;
    size_t out_cap;
    uint64_t img_len, data_len;
    uint32_t img_crc, data_crc;
    uint8_t tail[8]; /* the image's last 8 bytes: its trailer, the digest */
    int err;
} wctx_t;

static int drain(wctx_t *w, ZSTD_outBuffer *ob) {
    if (ob->pos == 0) return 0;
    int rc = w->io->write(w->io->ctx, w->fd, ob->dst, ob->pos);
    if (rc < 0) return jnl_io_err(rc);
    w->data_crc = lx__crc32c(w->data_crc, ob->dst, ob->pos);
    w->data_len += ob->pos;
    ob->pos = 0;
    return 0;
}

static int compress(wctx_t *w, const void *buf, size_t len, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {w->out, w->out_cap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &ob, &in, mode);
        if (ZSTD_isError(left)) return LX_EIO;
        int rc = drain(w, &ob);
        if (rc) return rc;
        if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return 0;
    }
}

static int save_cb(void *ctx, const void *buf, size_t len) {
    wctx_t *w = ctx;
    if (len >= 8) {
        memcpy(w->tail, (const uint8_t *)buf + len - 8, 8);
    } else {
        memmove(w->tail, w->tail + len, 8 - len);
        memcpy(w->tail + 8 - len, buf, len);
    }
    w->img_crc = lx__crc32c(w->img_crc, buf, len);
    w->img_len += len;
    return compress(w, buf, len, ZSTD_e_continue);
}

int lx_snapshot_write(const char *dir, const lx_engine_t *e, uint64_t epoch, int zstd_level,
                      const lx_io_t *io) {
    if (!dir || !e) return LX_EINVAL;
    if (!io) io = lx_io_posix();
    char name[64], final[4096], tmp[4096];
    uint64_t seq = lx_engine_last_seq(e);
    jnl_snap_name(name, seq);
    if (jnl_path(final, sizeof final, dir, name) ||
        snprintf(tmp, sizeof tmp, "%s.tmp", final) >= (int)sizeof tmp)
        return LX_ERANGE;
    wctx_t w = {.io = io, .fd = -1};
    int rc = LX_ENOMEM;
    w.cctx = ZSTD_createCCtx();
    w.out_cap = ZSTD_CStreamOutSize();
    w.out = malloc(w.out_cap);
    if (!w.cctx || !w.out) goto fail;
    ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, zstd_level ? zstd_level : 1);
    ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 1);
    int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = jnl_io_err(fd);
        goto fail;
    }
    w.fd = fd;
    uint8_t hdr[JNL_SNAP_HDR_LEN] = {0};
    if ((rc = io->write(io->ctx, fd, hdr, sizeof hdr)) < 0) {
        rc = jnl_io_err(rc);
        goto fail;
    }
    if ((rc = lx_engine_save(e, save_cb, &w)) < 0) goto fail;
    /* The image ends with lx_engine_digest() (src/core/snapshot.c): taken
     * from there, the state is walked once, not twice (2.3 s of 7.4 with
     * 10 M resting orders). The reader checks it against the loaded engine. */
    uint64_t digest = lx_get_u64(w.tail);
    if ((rc = compress(&w, NULL, 0, ZSTD_e_end)) < 0) goto fail;
    memcpy(hdr, JNL_SNAP_MAGIC, 8);
    lx_put_u16(hdr + 8, 1);
    lx_put_u16(hdr + 10, JNL_SNAP_HDR_LEN);
    lx_put_u32(hdr + 12, COMP_ZSTD);
    lx_put_u64(hdr + 16, epoch);
    lx_put_u64(hdr + 24, seq);
    lx_put_u64(hdr + 32, (uint64_t)lx_engine_last_ts(e));
    lx_put_u64(hdr + 40, digest);
    lx_put_u64(hdr + 48, w.img_len);
    lx_put_u64(hdr + 56, w.data_len);
    lx_put_u32(hdr + 64, w.data_crc);
    lx_put_u32(hdr + 68, w.img_crc);
    put_cfg(hdr + 72, lx_engine_config(e));
    lx_put_u32(hdr + 124, lx__crc32c(0, hdr, 124));
    if ((rc = io->pwrite(io->ctx, fd, hdr, sizeof hdr, 0)) < 0 ||
        (rc = io->fsync(io->ctx, fd)) < 0) {
        rc = jnl_io_err(rc);
        goto fail;
    }
    w.fd = -1;
    if ((rc = io->close(io->ctx, fd)) < 0) {
        rc = jnl_io_err(rc);
        goto fail;
    }
    if ((rc = io->rename(io->ctx, tmp, final)) < 0) {
        rc = jnl_io_err(rc);
        goto fail;
    }
    /* the new name is durable only once the directory is */
    if ((rc = io->fsync_dir(io->ctx, dir)) < 0) {
        rc = jnl_io_err(rc);
        goto done;
    }
    rc = 0;
    goto done;
fail:
    if (w.fd >= 0) io->close(io->ctx, w.fd);
    io->unlink(io->ctx, tmp);
done:
    ZSTD_freeCCtx(w.cctx);
    free(w.out);
    return rc;
}

/* ---- fork ---------------------------------------------------------------- */

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Child exit status: 0, or EXIT_BASE + (-LX_E*). */
#define EXIT_BASE 64

int lx_snapshot_fork(const char *dir, const lx_engine_t *e, uint64_t epoch, int zstd_level,
                     const lx_io_t *io, pid_t *child, uint64_t *stall_ns) {
    if (!dir || !e || !child) return LX_EINVAL;
    uint64_t t0 = mono_ns();
    pid_t pid = fork();
    uint64_t t1 = mono_ns();
    if (pid < 0) return errno == ENOMEM || errno == EAGAIN ? LX_ENOMEM : LX_EIO;
    if (pid == 0) {
        int rc = lx_snapshot_write(dir, e, epoch, zstd_level, io);
        _exit(rc == 0 ? 0 : EXIT_BASE + (-rc & 63));
    }
    *child = pid;
    if (stall_ns) *stall_ns = t1 - t0;
    return 0;
}

int lx_snapshot_wait(pid_t child, bool block) {
    int st;
    pid_t r;
    do r = waitpid(child, &st, block ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0) return LX_EAGAIN;
    if (r < 0) return LX_EIO;
    if (WIFEXITED(st)) {
        int code = WEXITSTATUS(st);
        if (code == 0) return 0;
        if (code > EXIT_BASE) return -(code - EXIT_BASE);
    }
    return LX_EIO;
}

/* ---- reading ------------------------------------------------------------- */

int jnl_snap_hdr_parse(const uint8_t *buf, size_t len, lx_snapshot_info_t *info, uint32_t *data_crc,
                       const char **why) {
    const char *w = NULL;
    int rc = LX_ECORRUPT;
    if (len < JNL_SNAP_HDR_LEN) {
        w = "snapshot header truncated";
        rc = LX_ETRUNC;
    } else if (memcmp(buf, JNL_SNAP_MAGIC, 8) != 0) {
        w = "bad snapshot magic";
    } else if (lx_get_u32(buf + 124) != lx__crc32c(0, buf, 124)) {
        w = "snapshot header CRC mismatch";
    } else if (lx_get_u16(buf + 8) != 1) {
        w = "unsupported snapshot format version";
        rc = LX_EVERSION;
    } else if (lx_get_u16(buf + 10) != JNL_SNAP_HDR_LEN || lx_get_u32(buf + 12) != COMP_ZSTD) {
        w = "bad snapshot header layout";
    } else {
        bool zero = true;
        for (int i = 96; i < 124; i++) zero &= buf[i] == 0;
        memset(info, 0, sizeof *info);
        info->epoch = lx_get_u64(buf + 16);
        info->seq = lx_get_u64(buf + 24);
        info->ts = (int64_t)lx_get_u64(buf + 32);
        info->digest = lx_get_u64(buf + 40);
        info->image_len = lx_get_u64(buf + 48);
        info->data_len = lx_get_u64(buf + 56);
        if (data_crc) *data_crc = lx_get_u32(buf + 64);
        if (!zero || !get_cfg(buf + 72, &info->engine)) {
            w = "bad snapshot header field";
        } else {
            if (why) *why = NULL;
            return 0;
        }
    }
    if (why) *why = w;
    return rc;
}

typedef struct {
    ZSTD_DCtx *d;
    ZSTD_inBuffer in;
    uint8_t *out;
    size_t out_cap, out_pos, out_len;
    uint64_t img_len;
    uint32_t img_crc;
    uint8_t tail[8]; /* the last 8 image bytes so far: at the end, the digest */
    bool frame_done;
    bool bad; /* a zstd error, as opposed to running out */
} rctx_t;

/* Decompresses the next piece; false at the end of the frame or input. */
static bool refill(rctx_t *r) {
    if (r->frame_done) return false;
    ZSTD_outBuffer ob = {r->out, r->out_cap, 0};
    while (ob.pos == 0) {
        size_t in_before = r->in.pos;
        size_t left = ZSTD_decompressStream(r->d, &ob, &r->in);
        if (ZSTD_isError(left)) {
            r->bad = true;
            return false;
        }
        if (left == 0) {
            r->frame_done = true;
            break;
        }
        if (ob.pos == 0 && r->in.pos == in_before) return false; /* input exhausted */
    }
    r->out_pos = 0;
    r->out_len = ob.pos;
    if (ob.pos >= 8) {
        memcpy(r->tail, r->out + ob.pos - 8, 8);
    } else {
        memmove(r->tail, r->tail + ob.pos, 8 - ob.pos);
        memcpy(r->tail + 8 - ob.pos, r->out, ob.pos);
    }
    r->img_crc = lx__crc32c(r->img_crc, r->out, ob.pos);
    r->img_len += ob.pos;
    return ob.pos > 0;
}

static int load_cb(void *ctx, void *buf, size_t len) {
    rctx_t *r = ctx;
    uint8_t *p = buf;
    while (len) {
        if (r->out_pos == r->out_len && !refill(r)) return r->bad ? LX_ECORRUPT : LX_ETRUNC;
        size_t n = r->out_len - r->out_pos;
        if (n > len) n = len;
        memcpy(p, r->out + r->out_pos, n);
        r->out_pos += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int fail_msg(char *msg, size_t msglen, int rc, const char *what) {
    if (msg && msglen) snprintf(msg, msglen, "%s", what);
    return rc;
}

int lx_snapshot_read_buf(const uint8_t *buf, size_t len, lx_engine_t **out,
                         lx_snapshot_info_t *info, char *msg, size_t msglen) {
    lx_snapshot_info_t tmp;
    if (!info) info = &tmp;
    if (out) *out = NULL;
    if (msg && msglen) msg[0] = 0;
    const char *why;
    uint32_t data_crc;
    int rc = jnl_snap_hdr_parse(buf, len, info, &data_crc, &why);
    if (rc) return fail_msg(msg, msglen, rc == LX_ETRUNC ? LX_ECORRUPT : rc, why);
    if (info->data_len != len - JNL_SNAP_HDR_LEN)
        return fail_msg(msg, msglen, LX_ECORRUPT, "snapshot data length does not match file size");
    if (lx__crc32c(0, buf + JNL_SNAP_HDR_LEN, info->data_len) != data_crc)
        return fail_msg(msg, msglen, LX_ECORRUPT, "snapshot data CRC mismatch");
    if (!out) return 0;
    rctx_t r = {0};
    r.d = ZSTD_createDCtx();
    r.out_cap = ZSTD_DStreamOutSize();
    r.out = malloc(r.out_cap);
    r.in.src = buf + JNL_SNAP_HDR_LEN;
    r.in.size = info->data_len;
    lx_engine_t *e = NULL;
    if (!r.d || !r.out) {
        rc = fail_msg(msg, msglen, LX_ENOMEM, "out of memory");
        goto done;
    }
    rc = lx_engine_load(&e, load_cb, &r);
    if (rc) {
        rc = fail_msg(msg, msglen, rc == LX_ENOMEM ? rc : LX_ECORRUPT,
                      rc == LX_EVERSION ? "engine image of an unsupported version"
                                        : "engine image does not load");
        goto done;
    }
    /* nothing may follow the image, and the frame must end with the input */
    if (r.out_pos != r.out_len || refill(&r) || r.bad || !r.frame_done || r.in.pos != r.in.size) {
        rc = fail_msg(msg, msglen, LX_ECORRUPT, "data after the engine image");
        goto done;
    }
    if (r.img_len != info->image_len || lx_get_u32(buf + 68) != r.img_crc) {
        rc = fail_msg(msg, msglen, LX_ECORRUPT, "engine image length or CRC mismatch");
        goto done;
    }
    /* lx_engine_load() has checked the engine's digest against the image's
     * trailer; the trailer must be the header's digest (no second walk) */
    if (lx_engine_last_seq(e) != info->seq || lx_get_u64(r.tail) != info->digest ||
        !cfg_equal(lx_engine_config(e), &info->engine)) {
        rc = fail_msg(msg, msglen, LX_ECORRUPT, "engine image disagrees with snapshot header");
        goto done;
    }
    *out = e;
    e = NULL;
    rc = 0;
done:
    lx_engine_destroy(e);
    ZSTD_freeDCtx(r.d);
    free(r.out);
    return rc;
}

int lx_snapshot_read(const char *path, lx_engine_t **out, lx_snapshot_info_t *info, char *msg,
                     size_t msglen) {
    if (out) *out = NULL;
    jnl_map_t m;
    int rc = jnl_map(path, &m);
    if (rc) return fail_msg(msg, msglen, rc, "cannot read the file");
    rc = lx_snapshot_read_buf(m.data, m.len, out, info, msg, msglen);
    jnl_unmap(&m);
    return rc;
}
