/* Index storage. Format "rbfs-index-1": the magic line, then one record per
 * entry in walk order (a directory before its contents, names sorted), then
 * a zero byte and the entry count. A record is: kind (byte), root, path,
 * mode, uid, gid, size, inode, mtime s/ns, ctime s/ns, flags (byte), then
 * by kind: regular file: 32-byte SHA-256 when it has content, the extent
 * count and offset/length pairs when sparse; symlink: target; hard link:
 * root and path of the file; device: rdev; last the xattr bytes. Integers
 * are LEB128 varints (seconds zigzag-encoded), strings a varint length, the
 * bytes and a NUL so that paths can be used in place after loading.
 * Entries of kind 0 (vanished during the walk) are not stored. */
#include "fs_index.h"

#include <stdlib.h>
#include <string.h>

static const char magic[] = "rbfs-index-1\n";

rb_fs_entry *rb_fs_index_append(rb_fs_index *ix)
{
    if (ix->count == ix->n_chunks * RB_FS_CHUNK) {
        rb_fs_entry **nc = realloc(ix->chunks, (ix->n_chunks + 1) * sizeof *nc);
        if (!nc)
            return NULL;
        ix->chunks = nc;
        nc[ix->n_chunks] = calloc(RB_FS_CHUNK, sizeof(rb_fs_entry));
        if (!nc[ix->n_chunks])
            return NULL;
        ix->n_chunks++;
    }
    rb_fs_entry *e = rb_fs_index_at(ix, ix->count++);
    memset(e, 0, sizeof *e);
    return e;
}

uint64_t rb_fs_path_hash_start(unsigned root)
{
    return 1469598103934665603ull ^ root;
}

uint64_t rb_fs_path_hash_add(uint64_t state, const char *s, size_t n)
{
    for (const unsigned char *p = (const unsigned char *)s, *end = p + n; p < end; p++)
        state = (state ^ *p) * 1099511628211ull;
    return state;
}

static uint64_t hash_final(uint64_t state)
{
    return state ^ (state >> 29);
}

static uint64_t path_hash(unsigned root, const char *path)
{
    return hash_final(rb_fs_path_hash_add(rb_fs_path_hash_start(root), path, strlen(path)));
}

/* A slot keeps the hash's high half beside the entry number, so a probe
 * past other paths costs no string comparison. */
#define SLOT_TAG(h) ((h) >> 32)

int rb_fs_index_build_lookup(rb_fs_index *ix)
{
    size_t n = 1024;
    while (n < ix->count * 2)
        n <<= 1;
    free(ix->slots);
    ix->slots = calloc(n, sizeof *ix->slots);
    if (!ix->slots)
        return RB_ENOMEM;
    ix->n_slots = n;
    for (size_t i = 0; i < ix->count; i++) {
        const rb_fs_entry *e = rb_fs_index_at(ix, i);
        uint64_t h = path_hash(e->root, e->path);
        size_t s = h & (n - 1);
        while (ix->slots[s])
            s = (s + 1) & (n - 1);
        ix->slots[s] = SLOT_TAG(h) << 32 | (uint64_t)(i + 1);
    }
    return 0;
}

ptrdiff_t rb_fs_index_find_hashed(const rb_fs_index *ix, unsigned root, const char *path,
                                  uint64_t state)
{
    if (!ix->slots)
        return -1;
    uint64_t h = hash_final(state), tag = SLOT_TAG(h);
    size_t mask = ix->n_slots - 1;
    for (size_t s = h & mask; ix->slots[s]; s = (s + 1) & mask) {
        if (ix->slots[s] >> 32 != tag)
            continue;
        size_t i = (size_t)(ix->slots[s] & 0xffffffffu) - 1;
        const rb_fs_entry *e = rb_fs_index_at(ix, i);
        if (e->root == root && !strcmp(e->path, path))
            return (ptrdiff_t)i;
    }
    return -1;
}

ptrdiff_t rb_fs_index_find(const rb_fs_index *ix, unsigned root, const char *path)
{
    return rb_fs_index_find_hashed(
        ix, root, path, rb_fs_path_hash_add(rb_fs_path_hash_start(root), path, strlen(path)));
}

void rb_fs_index_free(rb_fs_index *ix)
{
    for (size_t i = 0; i < ix->n_chunks; i++)
        free(ix->chunks[i]);
    free(ix->chunks);
    free(ix->slots);
    rb_fs_arena_free(&ix->arena);
    memset(ix, 0, sizeof *ix);
}

void rb_fs_blob_hex(const unsigned char bin[32], char hex[RB_BLOB_ID_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[bin[i] >> 4];
        hex[2 * i + 1] = digits[bin[i] & 15];
    }
    hex[RB_BLOB_ID_LEN] = '\0';
}

static int unhex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int rb_fs_blob_unhex(const char *hex, unsigned char bin[32])
{
    if (!hex || strlen(hex) != RB_BLOB_ID_LEN)
        return -1;
    for (int i = 0; i < 32; i++) {
        int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        bin[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* --- writing --- */

typedef struct out_buf {
    const rb_host_api *host;
    rb_blob_writer *w;
    unsigned char buf[1 << 18];
    size_t len;
    int err;
} out_buf;

static void flush(out_buf *o)
{
    if (o->len && !o->err)
        o->err = o->host->blob_write(o->w, o->buf, o->len);
    o->len = 0;
}

static void put(out_buf *o, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        if (o->len == sizeof o->buf)
            flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
    }
}

static void put_u(out_buf *o, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            b[n] |= 0x80;
        n++;
    } while (v);
    put(o, b, n);
}

static void put_s(out_buf *o, int64_t v)
{
    put_u(o, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static void put_str(out_buf *o, const char *s)
{
    size_t n = strlen(s);
    put_u(o, n);
    put(o, s, n + 1);
}

static void put_entry(out_buf *o, const rb_fs_entry *e)
{
    put(o, &e->kind, 1);
    put_u(o, e->root);
    put_str(o, e->path);
    put_u(o, e->mode);
    put_u(o, e->uid);
    put_u(o, e->gid);
    put_u(o, e->size);
    put_u(o, e->ino);
    put_s(o, e->mtime_s);
    put_u(o, e->mtime_ns);
    put_s(o, e->ctime_s);
    put_u(o, e->ctime_ns);
    put(o, &e->flags, 1);
    switch (e->kind) {
    case RB_FS_REG:
        if (e->flags & RB_FS_F_BLOB)
            put(o, e->blob, 32);
        if (e->flags & RB_FS_F_SPARSE) {
            put_u(o, e->n_extents);
            for (uint32_t i = 0; i < 2 * e->n_extents; i++)
                put_u(o, e->extents[i]);
        }
        break;
    case RB_FS_LNK:
        put_str(o, e->target);
        break;
    case RB_FS_HARDLINK:
        put_u(o, e->target_root);
        put_str(o, e->target);
        break;
    case RB_FS_CHR:
    case RB_FS_BLK:
        put_u(o, e->rdev);
        break;
    default:
        break;
    }
    put_u(o, e->xattrs_len);
    if (e->xattrs_len)
        put(o, e->xattrs, e->xattrs_len);
}

int rb_fs_index_store(const rb_host_api *host, rb_op *op, const rb_fs_index *ix,
                      char id_out[RB_BLOB_ID_SIZE])
{
    out_buf *o = malloc(sizeof *o);
    if (!o)
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory writing the index");
    o->host = host;
    o->len = 0;
    int rc = host->blob_writer_open(op, &o->w);
    if (rc) {
        free(o);
        return rc;
    }
    o->err = 0;
    put(o, magic, sizeof magic - 1);
    size_t stored = 0;
    for (size_t i = 0; i < ix->count; i++) {
        const rb_fs_entry *e = rb_fs_index_at(ix, i);
        if (e->kind) {
            put_entry(o, e);
            stored++;
        }
    }
    unsigned char end = 0;
    put(o, &end, 1);
    put_u(o, stored);
    flush(o);
    rc = o->err;
    if (rc)
        host->blob_writer_abort(o->w);
    else
        rc = host->blob_writer_commit(o->w, id_out);
    free(o);
    return rc;
}

/* --- reading --- */

typedef struct in_buf {
    const unsigned char *p;
    const unsigned char *end;
    int bad;
} in_buf;

static uint64_t get_u(in_buf *in)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in->p >= in->end) {
            in->bad = 1;
            return 0;
        }
        unsigned char b = *in->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    in->bad = 1;
    return 0;
}

static int64_t get_s(in_buf *in)
{
    uint64_t v = get_u(in);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static const unsigned char *get_bytes(in_buf *in, size_t n)
{
    if ((size_t)(in->end - in->p) < n) {
        in->bad = 1;
        return NULL;
    }
    const unsigned char *p = in->p;
    in->p += n;
    return p;
}

static const char *get_str(in_buf *in)
{
    uint64_t n = get_u(in);
    if (in->bad || n >= (uint64_t)(in->end - in->p)) {
        in->bad = 1;
        return NULL;
    }
    const char *s = (const char *)get_bytes(in, n + 1);
    if (s && s[n] != '\0')
        in->bad = 1;
    return in->bad ? NULL : s;
}

static int get_entry(in_buf *in, rb_fs_index *ix, int kind)
{
    rb_fs_entry *e = rb_fs_index_append(ix);
    if (!e)
        return RB_ENOMEM;
    e->kind = (uint8_t)kind;
    e->root = (uint16_t)get_u(in);
    e->path = get_str(in);
    e->mode = (uint32_t)get_u(in);
    e->uid = (uint32_t)get_u(in);
    e->gid = (uint32_t)get_u(in);
    e->size = get_u(in);
    e->ino = get_u(in);
    e->mtime_s = get_s(in);
    e->mtime_ns = (uint32_t)get_u(in);
    e->ctime_s = get_s(in);
    e->ctime_ns = (uint32_t)get_u(in);
    const unsigned char *flags = get_bytes(in, 1);
    e->flags = flags ? *flags : 0;
    switch (kind) {
    case RB_FS_REG:
        if (e->flags & RB_FS_F_BLOB) {
            const unsigned char *b = get_bytes(in, 32);
            if (b)
                memcpy(e->blob, b, 32);
        }
        if (e->flags & RB_FS_F_SPARSE) {
            uint64_t n = get_u(in);
            if (in->bad || n > (uint64_t)(in->end - in->p))
                return RB_ECORRUPT;
            uint64_t *ext = rb_fs_arena_alloc(&ix->arena, (size_t)(2 * n + 1) * sizeof *ext);
            if (!ext)
                return RB_ENOMEM;
            for (uint64_t i = 0; i < 2 * n; i++)
                ext[i] = get_u(in);
            e->extents = ext;
            e->n_extents = (uint32_t)n;
        }
        break;
    case RB_FS_LNK:
        e->target = get_str(in);
        break;
    case RB_FS_HARDLINK:
        e->target_root = (uint16_t)get_u(in);
        e->target = get_str(in);
        break;
    case RB_FS_CHR:
    case RB_FS_BLK:
        e->rdev = get_u(in);
        break;
    case RB_FS_DIR:
    case RB_FS_FIFO:
        break;
    default:
        return RB_ECORRUPT;
    }
    uint64_t xl = get_u(in);
    if (xl) {
        e->xattrs = get_bytes(in, xl);
        e->xattrs_len = (uint32_t)xl;
    }
    return in->bad ? RB_ECORRUPT : 0;
}

int rb_fs_index_load(const rb_host_api *host, rb_op *op, const char *id, rb_fs_index *ix)
{
    memset(ix, 0, sizeof *ix);
    int64_t size = host->blob_size(op, id);
    if (size < 0)
        return (int)size;
    unsigned char *buf = malloc((size_t)size + 1);
    if (!buf)
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory loading index %s",
                               id);
    if (rb_fs_arena_adopt_buffer(&ix->arena, buf)) {
        free(buf);
        return host->error_set(RB_ENOMEM, RB_ERRCLASS_NOMEMORY, "out of memory loading index %s",
                               id);
    }
    rb_blob_reader *r = NULL;
    int rc = host->blob_reader_open(op, id, &r);
    if (rc)
        return rc;
    int64_t got = 0;
    while (got < size) {
        int64_t n = host->blob_read(r, buf + got, (size_t)(size - got));
        if (n < 0) {
            host->blob_reader_close(r);
            return (int)n;
        }
        if (n == 0)
            break;
        got += n;
    }
    unsigned char probe;
    int64_t tail = got == size ? host->blob_read(r, &probe, 1) : 0;
    host->blob_reader_close(r);
    if (tail < 0)
        return (int)tail;
    in_buf in = {buf, buf + got, 0};
    const unsigned char *m = get_bytes(&in, sizeof magic - 1);
    if (got != size || !m || memcmp(m, magic, sizeof magic - 1))
        return host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE,
                               "index blob %s is not an rbfs-index-1 index", id);
    for (;;) {
        const unsigned char *k = get_bytes(&in, 1);
        if (!k)
            break;
        if (*k == 0) {
            if (get_u(&in) != ix->count || in.bad)
                in.bad = 1;
            break;
        }
        rc = get_entry(&in, ix, *k);
        if (rc == RB_ENOMEM)
            return host->error_set(rc, RB_ERRCLASS_NOMEMORY, "out of memory loading index %s", id);
        if (rc)
            break;
    }
    if (in.bad || rc)
        return host->error_set(RB_ECORRUPT, RB_ERRCLASS_STORE, "index blob %s is damaged", id);
    rc = rb_fs_index_build_lookup(ix);
    if (rc)
        return host->error_set(rc, RB_ERRCLASS_NOMEMORY, "out of memory loading index %s", id);
    return 0;
}
