/* SPDX-License-Identifier: Apache-2.0 */
/* A snapshot of the index in a file beside the database, so a server
 * starts without reading every incident again: the dictionaries and the
 * sorted columns as they are in memory, stamped with the store's data
 * version and checked against it when read. */
/* (madvise's MADV_HUGEPAGE, Linux's) */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "index_int.h"

static const char magic[8] = {'H', 'T', 'I', 'D', 'X', 0, 0, 4};
static const char trailer[8] = {'H', 'T', 'I', 'D', 'X', 'E', 'N', 'D'};
#define BOM 0x01020304u

/* ---- writing ---- */

typedef struct sink {
    FILE *f;
    bool ok;
} sink;

static void put(sink *o, const void *p, size_t n) {
    if (o->ok && n && fwrite(p, 1, n, o->f) != n) {
        o->ok = false;
    }
}

static void put_u64(sink *o, uint64_t v) {
    put(o, &v, sizeof v);
}

static void put_str(sink *o, const char *s) {
    size_t n = strlen(s);
    uint16_t len = (uint16_t)(n > 65535 ? 65535 : n);
    put(o, &len, sizeof len);
    put(o, s, len);
}

/* A column of @n rows kept narrow (@narrow, @nsize bytes a row) or whole
 * (@wide, @wsize): its width, then its rows. */
static void put_either(sink *o, const void *narrow, size_t nsize,
                       const void *wide, size_t wsize, size_t n) {
    uint8_t width = (uint8_t)(narrow ? nsize : wsize);
    put(o, &width, 1);
    put(o, narrow ? narrow : wide, n * width);
}

/* A base's columns as they are in memory, packed or whole (a byte says
 * which), then its by-id order. */
static void put_base(sink *o, const base *b) {
    const cols *c = &b->c;
    size_t n = c->n, nb = (n + 63) / 64;
    uint8_t packed = c->x == NULL;
    put(o, &packed, 1);
    if (packed) {
        put(o, c->ox, n * 2);
        put(o, c->oy, n * 2);
        put(o, c->bo, nb * 8);
        put(o, c->bw, nb * 4);
        put_u64(o, c->nwide);
        put(o, c->whi, c->nwide * 64 * 4);
    } else {
        put(o, c->x, n * 4);
        put(o, c->y, n * 4);
    }
    put(o, c->t, n * 4);
    put_either(o, c->cat8, 1, c->cat, 2, n);
    put(o, c->flags, n);
    put_either(o, c->grid2, 2, c->grid, 3, n);
    packed = c->street == NULL;
    put(o, &packed, 1);
    if (packed) {
        put_u64(o, c->sids ? c->nsids : UINT64_MAX);
        put(o, c->sids, c->sids ? c->nsids * 4 : 0);
        put(o, c->street3, n * 3);
    } else {
        put(o, c->street, n * 4);
    }
    packed = c->id == NULL;
    put(o, &packed, 1);
    if (packed) {
        put(o, c->ib, nb * 4);
        put(o, c->id3, n * 3);
    } else {
        put(o, c->id, n * 4);
    }
    put_either(o, c->dept8, 1, c->dept, 2, n);
    put(o, c->extra, n);
    put(o, c->close, n * 2);
    put(o, c->arrive, n * 2);
    put_either(o, b->by_id3, 3, b->by_id, 4, n);
}

/* The live rows of @ix as one base: @ix's own when it has no changes. */
static ht_status compact(const ht_index *ix, base **b, bool *own,
                         ht_error *err) {
    if (ix->delta.n == 0 && ix->ndead == 0) {
        *b = ix->b;
        *own = false;
        return HT_OK;
    }
    cols raw = {0};
    const cols *c = &ix->b->c;
    ht_status st = ht__index_cols_reserve(&raw, c->n + ix->delta.n + 1, err);
    for (size_t i = 0; st == HT_OK && i < c->n; i++) {
        if (!(ix->dead[i / 64] >> (i % 64) & 1)) {
            ht__index_cols_copy_row(&raw, raw.n++, c, i);
        }
    }
    for (size_t i = 0; st == HT_OK && i < ix->delta.n; i++) {
        ht__index_cols_copy_row(&raw, raw.n++, &ix->delta, i);
    }
    if (st == HT_OK) {
        st = ht__index_base_build(&raw, b, err);
    }
    ht__index_cols_free(&raw);
    *own = true;
    return st;
}

ht_status ht_index_save(const ht_index *ix, const char *path,
                        int64_t data_version, ht_error *err) {
    return ht_index_save_stamped(ix, path, 0, data_version, err);
}

ht_status ht_index_save_stamped(const ht_index *ix, const char *path,
                                int64_t src_id, int64_t data_version,
                                ht_error *err) {
    base *b;
    bool own;
    ht_status st = compact(ix, &b, &own, err);
    if (st != HT_OK) {
        return st;
    }
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len);
    if (!tmp) {
        if (own) {
            ht__index_base_unref(b);
        }
        return ht_error_set(err, HT_ENOMEM, "out of memory");
    }
    snprintf(tmp, len, "%s.tmp", path);
    sink o = {fopen(tmp, "wb"), true};
    if (!o.f) {
        st = ht_error_set(err, HT_EIO, "%s: cannot write", tmp);
    } else {
        const dict *d = ix->d;
        uint32_t bom = BOM;
        put(&o, magic, sizeof magic);
        put(&o, &bom, sizeof bom);
        put(&o, &src_id, sizeof src_id);
        put(&o, &data_version, sizeof data_version);
        put_u64(&o, d->ncats);
        put_u64(&o, d->ngrids);
        put_u64(&o, d->ndepts);
        put_u64(&o, b->c.n);
        for (size_t k = 0; k < d->ncats; k++) {
            put_str(&o, d->cats[k].code);
            put(&o, &d->cats[k].major, sizeof d->cats[k].major);
        }
        for (size_t k = 0; k < d->ngrids; k++) {
            const grid_entry *g = &d->grids[k];
            uint8_t level = (uint8_t)g->level;
            put_str(&o, g->code);
            put(&o, &g->parent, 4);
            put(&o, &level, 1);
            put(&o, &g->street, 4);
            put(&o, &g->community, 4);
        }
        for (size_t k = 0; k < d->ndepts; k++) {
            put_str(&o, d->depts[k]);
        }
        put(&o, d->due, (d->ncats ? d->ncats : 1) * sizeof *d->due);
        int32_t shift = b->shift;
        put(&o, &shift, 4);
        put(&o, &b->cx0, 4);
        put(&o, &b->cy0, 4);
        put(&o, &b->nx, 4);
        put(&o, &b->ny, 4);
        put(&o, b->start, ((size_t)b->nx * b->ny + 1) * 4);
        put_base(&o, b);
        put(&o, trailer, sizeof trailer);
        bool flushed = fflush(o.f) == 0 && fsync(fileno(o.f)) == 0;
        bool closed = fclose(o.f) == 0;
        if (!o.ok || !flushed || !closed) {
            st = ht_error_set(err, HT_EIO, "%s: cannot write", tmp);
        } else if (rename(tmp, path) != 0) {
            st =
                ht_error_set(err, HT_EIO, "%s: cannot rename to %s", tmp, path);
        }
        if (st != HT_OK) {
            unlink(tmp);
        }
    }
    free(tmp);
    if (own) {
        ht__index_base_unref(b);
    }
    return st;
}

/* ---- reading ---- */

typedef struct source {
    FILE *f;
    bool ok;
} source;

static void get(source *i, void *p, size_t n) {
    if (i->ok && n && fread(p, 1, n, i->f) != n) {
        i->ok = false;
    }
}

static uint64_t get_u64(source *i) {
    uint64_t v = 0;
    get(i, &v, sizeof v);
    return v;
}

static char *get_str(source *i) {
    uint16_t len = 0;
    get(i, &len, sizeof len);
    char *s = i->ok ? malloc((size_t)len + 1) : NULL;
    if (!s) {
        i->ok = false;
        return NULL;
    }
    get(i, s, len);
    s[len] = '\0';
    return s;
}

/* Counts beyond these are not a snapshot of ours. */
#define MAX_ROWS (1ull << 32)
#define MAX_DICT (1ull << 24)

/* A byte of every page of the columns read: on some virtual machines the
 * first read of a page the kernel filled costs the reader more than the
 * page's copy did (a walk over ten million rows took 60 ms more the first
 * time), so that the first request would pay it. */
static void touch_pages(const base *b) {
    const cols *c = &b->c;
    const void *arrays[] = {
        c->x,      c->y,     c->ox,    c->oy,    c->t,      c->cat,
        c->cat8,   c->flags, c->grid,  c->grid2, c->street, c->street3,
        c->id,     c->id3,   c->dept,  c->dept8, c->extra,  c->close,
        c->arrive, b->by_id, b->by_id3};
    const size_t size[] = {4, 4, 2, 2, 4, 2, 1, 1, 3, 2, 4,
                           3, 4, 3, 2, 1, 1, 2, 2, 4, 3};
    volatile unsigned char seen = 0;
    for (size_t k = 0; k < sizeof arrays / sizeof *arrays; k++) {
        const unsigned char *p = arrays[k];
        for (size_t at = 0; p && at < c->n * size[k]; at += 4096) {
            seen ^= p[at];
        }
    }
    (void)seen;
}

/* Huge pages, where the system gives them on request: a city's columns
 * are hundreds of MB, and every 4 kB page of them faulted when read in. */
#define HUGE_PAGE ((size_t)2 << 20)

/* An array of @n elements of @size bytes (and @pad more) read whole; NULL
 * (and @i not ok) when it cannot be. A large one's whole huge pages are
 * asked for as such (not its tail: no memory is added). */
static void *get_array(source *i, size_t n, size_t size, size_t pad) {
    size_t bytes = n * size + pad + 1;
    void *p = NULL;
    if (i->ok && bytes >= 4 * HUGE_PAGE) {
        p = aligned_alloc(HUGE_PAGE,
                          (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE);
#ifdef MADV_HUGEPAGE
        if (p) {
            (void)madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
        }
#endif
    } else if (i->ok) {
        p = malloc(bytes);
    }
    i->ok = i->ok && p;
    get(i, p, n * size);
    return p;
}

/* What put_either wrote into *@narrow or *@wide (the other NULL); a
 * width neither of theirs is not ok. (Arrays of 3 bytes a row have a
 * byte more: a row is read as 4.) */
static void get_either(source *i, size_t n, void **narrow, size_t nsize,
                       void **wide, size_t wsize) {
    uint8_t width = 0;
    get(i, &width, 1);
    i->ok = i->ok && (width == nsize || width == wsize);
    if (i->ok) {
        *(width == nsize ? narrow : wide) = get_array(i, n, width, width == 3);
    }
}

/* The columns and by-id order put_base wrote, of @n rows. */
static void get_base(source *i, base *b, size_t n) {
    cols *c = &b->c;
    size_t nb = (n + 63) / 64;
    c->n = c->cap = n;
    uint8_t packed = 2;
    get(i, &packed, 1);
    i->ok = i->ok && packed <= 1;
    if (packed == 1) {
        c->ox = get_array(i, n, 2, 0);
        c->oy = get_array(i, n, 2, 0);
        c->bo = get_array(i, nb, 8, 0);
        c->bw = get_array(i, nb, 4, 0);
        uint64_t nwide = get_u64(i);
        i->ok = i->ok && nwide <= nb;
        c->nwide = i->ok ? (size_t)nwide : 0;
        c->whi = get_array(i, c->nwide * 64, 4, 0);
    } else {
        c->x = get_array(i, n, 4, 0);
        c->y = get_array(i, n, 4, 0);
    }
    c->t = get_array(i, n, 4, 0);
    get_either(i, n, (void **)&c->cat8, 1, (void **)&c->cat, 2);
    c->flags = get_array(i, n, 1, 0);
    get_either(i, n, (void **)&c->grid2, 2, (void **)&c->grid, 3);
    packed = 2;
    get(i, &packed, 1);
    i->ok = i->ok && packed <= 1;
    if (packed == 1) {
        uint64_t nsids = get_u64(i);
        i->ok = i->ok && (nsids == UINT64_MAX || nsids < NONE24);
        if (i->ok && nsids != UINT64_MAX) {
            c->nsids = (size_t)nsids;
            c->sids = get_array(i, c->nsids, 4, 0);
        }
        c->street3 = get_array(i, n, 3, 1);
    } else {
        c->street = get_array(i, n, 4, 0);
    }
    packed = 2;
    get(i, &packed, 1);
    i->ok = i->ok && packed <= 1;
    if (packed == 1) {
        c->ib = get_array(i, nb, 4, 0);
        c->id3 = get_array(i, n, 3, 1);
    } else {
        c->id = get_array(i, n, 4, 0);
    }
    get_either(i, n, (void **)&c->dept8, 1, (void **)&c->dept, 2);
    c->extra = get_array(i, n, 1, 0);
    c->close = get_array(i, n, 2, 0);
    c->arrive = get_array(i, n, 2, 0);
    get_either(i, n, (void **)&b->by_id3, 3, (void **)&b->by_id, 4);
    i->ok = i->ok && (!b->by_id3 || n < NONE24);
}

ht_status ht_index_read(const char *path, int64_t data_version, ht_index **out,
                        ht_error *err) {
    int64_t v = data_version;
    return ht_index_read_stamped(path, 0, &v, out, err);
}

ht_status ht_index_read_stamped(const char *path, int64_t src_id,
                                int64_t *data_version, ht_index **out,
                                ht_error *err) {
    *out = NULL;
    source i = {fopen(path, "rb"), true};
    if (!i.f) {
        return ht_error_set(err, HT_ENOTFOUND, "%s: no snapshot", path);
    }
    char m[8];
    uint32_t bom = 0;
    int64_t version = -1, from = -1;
    get(&i, m, sizeof m);
    get(&i, &bom, sizeof bom);
    get(&i, &from, sizeof from);
    get(&i, &version, sizeof version);
    if (!i.ok || memcmp(m, magic, sizeof m) != 0 || bom != BOM) {
        fclose(i.f);
        return ht_error_set(err, HT_ENOTFOUND, "%s: not an index snapshot",
                            path);
    }
    if (from != src_id) {
        fclose(i.f);
        return ht_error_set(err, HT_ENOTFOUND, "%s: of another database", path);
    }
    /* A file's must be the store's; a database server's may be older
     * (the change log brings it up to date). */
    if (src_id == 0 && version != *data_version) {
        fclose(i.f);
        return ht_error_set(err, HT_ENOTFOUND,
                            "%s: of data version %lld, the database is at "
                            "%lld",
                            path, (long long)version, (long long)*data_version);
    }
    *data_version = version;
    uint64_t ncats = get_u64(&i), ngrids = get_u64(&i), ndepts = get_u64(&i),
             n = get_u64(&i);
    ht_index *ix = calloc(1, sizeof *ix);
    dict *d = calloc(1, sizeof *d);
    base *b = calloc(1, sizeof *b);
    if (!ix || !d || !b) {
        i.ok = false;
    }
    if (i.ok && (ncats > MAX_DICT || ngrids >= NONE24 || ndepts > MAX_DICT ||
                 n >= MAX_ROWS)) {
        i.ok = false;
    }
    if (i.ok) {
        atomic_init(&ix->refs, 1);
        atomic_init(&d->refs, 1);
        atomic_init(&b->refs, 1);
        b->serial = ht__index_next_serial();
        ix->d = d;
        ix->b = b;
        d->cats = calloc(ncats + 1, sizeof *d->cats);
        d->grids = calloc(ngrids + 1, sizeof *d->grids);
        d->depts = calloc(ndepts + 1, sizeof *d->depts);
        d->due = malloc((ncats ? ncats : 1) * sizeof *d->due);
        i.ok = d->cats && d->grids && d->depts && d->due;
    }
    for (size_t k = 0; i.ok && k < ncats; k++) {
        d->cats[k].code = get_str(&i);
        d->ncats = k + 1;
        get(&i, &d->cats[k].major, sizeof d->cats[k].major);
        i.ok = i.ok && d->cats[k].major < ncats;
    }
    for (size_t k = 0; i.ok && k < ngrids; k++) {
        grid_entry *g = &d->grids[k];
        uint8_t level = 0;
        g->code = get_str(&i);
        d->ngrids = k + 1;
        get(&i, &g->parent, 4);
        get(&i, &level, 1);
        get(&i, &g->street, 4);
        get(&i, &g->community, 4);
        g->level = (ht_level)level;
        i.ok = i.ok && level < HT_LEVEL_COUNT &&
               (g->parent == NONE32 || g->parent < ngrids) &&
               (g->street == NONE32 || g->street < ngrids) &&
               (g->community == NONE32 || g->community < ngrids);
    }
    for (size_t k = 0; i.ok && k < ndepts; k++) {
        d->depts[k] = get_str(&i);
        d->ndepts = k + 1;
    }
    d->cap_cats = d->ncats;
    d->cap_grids = d->ngrids;
    d->cap_depts = d->ndepts;
    if (i.ok) {
        get(&i, d->due, (ncats ? ncats : 1) * sizeof *d->due);
    }
    int32_t shift = 0;
    get(&i, &shift, 4);
    get(&i, &b->cx0, 4);
    get(&i, &b->cy0, 4);
    get(&i, &b->nx, 4);
    get(&i, &b->ny, 4);
    b->shift = shift;
    size_t ncell = (size_t)b->nx * b->ny;
    i.ok = i.ok && shift >= 0 && shift < 32 && ncell <= (1u << 22) && ncell > 0;
    if (i.ok) {
        b->start = malloc((ncell + 1) * sizeof *b->start);
        i.ok = b->start != NULL;
    }
    if (i.ok) {
        get(&i, b->start, (ncell + 1) * 4);
        get_base(&i, b, (size_t)n);
    }
    char end[8];
    get(&i, end, sizeof end);
    i.ok = i.ok && memcmp(end, trailer, sizeof end) == 0 && fgetc(i.f) == EOF &&
           b->start[0] == 0 && b->start[ncell] == n;
    /* What indexes others must lie within them. */
    for (size_t k = 0; i.ok && k < ncell; k++) {
        i.ok = b->start[k] <= b->start[k + 1];
    }
    for (size_t k = 0; i.ok && k < n; k++) {
        const cols *c = &b->c;
        uint32_t di = ht__row_dept(c, k);
        i.ok = ht__row_cat(c, k) < ncats && (c->flags[k] & 3) >= 1 &&
               (c->flags[k] >> 2 & 7) < HT_SOURCE_COUNT &&
               (c->flags[k] >> 5) < HT_STATE_COUNT &&
               (ht__row_grid(c, k) == NONE32 || ht__row_grid(c, k) < ngrids) &&
               (di == NONE16 || di < ndepts) && ht__base_by_id(b, k) < n &&
               (!c->sids || ht__row_street3(c, k) == NONE24 ||
                ht__row_street3(c, k) < c->nsids);
    }
    for (size_t k = 0; i.ok && !b->c.x && k < (n + 63) / 64; k++) {
        i.ok = b->c.bw[k] == NONE32 || b->c.bw[k] < b->c.nwide;
    }
    fclose(i.f);
    if (i.ok) {
        ix->dead = malloc((n / 64 + 1) * sizeof *ix->dead);
        /* written now, not at the first walk: a fresh page costs its
         * fault there (on some machines a millisecond for a few) */
        if (ix->dead) {
            memset(ix->dead, 0, (n / 64 + 1) * sizeof *ix->dead);
        }
        /* (the rows' grids known to be the dictionary's) */
        i.ok = ix->dead != NULL && ht__index_extent(&b->c, b);
        touch_pages(b);
    }
    if (!i.ok) {
        if (ix && ix->d) {
            ht_index_unref(ix);
        } else {
            free(ix);
            free(b);
            free(d);
        }
        return ht_error_set(err, HT_ENOTFOUND,
                            "%s: a damaged or truncated snapshot", path);
    }
    *out = ix;
    return HT_OK;
}
