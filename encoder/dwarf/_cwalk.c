/*
 * The compiled twin of walk.py, and the type signatures that let the
 * encoder skip what earlier units already described.
 *
 * walk(...) fulfils the contract of dies.py exactly: the same DIEs, the
 * same fields, the same values.  Records live in C; `Unit[i]` builds the
 * tuple of record i on demand, so Python pays only for the DIEs it reads.
 * walk.py stays the reference: the tests run both on the same inputs.
 *
 * Unit.classify(seen) computes, for every type DIE, a 128-bit signature of
 * everything the encoder can read from it: its subtree's attributes and,
 * through references, the signatures of the types it reaches (cycles are
 * settled by colour refinement inside each strongly connected component, so
 * equal signatures mean bisimilar type graphs: types dedup merges anyway).
 * A type whose signature is in `seen` need not be converted again.
 *
 * Anything this file does not handle (DW_FORM_indirect, sparse abbreviation
 * codes) raises Fallback and the caller uses walk.py for that unit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_cwalk.h"


/* abbrev.py conversions */
enum { C_INT, C_STRP, C_LSTRP, C_STRX, C_REF, C_BOOL, C_ADDRX, C_LOCX, C_SIG, C_DIEREF,
       C_DIEREF_ABS, C_RNGX };


/* forms */
enum {
    FORM_addr = 0x01, FORM_block2 = 0x03, FORM_block4 = 0x04, FORM_data2 = 0x05,
    FORM_data4 = 0x06, FORM_data8 = 0x07, FORM_string = 0x08, FORM_block = 0x09,
    FORM_block1 = 0x0a, FORM_data1 = 0x0b, FORM_flag = 0x0c, FORM_sdata = 0x0d,
    FORM_strp = 0x0e, FORM_udata = 0x0f, FORM_ref_addr = 0x10, FORM_ref1 = 0x11,
    FORM_ref2 = 0x12, FORM_ref4 = 0x13, FORM_ref8 = 0x14, FORM_ref_udata = 0x15,
    FORM_indirect = 0x16, FORM_sec_offset = 0x17, FORM_exprloc = 0x18,
    FORM_flag_present = 0x19, FORM_strx = 0x1a, FORM_ref_sup4 = 0x1c, FORM_strp_sup = 0x1d,
    FORM_data16 = 0x1e, FORM_line_strp = 0x1f, FORM_ref_sig8 = 0x20,
    FORM_implicit_const = 0x21, FORM_loclistx = 0x22, FORM_rnglistx = 0x23,
    FORM_ref_sup8 = 0x24, FORM_strx1 = 0x25, FORM_strx2 = 0x26, FORM_strx3 = 0x27,
    FORM_strx4 = 0x28, FORM_addrx = 0x1b, FORM_addrx1 = 0x29, FORM_addrx2 = 0x2a,
    FORM_addrx3 = 0x2b, FORM_addrx4 = 0x2c,
};

#define JUMP 8
#define CTX_SKIP 3
#define AT_SIBLING 0x01

static PyObject *Malformed;     /* (message, unit-relative DIE position) */
static PyObject *Fallback;      /* use walk.py for this unit */
static PyObject *DieRefType, *TypeSigType;

/* A read cursor; `bad` is set when a LEB128 runs off the end. */
typedef struct {
    const uint8_t *d;
    Py_ssize_t end;
    Py_ssize_t pos;
    int bad;
} Cur;

static inline uint64_t rd_le(const uint8_t *p, int n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the widths forms have, in one load each */
    switch (n) {
    case 1: return p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    case 8: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
#endif
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A ULEB128 that does not fit 64 bits sets `bad` too: no real value needs
 * more, and walk.py, reading it exactly, finds it past any end. */
static inline uint64_t uleb(Cur *c)
{
    uint64_t v = 0;
    int shift = 0;
    while (c->pos < c->end) {
        uint8_t b = c->d[c->pos++];
        uint64_t part = b & 0x7f;
        if (shift < 64) {
            v |= part << shift;
            if (shift > 57 && (part >> (64 - shift)))
                c->bad = 1;
        } else if (part) {
            c->bad = 1;
        }
        shift += 7;
        if (!(b & 0x80))
            return c->bad ? 0 : v;
    }
    c->bad = 1;
    return 0;
}

static inline int64_t sleb(Cur *c)
{
    uint64_t v = 0;
    int shift = 0;
    while (c->pos < c->end) {
        uint8_t b = c->d[c->pos++];
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if ((b & 0x40) && shift < 64)
                v |= ~(uint64_t)0 << shift;
            return (int64_t)v;
        }
    }
    c->bad = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Compiled abbreviation tables                                              */

typedef struct {
    int32_t at, form, field, conv;   /* field -1: not kept */
    int64_t implicit;
} Spec;

typedef struct {
    int32_t tag, kids, defined;
    int32_t act[4];
    int32_t fixed;          /* total size if every form is fixed, else -1 */
    int32_t sib_off, sib_size;
    int32_t const_form;     /* declared form of DW_AT_const_value, -1 if none */
    int32_t nspec;
    Spec *spec;
    uint8_t *size;          /* per spec: fixed size, or 0xff variable */
} Plan;

typedef struct {
    int32_t ncodes;
    Plan *plans;
    int version, address_size, offset_size;
} Table;

static int form_fixed_size(int form, int version, int asz, int osz)
{
    switch (form) {
    case FORM_data1: case FORM_ref1: case FORM_flag: case FORM_strx1: case FORM_addrx1:
        return 1;
    case FORM_data2: case FORM_ref2: case FORM_strx2: case FORM_addrx2: return 2;
    case FORM_strx3: case FORM_addrx3: return 3;
    case FORM_data4: case FORM_ref4: case FORM_strx4: case FORM_addrx4: case FORM_ref_sup4:
        return 4;
    case FORM_data8: case FORM_ref8: case FORM_ref_sig8: case FORM_ref_sup8: return 8;
    case FORM_data16: return 16;
    case FORM_flag_present: case FORM_implicit_const: return 0;
    case FORM_addr: return asz;
    case FORM_strp: case FORM_line_strp: case FORM_sec_offset: case FORM_strp_sup:
        return osz;
    case FORM_ref_addr: return version <= 2 ? asz : osz;
    default: return -1;
    }
}

static void table_free(PyObject *cap)
{
    Table *t = PyCapsule_GetPointer(cap, "cwalk.table");
    if (!t)
        return;
    for (int i = 0; i < t->ncodes; i++) {
        PyMem_Free(t->plans[i].spec);
        PyMem_Free(t->plans[i].size);
    }
    PyMem_Free(t->plans);
    PyMem_Free(t);
}

static long long as_ll(PyObject *o, int *err)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred())
        *err = 1;
    return v;
}

/* Actions per tag (dies.actions_for), asked once per tag. */
static int8_t tag_act[0x10000][4];
static uint8_t tag_known[0x10000];
static PyObject *actions_for;

static int actions(int tag, int32_t out[4])
{
    if (tag < 0 || tag >= 0x10000) return -1;
    if (!tag_known[tag]) {
        PyObject *r = PyObject_CallFunction(actions_for, "i", tag);
        if (!r) return -1;
        int err = 0;
        for (int k = 0; k < 4; k++)
            tag_act[tag][k] = (int8_t)as_ll(PyTuple_GetItem(r, k), &err);
        Py_DECREF(r);
        if (err) return -1;
        tag_known[tag] = 1;
    }
    for (int k = 0; k < 4; k++) out[k] = tag_act[tag][k];
    return 0;
}

static int fallback(const char *why)
{
    PyErr_SetString(Fallback, why);
    return -1;
}

/* compile_abbrev(section_span, offset, version, address_size, offset_size,
 *                attr_field (bytes: field+1 per attribute < 0x80, 0 none),
 *                conv (bytes: [field * 64 + form]), flag_fields (bytes per field),
 *                actions_for) -> capsule
 * Anything irregular (bad table, unusual forms or codes) raises Fallback:
 * walk.py then reads the unit and reports the problem precisely. */
static PyObject *compile_abbrev(PyObject *self, PyObject *args)
{
    PyObject *span, *afo;
    Py_ssize_t offset;
    int version, asz, osz;
    Py_buffer af, cv, ff;
    if (!PyArg_ParseTuple(args, "Oniiiy*y*y*O", &span, &offset, &version, &asz, &osz,
                          &af, &cv, &ff, &afo))
        return NULL;
    actions_for = afo;   /* borrowed for the call; cached results outlive it */
    Py_buffer sec;
    Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GetItem(span, 1));
    Py_ssize_t size = PyLong_AsSsize_t(PyTuple_GetItem(span, 2));
    PyObject *result = NULL;
    Table *t = NULL;
    int held = 0;
    if (PyErr_Occurred() || PyObject_GetBuffer(PyTuple_GetItem(span, 0), &sec, PyBUF_SIMPLE) < 0)
        goto out;
    held = 1;
    if (offset < 0 || offset >= size || start + size > sec.len) { fallback("abbrev offset"); goto out; }
    Cur c = { (const uint8_t *)sec.buf + start, size, offset, 0 };
    /* pass 1: count codes */
    Py_ssize_t n = 0;
    uint64_t maxcode = 0;
    Cur c1 = c;
    for (;;) {
        uint64_t code = uleb(&c1);
        if (c1.bad) { fallback("abbrev"); goto out; }
        if (!code) break;
        if (code > maxcode) maxcode = code;
        n++;
        uleb(&c1);
        if (c1.pos >= c1.end) { fallback("abbrev"); goto out; }
        c1.pos++;
        for (;;) {
            uint64_t at = uleb(&c1), form = uleb(&c1);
            if (c1.bad) { fallback("abbrev"); goto out; }
            if (!at && !form) break;
            if (form == FORM_implicit_const) sleb(&c1);
        }
    }
    if (maxcode > (uint64_t)(4 * n + 64) || maxcode > (1u << 20)) { fallback("sparse codes"); goto out; }
    t = PyMem_Calloc(1, sizeof(Table));
    t->ncodes = (int32_t)maxcode + 1;
    t->plans = PyMem_Calloc(t->ncodes, sizeof(Plan));
    t->version = version; t->address_size = asz; t->offset_size = osz;
    for (;;) {
        uint64_t code = uleb(&c);
        if (!code) break;
        Plan *p = &t->plans[code];
        if (p->defined) { fallback("code defined twice"); goto out; }
        p->defined = 1;
        uint64_t tag = uleb(&c);
        int kids = c.d[c.pos++];
        if (kids > 1 || tag == 0 || tag >= 0x10000) { fallback("abbrev"); goto out; }
        p->tag = (int32_t)tag;
        p->kids = kids;
        if (actions((int)tag, p->act) < 0) goto out;
        /* count specs */
        Cur c2 = c;
        int32_t ns = 0;
        for (;;) {
            uint64_t at = uleb(&c2), form = uleb(&c2);
            if (!at && !form) break;
            if (form == FORM_implicit_const) sleb(&c2);
            ns++;
        }
        p->nspec = ns;
        p->spec = PyMem_Calloc(ns ? ns : 1, sizeof(Spec));
        p->size = PyMem_Calloc(ns ? ns : 1, 1);
        p->const_form = -1;
        p->sib_off = -1;
        int all_fixed = 1, off = 0;
        for (int32_t s = 0; s < ns; s++) {
            uint64_t at = uleb(&c), form = uleb(&c);
            Spec *q = &p->spec[s];
            q->at = (int32_t)(at < 0x7fffffff ? at : 0x7fffffff);
            q->form = (int32_t)form;
            q->implicit = form == FORM_implicit_const ? sleb(&c) : 0;
            if (form >= 64 || form == FORM_indirect) { fallback("form"); goto out; }
            int sz = form_fixed_size((int)form, version, asz, osz);
            if (sz < 0 && !(form == FORM_udata || form == FORM_ref_udata || form == FORM_strx ||
                            form == FORM_addrx || form == FORM_loclistx || form == FORM_rnglistx ||
                            form == FORM_sdata || form == FORM_string || form == FORM_block ||
                            form == FORM_exprloc || form == FORM_block1 || form == FORM_block2 ||
                            form == FORM_block4)) {
                fallback("form"); goto out;
            }
            if (form == FORM_ref_sup4 || form == FORM_ref_sup8 || form == FORM_strp_sup) {
                fallback("supplementary form"); goto out;
            }
            if (at == 0x76 || at == 0x2130) { fallback("split DWARF"); goto out; }
            q->field = at < (uint64_t)af.len ? ((const uint8_t *)af.buf)[at] - 1 : -1;
            if (q->field >= 0 && ((const uint8_t *)cv.buf)[q->field * 64 + form] == 0xff)
                q->field = -1;               /* a form of the wrong class: as if absent */
            if (q->field >= 0) {
                q->conv = ((const uint8_t *)cv.buf)[q->field * 64 + form];
                if (q->field == F_CV) p->const_form = (int32_t)form;
                if (form == FORM_implicit_const && ((const uint8_t *)ff.buf)[q->field])
                    q->conv = -2;            /* bool(implicit) */
            }
            if (at == AT_SIBLING && all_fixed && p->sib_off < 0 &&
                (form == FORM_ref1 || form == FORM_ref2 || form == FORM_ref4 ||
                 form == FORM_ref8)) {
                p->sib_off = off;
                p->sib_size = sz;
            }
            if (sz < 0) {
                all_fixed = 0;
                p->size[s] = 0xff;
            } else if (form == FORM_strx3 || form == FORM_addrx3) {
                /* 3 bytes, but (as in abbrev.py) not part of a fixed run: a
                 * DW_AT_sibling after it is read, not located */
                all_fixed = 0;
                p->size[s] = 3;
            } else {
                off += sz;
                p->size[s] = (uint8_t)sz;
            }
        }
        uleb(&c); uleb(&c);     /* the 0, 0 closing the list */
        p->fixed = all_fixed ? off : -1;
    }
    result = PyCapsule_New(t, "cwalk.table", table_free);
    if (result) t = NULL;
out:
    if (t) {
        PyObject *tmp = PyCapsule_New(t, "cwalk.table", table_free);
        Py_XDECREF(tmp);
    }
    if (held) PyBuffer_Release(&sec);
    PyBuffer_Release(&af);
    PyBuffer_Release(&cv);
    PyBuffer_Release(&ff);
    return result;
}

/* specs(table, code) -> (tag, has_children, ((attr, form, implicit), ...)),
 * or None: for reading a unit DIE the general way. */
static PyObject *specs(PyObject *self, PyObject *args)
{
    PyObject *cap;
    unsigned long long code;
    if (!PyArg_ParseTuple(args, "OK", &cap, &code))
        return NULL;
    Table *t = PyCapsule_GetPointer(cap, "cwalk.table");
    if (!t) return NULL;
    if (code >= (unsigned long long)t->ncodes || !t->plans[code].defined) Py_RETURN_NONE;
    Plan *p = &t->plans[code];
    PyObject *l = PyTuple_New(p->nspec);
    for (int i = 0; i < p->nspec; i++) {
        Spec *q = &p->spec[i];
        PyObject *imp = q->form == FORM_implicit_const ? PyLong_FromLongLong(q->implicit)
                                                      : Py_NewRef(Py_None);
        PyTuple_SET_ITEM(l, i, Py_BuildValue("(iiN)", q->at, q->form, imp));
    }
    return Py_BuildValue("(iON)", p->tag, p->kids ? Py_True : Py_False, l);
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */



static PyTypeObject UnitType;
static int index_offsets(UnitObject *u);



static Val *new_val(UnitObject *u)
{
    if (u->nvals == u->vcap) {
        Py_ssize_t cap = u->vcap ? u->vcap * 2 : 1024;
        Val *v = PyMem_Realloc(u->vals, cap * sizeof(Val));
        if (!v) {
            PyErr_NoMemory();
            return NULL;
        }
        u->vals = v;
        u->vcap = cap;
    }
    return &u->vals[u->nvals++];
}

static int reserve(UnitObject *u, Py_ssize_t nrecs, Py_ssize_t nvals)
{
    u->recs = PyMem_Malloc(nrecs * sizeof(Rec));
    u->vals = PyMem_Malloc(nvals * sizeof(Val));
    if (!u->recs || !u->vals) { PyErr_NoMemory(); return -1; }
    u->cap = nrecs;
    u->vcap = nvals;
    return 0;
}

static int grow(UnitObject *u)
{
    if (u->n < u->cap)
        return 0;
    Py_ssize_t cap = u->cap ? u->cap * 2 : 256;
    Rec *r = PyMem_Realloc(u->recs, cap * sizeof(Rec));
    if (!r) {
        PyErr_NoMemory();
        return -1;
    }
    u->recs = r;
    u->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                  */

typedef struct {
    Span str, lstr, stroff, addr, loclists, rnglists;
    uint64_t so_base, addr_base, ll_base, rl_base;
    int osz, asz;
    uint64_t uoff;
    uint64_t str_size, lstr_size;
    const char *err;
} Ctx;

static int table_read(const Span *s, uint64_t at, int n, uint64_t *out)
{
    if (!s->buf || at > (uint64_t)s->size || (uint64_t)s->size - at < (uint64_t)n)
        return -1;
    *out = rd_le(s->buf + at, n);
    return 0;
}

/* Read one value into *v per the spec; returns 0, or -1 with ctx->err set. */
static int read_val(Cur *c, const Spec *q, int size, Ctx *x, Val *v, int keep)
{
    int form = q->form;
    uint64_t raw = 0;
    v->kind = V_NONE;
    if (form == FORM_implicit_const || form == FORM_flag_present) {
        if (!keep) return 0;
        if (form == FORM_flag_present) { v->kind = V_BOOL; v->v = 1; }
        else if (q->conv == -2) { v->kind = V_BOOL; v->v = q->implicit != 0; }
        else { v->kind = V_SINT; v->v = (uint64_t)q->implicit; }
        return 0;
    }
    switch (form) {
    case FORM_string: {
        const uint8_t *z = memchr(c->d + c->pos, 0, c->end - c->pos);
        if (!z) { x->err = "truncated or malformed DIE (unterminated DW_FORM_string)"; return -1; }
        if (keep) { v->kind = V_CSTR; v->v = c->pos; v->len = (uint32_t)(z - (c->d + c->pos)); }
        c->pos = z - c->d + 1;
        return 0;
    }
    case FORM_block: case FORM_exprloc: case FORM_block1: case FORM_block2: case FORM_block4: {
        uint64_t n;
        if (form == FORM_block || form == FORM_exprloc) {
            n = uleb(c);
            if (c->bad) { x->err = "truncated or malformed DIE (block past the end of the unit)"; return -1; }
        } else {
            int w = form == FORM_block1 ? 1 : form == FORM_block2 ? 2 : 4;
            if (c->end - c->pos < w) { x->err = "truncated or malformed DIE (block length)"; return -1; }
            n = rd_le(c->d + c->pos, w);
            c->pos += w;
        }
        if (n > (uint64_t)(c->end - c->pos)) { x->err = "truncated or malformed DIE (block past the end of the unit)"; return -1; }
        if (keep) { v->kind = V_BLOCK; v->v = c->pos; v->len = (uint32_t)n; }
        c->pos += n;
        return 0;
    }
    case FORM_sdata: {
        int64_t s = sleb(c);
        if (c->bad) { x->err = "truncated or malformed DIE (sdata)"; return -1; }
        if (keep) { v->kind = V_SINT; v->v = (uint64_t)s; }
        return 0;
    }
    case FORM_udata: case FORM_ref_udata: case FORM_strx: case FORM_addrx:
    case FORM_loclistx: case FORM_rnglistx:
        raw = uleb(c);
        if (c->bad) { x->err = "truncated or malformed DIE (ULEB128)"; return -1; }
        break;
    case FORM_data16:
        if (c->end - c->pos < 16) { x->err = "truncated or malformed DIE (data16)"; return -1; }
        if (keep) { v->kind = V_B16; v->v = c->pos; v->len = 16; }
        c->pos += 16;
        return 0;
    default:
        if (size < 0 || size > 8) { static char m[64]; snprintf(m, sizeof m, "unknown attribute form %#x (size %d)", form, size); x->err = m; return -1; }
        if (c->end - c->pos < size) { x->err = "truncated or malformed DIE (value past the end of the unit)"; return -1; }
        raw = rd_le(c->d + c->pos, size);
        c->pos += size;
    }
    if (!keep)
        return 0;
    switch (q->conv) {
    case C_INT: v->kind = V_UINT; v->v = raw; break;
    case C_STRP: case C_LSTRP: case C_STRX: {
        uint64_t off = raw;
        if (q->conv == C_STRX &&
            table_read(&x->stroff, x->so_base + raw * x->osz, x->osz, &off) < 0) {
            x->err = "string index outside .debug_str_offsets"; return -1;
        }
        /* checked now, so that building the record later cannot fail (a
         * section ending in NUL terminates every string in it) */
        const Span *sec = q->conv == C_LSTRP ? &x->lstr : &x->str;
        if (!sec->buf || off >= (uint64_t)sec->size ||
            (sec->buf[sec->size - 1] && !memchr(sec->buf + off, 0, sec->size - off))) {
            x->err = q->conv == C_LSTRP ? "string offset outside .debug_line_str or unterminated"
                                        : "string offset outside .debug_str or unterminated";
            return -1;
        }
        v->kind = q->conv == C_LSTRP ? V_LSTR : V_STR; v->v = off;
        break;
    }
    case C_REF: v->kind = V_REF; v->v = raw + x->uoff; break;
    case C_BOOL: v->kind = V_BOOL; v->v = raw != 0; break;
    case C_ADDRX: {
        uint64_t a;
        if (table_read(&x->addr, x->addr_base + raw * x->asz, x->asz, &a) < 0) {
            x->err = "address index outside .debug_addr"; return -1;
        }
        v->kind = V_UINT; v->v = a;
        break;
    }
    case C_LOCX: case C_RNGX: {
        const Span *s = q->conv == C_LOCX ? &x->loclists : &x->rnglists;
        uint64_t base = q->conv == C_LOCX ? x->ll_base : x->rl_base;
        uint64_t o;
        if (table_read(s, base + raw * x->osz, x->osz, &o) < 0) {
            x->err = q->conv == C_LOCX ? "location list index outside .debug_loclists"
                                       : "range list index outside .debug_rnglists";
            return -1;
        }
        v->kind = V_UINT; v->v = base + o;
        break;
    }
    case C_SIG: v->kind = V_SIG; v->v = raw; break;
    case C_DIEREF: v->kind = V_DIEREF; v->v = raw + x->uoff; break;
    case C_DIEREF_ABS: v->kind = V_DIEREF; v->v = raw; break;
    default: v->kind = V_UINT; v->v = raw;
    }
    return 0;
}

static int get_span(PyObject *o, Span *s, Py_buffer *keep, int *held)
{
    /* o: None or (buffer, start, size) */
    s->buf = NULL;
    s->size = 0;
    if (o == Py_None)
        return 0;
    PyObject *b = PyTuple_GetItem(o, 0);
    if (!b) return -1;
    Py_ssize_t start = PyLong_AsSsize_t(PyTuple_GetItem(o, 1));
    Py_ssize_t size = PyLong_AsSsize_t(PyTuple_GetItem(o, 2));
    if (PyErr_Occurred()) return -1;
    if (PyObject_GetBuffer(b, keep, PyBUF_SIMPLE) < 0)
        return -1;
    *held = 1;
    if (start < 0 || size < 0 || start + size > keep->len) {
        PyErr_SetString(PyExc_ValueError, "section span outside its buffer");
        return -1;
    }
    s->buf = (const uint8_t *)keep->buf + start;
    s->size = size;
    return 0;
}

static PyObject *malformed(const char *what, Py_ssize_t dpos)
{
    PyObject *v = Py_BuildValue("(sn)", what, dpos);
    if (v) {
        PyErr_SetObject(Malformed, v);
        Py_DECREF(v);
    }
    return NULL;
}

/* walk(data, pos, uoff, table, spans(str, lstr, stroff, addr, loclists, rnglists),
 *      bases(so, addr, ll, rl), osz, asz) -> Unit */
static PyObject *walk(PyObject *self, PyObject *args)
{
    PyObject *data_o, *table_o, *spans, *bases;
    Py_ssize_t pos0;
    unsigned long long uoff;
    int osz, asz;
    if (!PyArg_ParseTuple(args, "OnKOOOii", &data_o, &pos0, &uoff, &table_o, &spans, &bases,
                          &osz, &asz))
        return NULL;
    Table *tab = PyCapsule_GetPointer(table_o, "cwalk.table");
    if (!tab) return NULL;
    UnitObject *u = PyObject_New(UnitObject, &UnitType);
    if (!u) return NULL;
    u->recs = NULL; u->n = u->cap = 0; u->vals = NULL; u->nvals = u->vcap = 0; u->cache = NULL; u->sig = NULL; u->sigok = NULL;
    u->strcache = PyDict_New();
    u->owner = NULL; u->has_str = u->has_lstr = 0; u->uoff = uoff; u->visited = 1;
    u->first_int = -1;
    u->pass1_signed = 0;
    u->at = NULL; u->at_base = u->at_n = 0;
    memset(&u->data, 0, sizeof(Py_buffer));
    memset(&u->str, 0, sizeof(Py_buffer));
    memset(&u->lstr, 0, sizeof(Py_buffer));
    int held_data = 0;
    if (PyObject_GetBuffer(data_o, &u->data, PyBUF_SIMPLE) < 0) { Py_DECREF(u); return NULL; }
    held_data = 1;
    (void)held_data;
    Ctx x;
    memset(&x, 0, sizeof x);
    Py_buffer tmp[4];
    int held[4] = {0, 0, 0, 0};
    Span sstr, slstr;
    PyObject *result = NULL;
    if (get_span(PyTuple_GetItem(spans, 0), &sstr, &u->str, &u->has_str) < 0 ||
        get_span(PyTuple_GetItem(spans, 1), &slstr, &u->lstr, &u->has_lstr) < 0 ||
        get_span(PyTuple_GetItem(spans, 2), &x.stroff, &tmp[0], &held[0]) < 0 ||
        get_span(PyTuple_GetItem(spans, 3), &x.addr, &tmp[1], &held[1]) < 0 ||
        get_span(PyTuple_GetItem(spans, 4), &x.loclists, &tmp[2], &held[2]) < 0 ||
        get_span(PyTuple_GetItem(spans, 5), &x.rnglists, &tmp[3], &held[3]) < 0)
        goto out;
    if (u->has_str) { u->str.buf = (void *)sstr.buf; u->str.len = sstr.size; }
    if (u->has_lstr) { u->lstr.buf = (void *)slstr.buf; u->lstr.len = slstr.size; }
    x.str = sstr;
    x.lstr = slstr;
    if (!PyArg_ParseTuple(bases, "KKKK", &x.so_base, &x.addr_base, &x.ll_base, &x.rl_base))
        goto out;
    x.osz = osz; x.asz = asz; x.uoff = uoff;

    Cur c = { (const uint8_t *)u->data.buf, u->data.len, pos0, 0 };
    /* room for what a unit of this size keeps (a record per ~13 bytes of
     * vmlinux, ~3 values each), so that growing rarely copies: pages never
     * written are never faulted in */
    if (reserve(u, (u->data.len - pos0) / 8 + 256, (u->data.len - pos0) / 3 + 1024) < 0)
        goto out;
    /* stack of (parent, ctx) */
    Py_ssize_t scap = 64, sn = 0;
    int64_t *stack = PyMem_Malloc(scap * sizeof(int64_t));
    int ctx = 0;
    int32_t parent = -1;
    long visited = 1;
    Py_ssize_t dpos = pos0;
    int ended = 0;
    while (c.pos < c.end) {
        dpos = c.pos;
        uint64_t code = uleb(&c);
        if (c.bad) { malformed("truncated or malformed DIE (abbreviation code)", dpos); goto fail; }
        if (code == 0) {
            if (sn == 0) { ended = 1; break; }
            int64_t v = stack[--sn];
            ctx = (int)(v & 3);
            parent = (int32_t)(v >> 2);
            continue;
        }
        visited++;
        if (code >= (uint64_t)tab->ncodes || !tab->plans[code].defined) {
            PyErr_SetObject(Malformed, Py_BuildValue("(sn)", "undefined abbreviation code", dpos));
            goto fail;
        }
        Plan *p = &tab->plans[code];
        int act = p->act[ctx];
        if (act < 4) {
            if (grow(u) < 0) goto fail;
            Rec *r = &u->recs[u->n];
            r->off = uoff + dpos;
            r->tag = p->tag;
            r->parent = parent;
            r->first_child = r->last_child = r->next_sib = -1;
            r->vstart = (uint32_t)u->nvals;
            if (p->const_form >= 0) {
                Val *cf = new_val(u);
                if (!cf) goto fail;
                cf->kind = V_UINT; cf->field = F_CF; cf->len = 0; cf->v = (uint64_t)p->const_form;
            }
            for (int s = 0; s < p->nspec; s++) {
                const Spec *q = &p->spec[s];
                int sz = p->size[s] == 0xff ? -1 : p->size[s];
                if (q->field < 0) {
                    if (sz >= 0) {
                        if (c.end - c.pos < sz) { malformed("truncated or malformed DIE (value past the end of the unit)", dpos); goto fail; }
                        c.pos += sz;
                        continue;
                    }
                    Val dummy;
                    if (read_val(&c, q, sz, &x, &dummy, 0) < 0) { malformed(x.err, dpos); goto fail; }
                    continue;
                }
                Val *nv = new_val(u);
                if (!nv) goto fail;
                r = &u->recs[u->n];
                if (read_val(&c, q, sz, &x, nv, 1) < 0) { malformed(x.err, dpos); goto fail; }
                nv->field = (uint8_t)q->field;
            }
            r->nv = (uint32_t)(u->nvals - r->vstart);
            int32_t idx = (int32_t)u->n;
            u->n++;
            if (parent >= 0) {
                Rec *pr = &u->recs[parent];
                if (pr->last_child < 0) pr->first_child = idx;
                else u->recs[pr->last_child].next_sib = idx;
                pr->last_child = idx;
            }
            const Val *nv;
            if (r->tag == 0x24 && u->first_int < 0 && (nv = field_of(u->vals, r, F_NAME))) {
                /* remembered for the encoder: a unit's first `int` */
                const uint8_t *s = NULL; Py_ssize_t len = 0;
                if (nv->kind == V_CSTR) { s = c.d + nv->v; len = nv->len; }
                else if (nv->kind == V_STR && u->has_str && nv->v < (uint64_t)u->str.len) {
                    s = (const uint8_t *)u->str.buf + nv->v;
                    const uint8_t *z = memchr(s, 0, u->str.len - nv->v);
                    len = z ? z - s : -1;
                }
                if (s && len == 3 && memcmp(s, "int", 3) == 0) u->first_int = idx;
            }
            if (p->kids) {
                if (sn == scap) { scap *= 2; stack = PyMem_Realloc(stack, scap * sizeof(int64_t)); }
                stack[sn++] = ((int64_t)parent << 2) | ctx;
                ctx = act;
                parent = idx;
            }
            continue;
        }
        if (act >= JUMP) {
            if (act != JUMP) { PyErr_SetObject(Malformed, Py_BuildValue("(sn)", "undefined abbreviation code", dpos)); goto fail; }
            if (p->kids && p->sib_off >= 0) {
                if (c.end - c.pos < p->sib_off + p->sib_size) { malformed("truncated or malformed DIE (sibling)", dpos); goto fail; }
                uint64_t sib = rd_le(c.d + c.pos + p->sib_off, p->sib_size);
                if (sib <= (uint64_t)dpos || sib > (uint64_t)c.end) {
                    char msg[160];
                    snprintf(msg, sizeof msg, "DW_AT_sibling %#llx of the DIE at %#llx points outside its parent",
                             (unsigned long long)sib, (unsigned long long)(uoff + dpos));
                    PyErr_SetObject(Malformed, Py_BuildValue("(sn)", msg, dpos));
                    goto fail;
                }
                c.pos = sib;
                continue;
            }
        }
        if (p->fixed >= 0) {
            c.pos += p->fixed;
        } else {
            for (int s = 0; s < p->nspec; s++) {
                const Spec *q = &p->spec[s];
                int sz = p->size[s] == 0xff ? -1 : p->size[s];
                if (sz >= 0) { c.pos += sz; continue; }
                Val dummy;
                if (read_val(&c, q, sz, &x, &dummy, 0) < 0) { malformed(x.err, dpos); goto fail; }
            }
        }
        if (c.pos > c.end) { malformed("truncated or malformed DIE (attributes past the end of the unit)", dpos); goto fail; }
        if (p->kids) {
            if (sn == scap) { scap *= 2; stack = PyMem_Realloc(stack, scap * sizeof(int64_t)); }
            stack[sn++] = ((int64_t)parent << 2) | ctx;
            ctx = act < JUMP ? act - 4 : CTX_SKIP;
        }
    }
    if (!ended) {
        malformed("truncated or malformed DIE (the unit ends before its DIE tree does)", dpos);
        goto fail;
    }
    PyMem_Free(stack);
    u->visited = visited;
    if (index_offsets(u) < 0) { PyErr_NoMemory(); goto out; }
    u->cache = PyMem_Calloc(u->n ? u->n : 1, sizeof(PyObject *));
    u->owner = Py_NewRef(data_o);
    result = (PyObject *)u;
    u = NULL;
    goto out;
fail:
    PyMem_Free(stack);
out:
    for (int i = 0; i < 4; i++)
        if (held[i]) PyBuffer_Release(&tmp[i]);
    Py_XDECREF(u);
    return result;
}

/* ------------------------------------------------------------------------ */
/* Records as tuples                                                         */

static PyObject *str_at(UnitObject *u, Py_buffer *sec, int have, uint64_t off, int cache)
{
    PyObject *key = NULL;
    if (cache) {
        key = PyLong_FromUnsignedLongLong(off);
        PyObject *got = PyDict_GetItem(u->strcache, key);
        if (got) { Py_DECREF(key); return Py_NewRef(got); }
    }
    if (!have || off >= (uint64_t)sec->len) {
        Py_XDECREF(key);
        PyErr_Format(Malformed, "string offset %#llx outside its section", (unsigned long long)off);
        return NULL;
    }
    const char *s = (const char *)sec->buf + off;
    const char *z = memchr(s, 0, sec->len - off);
    if (!z) {
        Py_XDECREF(key);
        PyErr_Format(Malformed, "unterminated string at offset %#llx", (unsigned long long)off);
        return NULL;
    }
    PyObject *str = PyUnicode_DecodeUTF8(s, z - s, "replace");
    if (str && key)
        PyDict_SetItem(u->strcache, key, str);
    Py_XDECREF(key);
    return str;
}

static PyObject *val_obj(UnitObject *u, const Val *v)
{
    const char *d = (const char *)u->data.buf;
    switch (v->kind) {
    case V_NONE: Py_RETURN_NONE;
    case V_UINT: return PyLong_FromUnsignedLongLong(v->v);
    case V_SINT: return PyLong_FromLongLong((int64_t)v->v);
    case V_BOOL: return PyBool_FromLong(v->v != 0);
    case V_REF: return PyLong_FromUnsignedLongLong(v->v);
    case V_DIEREF: return PyObject_CallFunction(DieRefType, "K", (unsigned long long)v->v);
    case V_SIG: return PyObject_CallFunction(TypeSigType, "K", (unsigned long long)v->v);
    case V_STR: return str_at(u, &u->str, u->has_str, v->v, 1);
    case V_LSTR: return str_at(u, &u->lstr, u->has_lstr, v->v, 0);
    case V_CSTR: return PyUnicode_DecodeUTF8(d + v->v, v->len, "replace");
    case V_BLOCK: case V_B16: return PyBytes_FromStringAndSize(d + v->v, v->len);
    }
    Py_RETURN_NONE;
}

static PyObject *record(UnitObject *u, Py_ssize_t i)
{
    if (u->cache[i])
        return Py_NewRef(u->cache[i]);
    Rec *r = &u->recs[i];
    PyObject *t = PyTuple_New(NF);
    if (!t) return NULL;
    PyTuple_SET_ITEM(t, F_OFFSET, PyLong_FromUnsignedLongLong(r->off));
    PyTuple_SET_ITEM(t, F_TAG, PyLong_FromLong(r->tag));
    PyTuple_SET_ITEM(t, F_PARENT, PyLong_FromLong(r->parent));
    const Val *at[NF] = {0};
    for (uint32_t j = 0; j < r->nv; j++)
        at[u->vals[r->vstart + j].field] = &u->vals[r->vstart + j];
    for (int k = F_NAME; k < NF; k++) {
        PyObject *o = at[k] ? val_obj(u, at[k]) : Py_NewRef(Py_None);
        if (!o) { Py_DECREF(t); return NULL; }
        PyTuple_SET_ITEM(t, k, o);
    }
    u->cache[i] = Py_NewRef(t);
    return t;
}

static Py_ssize_t unit_len(PyObject *self) { return ((UnitObject *)self)->n; }

static PyObject *unit_item(PyObject *self, Py_ssize_t i)
{
    UnitObject *u = (UnitObject *)self;
    if (i < 0 || i >= u->n) {
        PyErr_SetString(PyExc_IndexError, "record index out of range");
        return NULL;
    }
    return record(u, i);
}

/* Bytes of .debug_info per slot of a unit's offset index (vmlinux keeps a
 * DIE every ~13 bytes) */
#define AT_SHIFT 4

/* The record index of the DIE at `off`, or -1.  References are looked up
 * millions of times per kernel (signatures, the encoder's get).  Records
 * are in offset order, so a slot per 16 bytes says where to start: one or
 * two steps to the record, and the index fills in one pass in order (a
 * hash table's scattered stores were a quarter of the walk). */
static Py_ssize_t find(UnitObject *u, uint64_t off)
{
    if (!u->at || off < u->at_base || off > u->recs[u->n - 1].off)
        return -1;
    Py_ssize_t i = u->at[(off - u->at_base) >> AT_SHIFT];
    while (u->recs[i].off < off) i++;     /* stops: the last record is not before off */
    return u->recs[i].off == off ? i : -1;
}

/* Slots for an open-addressing table of n keys: a power of two, at most
 * half full. */
static inline Py_ssize_t table_room(Py_ssize_t n)
{
    Py_ssize_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    return cap;
}

static int index_offsets(UnitObject *u)
{
    if (!u->n) return 0;
    u->at_base = u->recs[0].off;
    u->at_n = ((u->recs[u->n - 1].off - u->at_base) >> AT_SHIFT) + 1;
    u->at = PyMem_RawMalloc(u->at_n * sizeof(int32_t));
    if (!u->at) return -1;
    /* slot b: the first record at or past its start; record by record, the
     * slots up to the one it lies in that no earlier record took */
    uint64_t b = 0;
    for (Py_ssize_t i = 0; i < u->n; i++) {
        uint64_t last = (u->recs[i].off - u->at_base) >> AT_SHIFT;
        for (; b <= last; b++) u->at[b] = (int32_t)i;
    }
    return 0;
}

/* get(offset, default=None): the record index of the DIE at `offset` (a dict's get) */
static PyObject *unit_get(PyObject *self, PyObject *args)
{
    PyObject *key, *dflt = Py_None;
    if (!PyArg_ParseTuple(args, "O|O", &key, &dflt))
        return NULL;
    if (key == Py_None || !PyLong_Check(key))
        return Py_NewRef(dflt);
    unsigned long long off = PyLong_AsUnsignedLongLong(key);
    if (PyErr_Occurred()) { PyErr_Clear(); return Py_NewRef(dflt); }
    Py_ssize_t i = find((UnitObject *)self, off);
    return i < 0 ? Py_NewRef(dflt) : PyLong_FromSsize_t(i);
}

/* has_tag(tag): whether any kept DIE has this tag (annotations are rare:
 * the encoder looks for them only in units that have some) */
static PyObject *unit_has_tag(PyObject *self, PyObject *arg)
{
    UnitObject *u = (UnitObject *)self;
    long tag = PyLong_AsLong(arg);
    if (tag == -1 && PyErr_Occurred()) return NULL;
    for (Py_ssize_t i = 0; i < u->n; i++)
        if (u->recs[i].tag == tag) Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

/* children(i): record indexes of the kept children of record i */
static PyObject *unit_children(PyObject *self, PyObject *arg)
{
    UnitObject *u = (UnitObject *)self;
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    PyObject *l = PyList_New(0);
    if (i < 0 || i >= u->n || !l) return l;
    for (int32_t c = u->recs[i].first_child; c >= 0; c = u->recs[c].next_sib) {
        PyObject *o = PyLong_FromLong(c);
        PyList_Append(l, o);
        Py_DECREF(o);
    }
    return l;
}

/* ------------------------------------------------------------------------ */
/* Signatures                                                                */

#define M1 0x9e3779b97f4a7c15ULL
#define M2 0xc2b2ae3d27d4eb4fULL

typedef struct { uint64_t a, b; } H;

static inline uint64_t fmix(uint64_t k)
{
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t rotl(uint64_t x, int r) { return x << r | x >> (64 - r); }

/* One word into the running hash: two lanes, each a bijection of its state
 * and of the word (so two sequences differing in one word never collide),
 * with different rotations, multipliers and combining operations.  Mixing
 * is left to the tables (slot_of): signatures are only ever compared. */
static inline void hw(H *h, uint64_t w)
{
    h->a = rotl(h->a ^ w, 29) * M1;
    h->b = rotl(h->b + w, 41) * M2 + 0x632be59bd9b4e019ULL;
}

/* A table slot for a hash (hw leaves its low bits poorly mixed). */
static inline Py_ssize_t slot_of(uint64_t x, Py_ssize_t cap)
{
    return (Py_ssize_t)(fmix(x) & (uint64_t)(cap - 1));
}

static void hbytes(H *h, const uint8_t *p, Py_ssize_t n)
{
    hw(h, (uint64_t)n);
    while (n >= 8) { hw(h, rd_le(p, 8)); p += 8; n -= 8; }
    if (n) hw(h, rd_le(p, (int)n) | ((uint64_t)n << 60));
}

/* rd_le(p, 8) in one load */
static inline uint64_t word8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* A string into the hash in one pass, no strlen first: its whole words
 * (none holds a zero byte), then the word holding its NUL with the bytes
 * after the NUL cleared (its top byte is zero, so no whole word can be
 * taken for it).  hstr reads up to the NUL within `room` bytes (-1 if there
 * is none); hstr_n takes a length, for names without a NUL (name_key): the
 * same hash for the same string. */
static int hstr(H *h, const uint8_t *s, Py_ssize_t room)
{
    for (; room >= 8; s += 8, room -= 8) {
        uint64_t w = word8(s);
        uint64_t z = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
        if (z) {            /* the lowest flagged byte is the first zero */
            int at = __builtin_ctzll(z) >> 3;
            hw(h, at ? w & (~0ULL >> (64 - 8 * at)) : 0);
            return 0;
        }
        hw(h, w);
    }
    uint64_t w = 0;
    for (Py_ssize_t i = 0; i < room; i++) {
        if (!s[i]) { hw(h, w); return 0; }
        w |= (uint64_t)s[i] << (8 * i);
    }
    return -1;
}

static void hstr_n(H *h, const uint8_t *s, Py_ssize_t n)
{
    for (; n >= 8; s += 8, n -= 8) hw(h, word8(s));
    hw(h, n ? rd_le(s, (int)n) : 0);
}

/* The tags of type DIEs (the nodes signing works on), below 0x50 */
static const uint8_t type_tags[0x50] = {
    [0x01] = 1, [0x02] = 1, [0x04] = 1, [0x0f] = 1, [0x10] = 1, [0x12] = 1, [0x13] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x1f] = 1, [0x20] = 1, [0x24] = 1,
    [0x26] = 1, [0x27] = 1, [0x29] = 1, [0x2d] = 1, [0x35] = 1, [0x37] = 1, [0x38] = 1,
    [0x3b] = 1, [0x40] = 1, [0x42] = 1, [0x43] = 1, [0x44] = 1, [0x46] = 1,
    [0x47] = 1, [0x4b] = 1,
};

static inline int is_type_tag(int32_t tag)
{
    return (uint32_t)tag < sizeof type_tags && type_tags[tag];
}

/* Hash one field value's content (not its encoding); references are edges. */
static int hval(UnitObject *u, H *h, int k, const Val *v)
{
    /* a string is a string and a number a number, whichever form holds it */
    int kind = v->kind == V_CSTR || v->kind == V_LSTR ? V_STR : v->kind;
    if (kind == V_SINT) kind = (int64_t)v->v < 0 ? V_SINT : V_UINT;
    hw(h, ((uint64_t)k << 8) | (uint64_t)kind);
    switch (v->kind) {
    case V_STR: case V_LSTR: {
        Py_buffer *sec = v->kind == V_STR ? &u->str : &u->lstr;
        int have = v->kind == V_STR ? u->has_str : u->has_lstr;
        if (!have || v->v >= (uint64_t)sec->len) return -1;
        return hstr(h, (const uint8_t *)sec->buf + v->v, sec->len - (Py_ssize_t)v->v);
    }
    case V_CSTR:
        hstr_n(h, (const uint8_t *)u->data.buf + v->v, v->len);
        return 0;
    case V_BLOCK: case V_B16:
        hbytes(h, (const uint8_t *)u->data.buf + v->v, v->len);
        return 0;
    default:
        /* DW_AT_const_value as sdata or implicit_const: signed either way */
        hw(h, k == F_CF && v->v == FORM_implicit_const ? FORM_sdata : v->v);
        return 0;
    }
}

struct NamesObject;
static int names_cut(struct NamesObject *names, H key);

/* How references to named aggregates, enums and typedefs are signed: not at
 * all (their signature is followed), always by name (collecting which names
 * each node refers to), or by name where `names` says every definition of
 * the name in the input is the same. */
enum { CUT_NONE, CUT_ALL, CUT_NAMES };

typedef struct {
    int mode;
    struct NamesObject *names;
    H *cut;               /* CUT_ALL: the names each node refers to directly */
    int32_t *cstart, *cend; /* per node, into cut */
    int32_t ncut, cutcap;
    int32_t *node_of;     /* record -> type node index or -1 */
    int32_t *rec_of;      /* node -> record */
    int32_t nn;
    H *h0;                /* content */
    uint8_t *bad;         /* cannot be signed */
    int32_t *estart, *eend, *edge; /* per node, its edges: targets as node indexes */
    int32_t ne, ecap;
    int32_t *st;          /* node_content's stack */
    Py_ssize_t stcap;
    H *key;               /* per node, its name's key once asked (key_st 1; 2: none) */
    uint8_t *key_st;
    uint8_t *cut_st;      /* per node, once asked: 1 references to it are cut, 2 not */
} G;

static int is_cut_kind(int32_t tag)
{
    /* class, enumeration, structure, typedef, union */
    return tag == 0x02 || tag == 0x04 || tag == 0x13 || tag == 0x16 || tag == 0x17;
}

/* The key of a named aggregate, enum or typedef: its tag and name; 0 if it
 * has no name. */
static int key_of(UnitObject *u, int32_t rec, H *key)
{
    const Rec *r = &u->recs[rec];
    const Val *v = field_of(u->vals, r, F_NAME);
    if (!v || (v->kind != V_STR && v->kind != V_CSTR)) return 0;
    H h = { 0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL };
    hw(&h, (uint64_t)r->tag);
    if (hval(u, &h, F_NAME, v) < 0) return 0;
    *key = h;
    return 1;
}

/* key_of for a type node, asked for once per edge to it: computed once */
static int node_key(UnitObject *u, G *g, int32_t node, H *key)
{
    if (!g->key_st[node])
        g->key_st[node] = key_of(u, g->rec_of[node], &g->key[node]) ? 1 : 2;
    *key = g->key[node];
    return g->key_st[node] == 1;
}

/* Whether references to type node `node` are signed by its name, *key
 * then being the name's key: asked once per edge, decided once per node
 * (a typedef like u32 is the target of thousands). */
static int node_cut(UnitObject *u, G *g, int32_t node, H *key)
{
    if (!g->cut_st[node]) {
        int cut = g->mode != CUT_NONE && is_cut_kind(u->recs[g->rec_of[node]].tag) &&
                  node_key(u, g, node, key) &&
                  (g->mode == CUT_ALL || names_cut(g->names, *key));
        g->cut_st[node] = cut ? 1 : 2;
    }
    if (g->cut_st[node] != 1) return 0;
    *key = g->key[node];
    return 1;
}

/* The content hash of type node `node` (its record's subtree), its edges
 * (the type nodes the subtree refers to, in preorder) and, under CUT_ALL,
 * the names it refers to.  Computed when the signing first reaches it. */
static int node_content(UnitObject *u, G *g, int32_t node)
{
    int32_t rec = g->rec_of[node];
    g->estart[node] = g->ne;
    g->cstart[node] = g->ncut;
    H h = { 0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL };
    Py_ssize_t sp = 0;
    g->st[sp++] = rec;
    while (sp) {
        int32_t i = g->st[--sp];
        Rec *r = &u->recs[i];
        /* one word: a marker no field's words start with, the number of
         * children, whether this is the node's own record, the tag */
        int32_t cnt = 0;
        for (int32_t c = r->first_child; c >= 0; c = u->recs[c].next_sib) cnt++;
        hw(&h, 0xd1e0ULL << 48 | (uint64_t)cnt << 17 | (uint64_t)(i != rec) << 16 |
               (uint64_t)(uint16_t)r->tag);
        /* by field, the last value of a field winning: what the record says,
         * whatever the abbreviation's order of attributes */
        const Val *at[NF];
        uint32_t present = 0;
        for (uint32_t j = 0; j < r->nv; j++) {
            const Val *v = &u->vals[r->vstart + j];
            at[v->field] = v;
            present |= 1u << v->field;
        }
        present &= ~((1u << F_NAME) - 1);
        for (; present; present &= present - 1) {
            int k = __builtin_ctz(present);
            const Val *v = at[k];
            if (v->kind == V_NONE) continue;
            if (v->kind == V_REF || v->kind == V_DIEREF || v->kind == V_SIG) {
                if (v->kind != V_REF || k != F_TYPE) { g->bad[node] = 1; continue; }
                Py_ssize_t t = find(u, v->v);
                if (t < 0 || g->node_of[t] < 0) { g->bad[node] = 1; continue; }
                H key;
                if (node_cut(u, g, g->node_of[t], &key)) {
                    hw(&h, 0xc07c07ULL);
                    hw(&h, key.a);
                    hw(&h, key.b);
                    if (g->mode == CUT_ALL) {
                        if (g->ncut == g->cutcap) {
                            g->cutcap = g->cutcap ? 2 * g->cutcap : 256;
                            H *c2 = PyMem_Realloc(g->cut, g->cutcap * sizeof(H));
                            if (!c2) { PyErr_NoMemory(); return -1; }
                            g->cut = c2;
                        }
                        g->cut[g->ncut++] = key;
                    }
                    continue;
                }
                hw(&h, 0xed6e0000ULL | (uint64_t)k);
                if (g->ne == g->ecap) {
                    int32_t *e2 = PyMem_Realloc(g->edge, 2 * (size_t)g->ecap * sizeof(int32_t));
                    if (!e2) { PyErr_NoMemory(); return -1; }
                    g->edge = e2;
                    g->ecap *= 2;
                }
                g->edge[g->ne++] = g->node_of[t];
                continue;
            }
            if (k == F_LOWPC || k == F_LOC) { g->bad[node] = 1; continue; }
            if (hval(u, &h, k, v) < 0) g->bad[node] = 1;
        }
        /* children: pushed in reverse so that they pop in order */
        if (sp + cnt > g->stcap) {
            Py_ssize_t cap = (sp + cnt) * 2;
            int32_t *s2 = PyMem_Realloc(g->st, cap * sizeof(int32_t));
            if (!s2) { PyErr_NoMemory(); return -1; }
            g->st = s2;
            g->stcap = cap;
        }
        /* a type declared inside this one is a node of its own (and read
         * only if referred to): its subtree is not this node's content */
        Py_ssize_t j = sp + cnt;
        for (int32_t c = r->first_child; c >= 0; c = u->recs[c].next_sib) {
            if (g->node_of[c] >= 0) { hw(&h, 0x7e57edULL); cnt--; continue; }
            g->st[--j] = c;
        }
        if (j != sp) memmove(&g->st[sp], &g->st[j], cnt * sizeof(int32_t));
        sp += cnt;
    }
    g->h0[node] = h;
    g->eend[node] = g->ne;
    g->cend[node] = g->ncut;
    return 0;
}

static int cmp_h(const void *x, const void *y)
{
    const H *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return 0;
}

/* The multiset of the colours of `members`, in one hash whatever their
 * order: each colour hashed on its own, the hashes summed (sorting them
 * first was a twentieth of classify). */
static H colour_sum(const H *src, const int32_t *members, int32_t k)
{
    H sum = { 0, 0 };
    for (int32_t i = 0; i < k; i++) {
        H e = { 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL };
        hw(&e, src[members[i]].a);
        hw(&e, src[members[i]].b);
        sum.a += fmix(e.a);
        sum.b += fmix(e.b);
    }
    return sum;
}

/* How many distinct colours `members` have: a set in `set` (table_room(k)
 * slots; refinement asks once per round, and sorting each time was a
 * tenth of classify). */
static Py_ssize_t distinct(H *set, uint8_t *used, H *src, int32_t *members, int32_t k)
{
    Py_ssize_t cap = table_room(k);
    memset(used, 0, cap);
    Py_ssize_t d = 0;
    for (int32_t i = 0; i < k; i++) {
        H c = src[members[i]];
        Py_ssize_t s = slot_of(c.a ^ c.b, cap);
        while (used[s] && (set[s].a != c.a || set[s].b != c.b)) s = (s + 1) & (cap - 1);
        if (!used[s]) { used[s] = 1; set[s] = c; d++; }
    }
    return d;
}

static void names_define(struct NamesObject *names, UnitObject *u, G *g, H *sig,
                         uint8_t *ok, const int32_t *roots, const H *keys, int32_t nroots);
static int is_excluded(struct NamesObject *t, H key);

/* Pass 1's roots: the named definitions it records (not declarations, not
 * excluded), with their keys.  A definition's signature there depends only
 * on what it reaches through uncut references, so only that is signed. */
static int32_t definitions(UnitObject *u, G *g, int32_t *roots, H *keys)
{
    int32_t k = 0;
    for (int32_t v = 0; v < g->nn; v++) {
        int32_t rec = g->rec_of[v];
        Rec *r = &u->recs[rec];
        if (!is_cut_kind(r->tag)) continue;
        const Val *decl = field_of(u->vals, r, F_DECL);
        if (decl && decl->v) continue;
        if (!node_key(u, g, v, &keys[k]) || is_excluded(g->names, keys[k])) continue;
        roots[k++] = v;
    }
    return k;
}

struct SigSetObject;
static int32_t pass1_signed(UnitObject *u, G *g, struct SigSetObject *seen, H *sig,
                            uint8_t *ok);

/* Signatures of the type nodes (Tarjan's SCCs, sinks first): of every one,
 * or under CUT_ALL of what pass 1's definitions reach unless `every`.
 * Given `seen` (classify under CUT_NAMES, seed 0), the definitions
 * pass1_signed finds take pass 1's signature unhashed. */
static int sign(UnitObject *u, uint64_t seed, int mode, struct NamesObject *names, int every,
                struct SigSetObject *seen)
{
    Py_ssize_t n = u->n;
    int rc = -1;
    G g;
    memset(&g, 0, sizeof g);
    g.mode = mode;
    g.names = names;
    size_t n1 = n ? (size_t)n : 1;
    g.node_of = PyMem_Malloc(n1 * sizeof(int32_t));
    g.rec_of = PyMem_Malloc(n1 * sizeof(int32_t));
    if (!g.node_of || !g.rec_of) { PyErr_NoMemory(); goto out0; }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (is_type_tag(u->recs[i].tag)) { g.node_of[i] = g.nn; g.rec_of[g.nn++] = (int32_t)i; }
        else g.node_of[i] = -1;
    }
    int32_t nn = g.nn;
    size_t m1 = nn ? (size_t)nn : 1;
    g.h0 = PyMem_Malloc(m1 * sizeof(H));
    g.key = PyMem_Malloc(m1 * sizeof(H));
    g.key_st = PyMem_Calloc(m1, 1);
    g.cut_st = PyMem_Calloc(m1, 1);
    g.bad = PyMem_Calloc(m1, 1);
    g.estart = PyMem_Malloc(m1 * sizeof(int32_t));
    g.eend = PyMem_Malloc(m1 * sizeof(int32_t));
    g.cstart = PyMem_Malloc(m1 * sizeof(int32_t));
    g.cend = PyMem_Malloc(m1 * sizeof(int32_t));
    g.ecap = 1024;
    g.edge = PyMem_Malloc(g.ecap * sizeof(int32_t));
    g.stcap = 256;
    g.st = PyMem_Malloc(g.stcap * sizeof(int32_t));
    H *sig = PyMem_Calloc(m1, sizeof(H));
    uint8_t *ok = PyMem_Calloc(m1, 1);
    /* Tarjan, iterative */
    int32_t *index = PyMem_Malloc(m1 * sizeof(int32_t));
    int32_t *low = PyMem_Malloc(m1 * sizeof(int32_t));
    int32_t *stk = PyMem_Malloc(m1 * sizeof(int32_t));
    uint8_t *on = PyMem_Calloc(m1, 1);
    int32_t *cs_v = PyMem_Malloc(m1 * sizeof(int32_t));
    int32_t *cs_e = PyMem_Malloc(m1 * sizeof(int32_t));
    int32_t *scc_of = PyMem_Malloc(m1 * sizeof(int32_t));
    H *col = PyMem_Malloc(m1 * sizeof(H));
    H *col2 = PyMem_Malloc(m1 * sizeof(H));
    H *set = PyMem_Malloc(table_room(nn) * sizeof(H));
    uint8_t *used = PyMem_Malloc(table_room(nn));
    int32_t *roots = NULL;
    H *keys = NULL;
    if (!g.h0 || !g.key || !g.key_st || !g.cut_st || !g.bad || !g.estart || !g.eend || !g.cstart ||
        !g.cend || !g.edge || !g.st || !sig || !ok || !index || !low || !stk || !on || !cs_v || !cs_e ||
        !scc_of || !col || !col2 || !set || !used) {
        PyErr_NoMemory();
        goto out;
    }
    int32_t nroots = 0;
    if (mode == CUT_ALL) {
        roots = PyMem_Malloc(m1 * sizeof(int32_t));
        keys = PyMem_Malloc(m1 * sizeof(H));
        if (!roots || !keys) { PyErr_NoMemory(); goto out; }
        nroots = definitions(u, &g, roots, keys);
    }
    u->pass1_signed = seen && mode == CUT_NAMES && !seed ? pass1_signed(u, &g, seen, sig, ok) : 0;
    for (int32_t v = 0; v < nn; v++) { index[v] = -1; scc_of[v] = -1; }
    int32_t counter = 0, sn = 0, nscc = 0;
    /* where Tarjan starts: pass 1's definitions, or every node */
    const int32_t *starts = every ? NULL : roots;
    int32_t nstarts = starts ? nroots : nn;
    for (int32_t ri = 0; ri < nstarts; ri++) {
        int32_t root = starts ? starts[ri] : ri;
        if (index[root] >= 0 || ok[root]) continue;     /* ok: pass1_signed */
        int32_t csn = 0;
        if (node_content(u, &g, root) < 0) goto out;
        cs_v[csn] = root; cs_e[csn] = g.estart[root]; csn++;
        index[root] = low[root] = counter++;
        stk[sn++] = root; on[root] = 1;
        while (csn) {
            int32_t v = cs_v[csn - 1];
            if (cs_e[csn - 1] < g.eend[v]) {
                int32_t w = g.edge[cs_e[csn - 1]++];
                if (index[w] < 0) {
                    if (node_content(u, &g, w) < 0) goto out;
                    index[w] = low[w] = counter++;
                    stk[sn++] = w; on[w] = 1;
                    cs_v[csn] = w; cs_e[csn] = g.estart[w]; csn++;
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            csn--;
            if (csn) {
                int32_t p = cs_v[csn - 1];
                if (low[v] < low[p]) low[p] = low[v];
            }
            if (low[v] != index[v]) continue;
            /* pop the component: stk[k..sn) */
            int32_t k = sn;
            do { k--; } while (stk[k] != v);
            int32_t *mem = &stk[k];
            int32_t m = sn - k;
            int scc = nscc++;
            int bad = 0, self_loop = 0;
            for (int32_t i = 0; i < m; i++) { on[mem[i]] = 0; scc_of[mem[i]] = scc; }
            for (int32_t i = 0; i < m && !bad; i++) {
                int32_t x = mem[i];
                if (g.bad[x]) bad = 1;
                for (int32_t e = g.estart[x]; e < g.eend[x]; e++) {
                    int32_t w = g.edge[e];
                    if (scc_of[w] != scc && !ok[w]) bad = 1;
                    if (w == x) self_loop = 1;
                }
            }
            if (!bad) {
                /* colour 0: content and the signatures of what lies outside */
                for (int32_t i = 0; i < m; i++) {
                    int32_t x = mem[i];
                    H h = g.h0[x];
                    hw(&h, seed);
                    for (int32_t e = g.estart[x]; e < g.eend[x]; e++) {
                        int32_t w = g.edge[e];
                        if (scc_of[w] == scc) hw(&h, 0x5cc5cc5cULL);
                        else { hw(&h, sig[w].a); hw(&h, sig[w].b); }
                    }
                    col[x] = h;
                }
                if (m == 1 && !self_loop) {
                    sig[mem[0]] = col[mem[0]];
                } else {
                    Py_ssize_t before = distinct(set, used, col, mem, m);
                    int rounds = 0;
                    for (;;) {
                        for (int32_t i = 0; i < m; i++) {
                            int32_t x = mem[i];
                            H h = col[x];
                            for (int32_t e = g.estart[x]; e < g.eend[x]; e++) {
                                int32_t w = g.edge[e];
                                if (scc_of[w] == scc) { hw(&h, col[w].a); hw(&h, col[w].b); }
                            }
                            col2[x] = h;
                        }
                        for (int32_t i = 0; i < m; i++) col[mem[i]] = col2[mem[i]];
                        rounds++;
                        Py_ssize_t after = distinct(set, used, col, mem, m);
                        if (after == before) break;
                        before = after;
                    }
                    /* the component: its colours */
                    H sum = colour_sum(col, mem, m);
                    H sh = { 0x452821e638d01377ULL, 0xbe5466cf34e90c6cULL };
                    hw(&sh, (uint64_t)m);
                    hw(&sh, (uint64_t)rounds);
                    hw(&sh, sum.a);
                    hw(&sh, sum.b);
                    for (int32_t i = 0; i < m; i++) {
                        H h = sh;
                        hw(&h, col[mem[i]].a);
                        hw(&h, col[mem[i]].b);
                        sig[mem[i]] = h;
                    }
                }
                for (int32_t i = 0; i < m; i++) ok[mem[i]] = 1;
            }
            sn = k;
        }
    }
    if (mode == CUT_ALL) {
        names_define(names, u, &g, sig, ok, roots, keys, nroots);
        if (PyErr_Occurred()) goto out;
    }
    PyMem_Free(u->sig);
    PyMem_Free(u->sigok);
    u->sig = PyMem_Calloc(n1 * 2, sizeof(uint64_t));
    u->sigok = PyMem_Calloc(n1, 1);
    if (!u->sig || !u->sigok) { PyErr_NoMemory(); goto out; }
    for (int32_t v = 0; v < nn; v++) {
        int32_t r = g.rec_of[v];
        if (ok[v]) {
            u->sig[2 * r] = sig[v].a;
            u->sig[2 * r + 1] = sig[v].b;
            u->sigok[r] = 1;
        }
    }
    rc = 0;
out:
    PyMem_Free(sig); PyMem_Free(ok);
    PyMem_Free(index); PyMem_Free(low); PyMem_Free(stk); PyMem_Free(on);
    PyMem_Free(cs_v); PyMem_Free(cs_e); PyMem_Free(scc_of); PyMem_Free(col);
    PyMem_Free(col2); PyMem_Free(set); PyMem_Free(used);
    PyMem_Free(roots); PyMem_Free(keys);
out0:
    PyMem_Free(g.cut); PyMem_Free(g.cstart); PyMem_Free(g.cend);
    PyMem_Free(g.node_of); PyMem_Free(g.rec_of); PyMem_Free(g.h0); PyMem_Free(g.bad);
    PyMem_Free(g.key); PyMem_Free(g.key_st); PyMem_Free(g.cut_st);
    PyMem_Free(g.estart); PyMem_Free(g.eend); PyMem_Free(g.edge); PyMem_Free(g.st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Names whose every definition is the same                                  */

struct SigSetObject;
static PyTypeObject SigSetType;
static int sigset_has(struct SigSetObject *s, uint64_t a, uint64_t b);
static int sigset_add(struct SigSetObject *s, uint64_t a, uint64_t b);
static PyObject *sigset_new(PyTypeObject *type, PyObject *args, PyObject *kw);

typedef struct {
    H key, sig;
    uint8_t state;        /* 1 one definition so far, 2 several, 3 unsigned (info(): 4 excluded) */
    uint8_t in;           /* finish(): cut references to it */
    int32_t ref0, nref;   /* the names its definition refers to */
} Name;

typedef struct NamesObject {
    PyObject_HEAD
    Name *slot;
    Py_ssize_t cap, n;
    H *refs;
    Py_ssize_t nrefs, refcap;
    int finished;
    struct SigSetObject *excluded;   /* keys never cut at (name_keys), or NULL */
} NamesObject;

static PyTypeObject NamesType;

static Name *names_slot(NamesObject *t, H key, int create)
{
    if (!key.a && !key.b) key.a = 1;
    if (create && (t->n + 1) * 2 > t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 4096;
        Name *s2 = PyMem_Calloc(cap, sizeof(Name));
        if (!s2) return NULL;
        for (Py_ssize_t i = 0; i < t->cap; i++) {
            Name *e = &t->slot[i];
            if (!e->state) continue;
            Py_ssize_t j = slot_of(e->key.a, cap);
            while (s2[j].state) j = (j + 1) & (cap - 1);
            s2[j] = *e;
        }
        PyMem_Free(t->slot);
        t->slot = s2;
        t->cap = cap;
    }
    if (!t->cap) return NULL;
    Py_ssize_t j = slot_of(key.a, t->cap);
    while (t->slot[j].state) {
        if (t->slot[j].key.a == key.a && t->slot[j].key.b == key.b) return &t->slot[j];
        j = (j + 1) & (t->cap - 1);
    }
    if (!create) return NULL;
    t->slot[j].key = key;
    t->n++;
    return &t->slot[j];
}

/* A reference to a name is cut when every definition of it in the input is
 * the same (and so are the names those refer to), or when it is never
 * defined: then every unit sees the same declaration. */
static int is_excluded(NamesObject *t, H key)
{
    return t->excluded && sigset_has(t->excluded, key.a, key.b);
}

static int names_cut(NamesObject *t, H key)
{
    if (is_excluded(t, key)) return 0;
    Name *e = names_slot(t, key, 0);
    return !e || e->in;
}

/* The definitions of names pass 1 cuts at whose signature `seen` has, with
 * that signature, for classify (CUT_NAMES, seed 0): pass 1 signed each
 * such name the same in every unit, with the same cuts and hash as
 * classify's, and every reference to it is cut, so its component is
 * itself; its content need not be hashed again.  Those whose signature is
 * new are signed as before: what they reach must be.  Sets their `sig`
 * and `ok`; returns how many. */
static int32_t pass1_signed(UnitObject *u, G *g, struct SigSetObject *seen, H *sig, uint8_t *ok)
{
    int32_t found = 0;
    for (int32_t v = 0; v < g->nn; v++) {
        const Rec *r = &u->recs[g->rec_of[v]];
        if (!is_cut_kind(r->tag)) continue;
        const Val *decl = field_of(u->vals, r, F_DECL);
        H key;
        if ((decl && decl->v) || !node_key(u, g, v, &key) || !names_cut(g->names, key))
            continue;
        Name *e = names_slot(g->names, key, 0);
        if (!e || !e->in || !sigset_has(seen, e->sig.a, e->sig.b)) continue;
        sig[v] = e->sig;
        ok[v] = 1;
        found++;
    }
    return found;
}

/* Append to the names the table's definitions refer to; -1 out of memory. */
static int names_add_ref(NamesObject *t, H ref)
{
    if (t->nrefs == t->refcap) {
        Py_ssize_t cap = t->refcap ? 2 * t->refcap : 4096;
        H *r2 = PyMem_Realloc(t->refs, cap * sizeof(H));
        if (!r2) { PyErr_NoMemory(); return -1; }
        t->refs = r2;
        t->refcap = cap;
    }
    t->refs[t->nrefs++] = ref;
    return 0;
}

/* Pass 1: record each named definition of the unit (`roots`, with their
 * keys) with its signature (references to names cut) and the names it
 * reaches. */
static void names_define(NamesObject *t, UnitObject *u, G *g, H *sig, uint8_t *ok,
                         const int32_t *roots, const H *keys, int32_t nroots)
{
    int32_t nn = g->nn;
    int32_t *seen = PyMem_Calloc(nn ? nn : 1, sizeof(int32_t));
    int32_t *stack = PyMem_Malloc((nn ? nn : 1) * sizeof(int32_t));
    if (!seen || !stack) { PyErr_NoMemory(); goto done; }
    int32_t stamp = 0;
    for (int32_t i = 0; i < nroots; i++) {
        int32_t v = roots[i];
        Name *e = names_slot(t, keys[i], 1);
        if (!e) { PyErr_NoMemory(); goto done; }
        if (!ok[v]) { e->state = 3; continue; }
        if (e->state == 0) {
            e->state = 1;
            e->sig = sig[v];
            /* the names reached through uncut references */
            e->ref0 = (int32_t)t->nrefs;
            stamp++;
            int32_t sp = 0;
            stack[sp++] = v;
            seen[v] = stamp;
            while (sp) {
                int32_t x = stack[--sp];
                for (int32_t c = g->cstart[x]; c < g->cend[x]; c++)
                    if (names_add_ref(t, g->cut[c]) < 0) goto done;
                for (int32_t ei = g->estart[x]; ei < g->eend[x]; ei++) {
                    int32_t w = g->edge[ei];
                    if (seen[w] != stamp) { seen[w] = stamp; stack[sp++] = w; }
                }
            }
            e->nref = (int32_t)(t->nrefs - e->ref0);
        } else if (e->state == 1 && (e->sig.a != sig[v].a || e->sig.b != sig[v].b)) {
            e->state = 2;
        }
    }
done:   /* with an error set if out of memory: sign reports it */
    PyMem_Free(seen);
    PyMem_Free(stack);
}

static PyObject *names_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    NamesObject *t = (NamesObject *)type->tp_alloc(type, 0);
    if (t) {
        t->slot = NULL; t->cap = t->n = 0; t->refs = NULL; t->nrefs = t->refcap = 0;
        t->finished = 0; t->excluded = NULL;
    }
    return (PyObject *)t;
}

static void names_dealloc(PyObject *self)
{
    NamesObject *t = (NamesObject *)self;
    PyMem_Free(t->slot);
    PyMem_Free(t->refs);
    Py_XDECREF((PyObject *)t->excluded);
    Py_TYPE(self)->tp_free(self);
}

/* add(unit, every=False): pass 1 over one walked unit; `every` signs every
 * type node, not only what the definitions reach (the same table: tests) */
static PyObject *names_add(PyObject *self, PyObject *args)
{
    PyObject *unit;
    int every = 0;
    if (!PyArg_ParseTuple(args, "O!|p", &UnitType, &unit, &every)) return NULL;
    if (sign((UnitObject *)unit, 0, CUT_ALL, (NamesObject *)self, every, NULL) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* finish(): which names to cut at: one definition, itself referring only to
 * such names (the greatest such set).  Returns how many. */
static PyObject *names_finish(PyObject *self, PyObject *unused)
{
    NamesObject *t = (NamesObject *)self;
    for (Py_ssize_t i = 0; i < t->cap; i++)
        t->slot[i].in = t->slot[i].state == 1;
    int changed = 1;
    while (changed) {
        changed = 0;
        for (Py_ssize_t i = 0; i < t->cap; i++) {
            Name *e = &t->slot[i];
            if (!e->in) continue;
            for (int32_t r = 0; r < e->nref; r++) {
                H ref = t->refs[e->ref0 + r];
                Name *f = names_slot(t, ref, 0);
                if ((f && !f->in) || is_excluded(t, ref)) { e->in = 0; changed = 1; break; }
            }
        }
    }
    Py_ssize_t cnt = 0;
    for (Py_ssize_t i = 0; i < t->cap; i++) cnt += t->slot[i].in;
    t->finished = 1;
    return PyLong_FromSsize_t(cnt);
}

static H name_key(int tag, const char *name, Py_ssize_t len)
{
    H h = { 0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL };
    hw(&h, (uint64_t)tag);
    hw(&h, ((uint64_t)F_NAME << 8) | V_STR);
    hstr_n(&h, (const uint8_t *)name, len);
    return h;
}

/* exclude(keys): never cut at these names (a SigSet from name_keys: a
 * split BTF's base has them, and dedup over a base treats its declarations
 * apart).  Kept by reference: one set serves every module over a base. */
static PyObject *names_exclude(PyObject *self, PyObject *arg)
{
    NamesObject *t = (NamesObject *)self;
    if (!PyObject_TypeCheck(arg, &SigSetType)) {
        PyErr_SetString(PyExc_TypeError, "exclude() takes a SigSet of name_keys()");
        return NULL;
    }
    Py_XSETREF(t->excluded, (struct SigSetObject *)Py_NewRef(arg));
    Py_RETURN_NONE;
}

/* name_keys(names) -> SigSet: the keys of aggregates, enums and typedefs
 * with these names, as pass 1 computes them from DIEs */
static PyObject *name_keys(PyObject *self, PyObject *arg)
{
    static const int tags[] = { 0x02, 0x04, 0x13, 0x16, 0x17 };
    PyObject *set = sigset_new(&SigSetType, NULL, NULL);
    PyObject *it = set ? PyObject_GetIter(arg) : NULL;
    if (!it) { Py_XDECREF(set); return NULL; }
    PyObject *o;
    while ((o = PyIter_Next(it))) {
        Py_ssize_t len;
        const char *name = PyUnicode_AsUTF8AndSize(o, &len);
        Py_DECREF(o);
        if (!name) break;
        int k;
        for (k = 0; k < 5; k++) {
            H key = name_key(tags[k], name, len);
            if (sigset_add((struct SigSetObject *)set, key.a, key.b) < 0) break;
        }
        if (k < 5) break;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) { Py_DECREF(set); return NULL; }
    return set;
}

/* dump() -> bytes: the table as pass 1 left it (before finish), for merge().
 * Per entry: key, sig (4 x u64), state, nref (2 x u32), then nref keys. */
static PyObject *names_dump(PyObject *self, PyObject *unused)
{
    NamesObject *t = (NamesObject *)self;
    Py_ssize_t words = 0;
    for (Py_ssize_t i = 0; i < t->cap; i++)
        if (t->slot[i].state) words += 5 + 2 * (Py_ssize_t)t->slot[i].nref;
    PyObject *out = PyBytes_FromStringAndSize(NULL, words * 8);
    if (!out) return NULL;
    uint64_t *w = (uint64_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < t->cap; i++) {
        const Name *e = &t->slot[i];
        if (!e->state) continue;
        *w++ = e->key.a; *w++ = e->key.b; *w++ = e->sig.a; *w++ = e->sig.b;
        *w++ = (uint64_t)e->state | (uint64_t)(uint32_t)e->nref << 32;
        for (int32_t r = 0; r < e->nref; r++) {
            *w++ = t->refs[e->ref0 + r].a;
            *w++ = t->refs[e->ref0 + r].b;
        }
    }
    return out;
}

/* merge(dump): add what pass 1 found in units that come after this table's
 * (another process's share).  The result is the table one process would
 * have built over all the units in order: an unsigned definition anywhere
 * wins, then exclusion, then "several"; two single definitions stay one if
 * their signatures agree, and the names it refers to are the first's. */
static PyObject *names_merge(PyObject *self, PyObject *arg)
{
    NamesObject *t = (NamesObject *)self;
    Py_buffer b;
    if (t->finished) {
        PyErr_SetString(PyExc_ValueError, "merge() after finish()");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    const uint64_t *w = b.buf, *end = w + b.len / 8;
    int bad = b.len % 8 != 0;
    while (!bad && w < end) {
        if (end - w < 5) { bad = 1; break; }
        H key = { w[0], w[1] }, sig = { w[2], w[3] };
        uint8_t state = (uint8_t)w[4];
        int32_t nref = (int32_t)(w[4] >> 32);
        const uint64_t *refs = w + 5;
        if (nref < 0 || (end - refs) / 2 < nref || !state || state > 4) { bad = 1; break; }
        w = refs + 2 * (Py_ssize_t)nref;
        Name *e = names_slot(t, key, 1);
        if (!e) { PyBuffer_Release(&b); return PyErr_NoMemory(); }
        if (e->state == 0) {
            e->state = state;
            e->sig = sig;
            e->ref0 = (int32_t)t->nrefs;
            for (int32_t r = 0; r < nref; r++) {
                H ref = { refs[2 * r], refs[2 * r + 1] };
                if (names_add_ref(t, ref) < 0) { PyBuffer_Release(&b); return NULL; }
            }
            e->nref = nref;
        } else if (e->state == 3 || state == 3) {
            e->state = 3;
        } else if (e->state == 4 || state == 4) {
            e->state = 4;
        } else if (e->state == 2 || state == 2 || e->sig.a != sig.a || e->sig.b != sig.b) {
            e->state = 2;
        }
    }
    PyBuffer_Release(&b);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "merge(): not a Names.dump()");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* info(tag, name) -> (state, cut, names referred to) or None: for tests */
static PyObject *names_info(PyObject *self, PyObject *args)
{
    int tag;
    const char *name;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "is#", &tag, &name, &len))
        return NULL;
    H key = name_key(tag, name, len);
    if (is_excluded((NamesObject *)self, key)) return Py_BuildValue("(iii)", 4, 0, 0);
    Name *e = names_slot((NamesObject *)self, key, 0);
    if (!e) Py_RETURN_NONE;
    return Py_BuildValue("(iii)", e->state, e->in, e->nref);
}

static Py_ssize_t names_len(PyObject *self) { return ((NamesObject *)self)->n; }

static PySequenceMethods names_seq = { .sq_length = names_len };

static PyMethodDef names_methods[] = {
    {"add", names_add, METH_VARARGS, "add(unit, every=False): the unit's named definitions (pass 1)"},
    {"finish", names_finish, METH_NOARGS, "finish() -> how many names are cut"},
    {"info", names_info, METH_VARARGS, "info(tag, name) -> (state, cut, refs) or None"},
    {"exclude", names_exclude, METH_O, "exclude(keys): never cut at these names (name_keys)"},
    {"dump", names_dump, METH_NOARGS, "dump() -> bytes, for another table's merge()"},
    {"merge", names_merge, METH_O, "merge(dump): add a later share of the units"},
    {NULL}
};

static PyTypeObject NamesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "encoder.dwarf._cwalk.Names",
    .tp_basicsize = sizeof(NamesObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Named types with one definition in the whole input.",
    .tp_new = names_new,
    .tp_dealloc = names_dealloc,
    .tp_as_sequence = &names_seq,
    .tp_methods = names_methods,
};

/* ------------------------------------------------------------------------ */
/* A set of 128-bit signatures                                               */

typedef struct SigSetObject {
    PyObject_HEAD
    uint64_t *k;     /* 2 per slot; (0,0) empty */
    Py_ssize_t cap, n;
} SigSetObject;

static int sigset_add(SigSetObject *s, uint64_t a, uint64_t b)
{
    if (!a && !b) a = 1;
    if ((s->n + 1) * 2 > s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *k = PyMem_Calloc(cap * 2, sizeof(uint64_t));
        if (!k) { PyErr_NoMemory(); return -1; }
        for (Py_ssize_t i = 0; i < s->cap; i++) {
            uint64_t x = s->k[2 * i], y = s->k[2 * i + 1];
            if (!x && !y) continue;
            Py_ssize_t j = slot_of(x, cap);
            while (k[2 * j] || k[2 * j + 1]) j = (j + 1) & (cap - 1);
            k[2 * j] = x; k[2 * j + 1] = y;
        }
        PyMem_Free(s->k);
        s->k = k;
        s->cap = cap;
    }
    Py_ssize_t j = slot_of(a, s->cap);
    while (s->k[2 * j] || s->k[2 * j + 1]) {
        if (s->k[2 * j] == a && s->k[2 * j + 1] == b) return 0;
        j = (j + 1) & (s->cap - 1);
    }
    s->k[2 * j] = a; s->k[2 * j + 1] = b;
    s->n++;
    return 1;
}

static int sigset_has(SigSetObject *s, uint64_t a, uint64_t b)
{
    if (!a && !b) a = 1;
    if (!s->cap) return 0;
    Py_ssize_t j = slot_of(a, s->cap);
    while (s->k[2 * j] || s->k[2 * j + 1]) {
        if (s->k[2 * j] == a && s->k[2 * j + 1] == b) return 1;
        j = (j + 1) & (s->cap - 1);
    }
    return 0;
}

static PyObject *sigset_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    Py_buffer b = { 0 };
    if (args && !PyArg_ParseTuple(args, "|y*", &b)) return NULL;
    SigSetObject *s = (SigSetObject *)type->tp_alloc(type, 0);
    if (s) { s->k = NULL; s->cap = s->n = 0; }
    if (s && b.buf) {
        const uint64_t *w = b.buf;
        if (b.len % 16) {
            PyErr_SetString(PyExc_ValueError, "SigSet(keys): not 16-byte keys");
            Py_CLEAR(s);
        }
        /* room for all of them at once: no table grown seven times over */
        Py_ssize_t cap = 1024;
        while (s && cap < 2 * (b.len / 16 + 1)) cap *= 2;
        if (s && b.len && !(s->k = PyMem_Calloc(cap * 2, sizeof(uint64_t)))) {
            PyErr_NoMemory();
            Py_CLEAR(s);
        }
        if (s && s->k) s->cap = cap;
        for (Py_ssize_t i = 0; s && i < b.len / 16; i++)
            if (sigset_add(s, w[2 * i], w[2 * i + 1]) < 0) Py_CLEAR(s);
    }
    if (b.obj) PyBuffer_Release(&b);
    return (PyObject *)s;
}

static void sigset_dealloc(PyObject *self)
{
    PyMem_Free(((SigSetObject *)self)->k);
    Py_TYPE(self)->tp_free(self);
}

static Py_ssize_t sigset_len(PyObject *self) { return ((SigSetObject *)self)->n; }

/* add(sig) -> True if new: a signature (16 bytes, as Unit.sig gives) learned
 * elsewhere, so that classify treats it as handed out already. */
static PyObject *sigset_add_py(PyObject *self, PyObject *arg)
{
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) != 16) {
        PyErr_SetString(PyExc_TypeError, "a signature is 16 bytes");
        return NULL;
    }
    uint64_t k[2];
    memcpy(k, PyBytes_AS_STRING(arg), 16);
    int r = sigset_add((SigSetObject *)self, k[0], k[1]);
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

/* dump() -> bytes: the keys, 16 bytes each and sorted (the same bytes for
 * the same set, however it was filled), for SigSet(keys) */
static PyObject *sigset_dump(PyObject *self, PyObject *unused)
{
    SigSetObject *s = (SigSetObject *)self;
    PyObject *out = PyBytes_FromStringAndSize(NULL, s->n * 16);
    if (!out) return NULL;
    uint64_t *w = (uint64_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < s->cap; i++)
        if (s->k[2 * i] || s->k[2 * i + 1]) { *w++ = s->k[2 * i]; *w++ = s->k[2 * i + 1]; }
    qsort(PyBytes_AS_STRING(out), s->n, sizeof(H), cmp_h);
    return out;
}

/* copy() -> a SigSet with the same keys: a table copied as it is, for a
 * module starting from what earlier ones learned (one memcpy, not one add
 * per key) */
static PyObject *sigset_copy(PyObject *self, PyObject *unused)
{
    SigSetObject *s = (SigSetObject *)self;
    SigSetObject *c = (SigSetObject *)sigset_new(Py_TYPE(self), NULL, NULL);
    if (!c || !s->cap) return (PyObject *)c;
    c->k = PyMem_Malloc(s->cap * 2 * sizeof(uint64_t));
    if (!c->k) { Py_DECREF(c); return PyErr_NoMemory(); }
    memcpy(c->k, s->k, s->cap * 2 * sizeof(uint64_t));
    c->cap = s->cap;
    c->n = s->n;
    return (PyObject *)c;
}

static PyMethodDef sigset_methods[] = {
    {"dump", sigset_dump, METH_NOARGS, "dump() -> bytes: the keys, for SigSet(keys)"},
    {"copy", sigset_copy, METH_NOARGS, "copy() -> SigSet: the same keys"},
    {"add", sigset_add_py, METH_O, "add(sig) -> True if it was not there"},
    {NULL}
};

static PySequenceMethods sigset_seq = { .sq_length = sigset_len };

static PyTypeObject SigSetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "encoder.dwarf._cwalk.SigSet",
    .tp_basicsize = sizeof(SigSetObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Signatures already handed out (classify adds the new ones).",
    .tp_new = sigset_new,
    .tp_dealloc = sigset_dealloc,
    .tp_as_sequence = &sigset_seq,
    .tp_methods = sigset_methods,
};

static const int32_t SUBPROGRAM = 0x2e;

/* A DIE that only describes its parent (a member, a parameter, an
 * enumerator, an array's bounds): read through children(), never on its own. */
static int is_part(int32_t tag)
{
    switch (tag) {
    case 0x05: case 0x0d: case 0x18: case 0x21: case 0x28:
        return 1;
    }
    return 0;
}

/* classify(seen, seed, names=None, funcs=None, quick=True) -> todo: record
 * indexes the encoder must read: every type DIE whose signature `seen`
 * lacks (then added), the other DIEs under those, and everything outside
 * types except subprogram declarations and, given `funcs` (a set),
 * subprograms named otherwise.  Of the DIEs under a kept one, the parts
 * (is_part) are left out: their parent reads them, and they were three in
 * four of a batch's todo.  `quick` lets pass1_signed sign what it can (the
 * same signatures; False: the tests' check of that). */
static PyObject *unit_classify(PyObject *self, PyObject *args)
{
    UnitObject *u = (UnitObject *)self;
    SigSetObject *seen;
    unsigned long long seed;
    PyObject *names = Py_None, *funcs = Py_None;
    int quick = 1;
    if (!PyArg_ParseTuple(args, "O!K|OOp", &SigSetType, &seen, &seed, &names, &funcs, &quick))
        return NULL;
    if (funcs != Py_None && !PyAnySet_Check(funcs)) {
        PyErr_SetString(PyExc_TypeError, "funcs must be a set of names");
        return NULL;
    }
    if (names != Py_None && (!PyObject_TypeCheck(names, &NamesType) ||
                             !((NamesObject *)names)->finished)) {
        PyErr_SetString(PyExc_TypeError, "names must be a finished Names");
        return NULL;
    }
    if (sign(u, seed, names == Py_None ? CUT_NONE : CUT_NAMES,
             names == Py_None ? NULL : (NamesObject *)names, 1, quick ? seen : NULL) < 0)
        return NULL;
    Py_ssize_t n = u->n;
    /* state per record: 1 in todo, 0 not */
    uint8_t *in = PyMem_Calloc(n ? n : 1, 1);
    PyObject *todo = PyList_New(0);
    for (Py_ssize_t i = 0; i < n; i++) {
        Rec *r = &u->recs[i];
        int keep;
        /* the slot a later record asks for, on its way in */
        Py_ssize_t ahead = i + 8;
        if (ahead < n && u->sigok[ahead] && seen->cap)
            __builtin_prefetch(&seen->k[2 * slot_of(u->sig[2 * ahead], seen->cap)]);
        if (is_type_tag(r->tag)) {
            if (u->sigok[i]) {
                keep = !sigset_has(seen, u->sig[2 * i], u->sig[2 * i + 1]);
            } else {
                keep = 1;
            }
        } else if (r->parent < 0) {
            const Val *decl = r->tag == SUBPROGRAM ? field_of(u->vals, r, F_DECL) : NULL;
            keep = !(decl && decl->kind == V_BOOL && decl->v);
            const Val *nm;
            if (keep && funcs != Py_None && r->tag == SUBPROGRAM &&
                (nm = field_of(u->vals, r, F_NAME)) != NULL) {
                /* a named function the ELF file has no symbol for */
                PyObject *o = val_obj(u, nm);
                int has = o ? PySet_Contains(funcs, o) : -1;
                Py_XDECREF(o);
                if (has < 0) { PyMem_Free(in); Py_DECREF(todo); return NULL; }
                keep = has;
            }
        } else {
            keep = in[r->parent];
        }
        in[i] = (uint8_t)keep;
        if (keep && (r->parent < 0 || !is_part(r->tag))) {
            PyObject *o = PyLong_FromSsize_t(i);
            PyList_Append(todo, o);
            Py_DECREF(o);
        }
    }
    /* only now: a type described twice in this unit is converted twice
     * (dedup merges them), never referred to before it is known */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (in[i] && u->sigok[i] &&
            sigset_add(seen, u->sig[2 * i], u->sig[2 * i + 1]) < 0) {
            PyMem_Free(in);
            Py_DECREF(todo);
            return NULL;
        }
    }
    PyMem_Free(in);
    return todo;
}

/* sig(i) -> 16 bytes, or None for a DIE without a signature */
static PyObject *unit_sig(PyObject *self, PyObject *arg)
{
    UnitObject *u = (UnitObject *)self;
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (!u->sig || i < 0 || i >= u->n || !u->sigok[i]) Py_RETURN_NONE;
    uint64_t k[2] = { u->sig[2 * i], u->sig[2 * i + 1] };
    return PyBytes_FromStringAndSize((const char *)k, 16);
}

/* Item k of a PySequence_Fast of record indexes; -1 with an exception on junk. */
static int index_at(UnitObject *u, PyObject *seq, Py_ssize_t k, Py_ssize_t *i)
{
    *i = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, k));
    if (*i == -1 && PyErr_Occurred()) return -1;
    if (*i < 0 || *i >= u->n) {
        PyErr_SetString(PyExc_IndexError, "record index out of range");
        return -1;
    }
    return 0;
}

/* signed(indexes) -> [(i, sig)] for the records among `indexes` (a list,
 * or any sequence) that have a signature (classify first): what sig(i)
 * gives, without asking for each */
static PyObject *unit_signed(PyObject *self, PyObject *arg)
{
    UnitObject *u = (UnitObject *)self;
    PyObject *seq = PySequence_Fast(arg, "a sequence of record indexes");
    if (!seq) return NULL;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t k = 0; out && u->sig && k < PySequence_Fast_GET_SIZE(seq); k++) {
        Py_ssize_t i;
        if (index_at(u, seq, k, &i) < 0) { Py_CLEAR(out); break; }
        if (!u->sigok[i]) continue;
        uint64_t w[2] = { u->sig[2 * i], u->sig[2 * i + 1] };
        PyObject *pair = Py_BuildValue("(ny#)", i, (const char *)w, (Py_ssize_t)16);
        if (!pair || PyList_Append(out, pair) < 0) Py_CLEAR(out);
        Py_XDECREF(pair);
    }
    Py_DECREF(seq);
    return out;
}

/* tagged(indexes, tags) -> the indexes whose record has one of `tags` (a
 * tuple of ints), in order: finding a unit's few subprograms among its
 * records without building a tuple for each */
static PyObject *unit_tagged(PyObject *self, PyObject *args)
{
    UnitObject *u = (UnitObject *)self;
    PyObject *indexes, *tags;
    if (!PyArg_ParseTuple(args, "OO!", &indexes, &PyTuple_Type, &tags)) return NULL;
    int32_t want[8];
    Py_ssize_t nt = PyTuple_GET_SIZE(tags);
    if (nt > 8) { PyErr_SetString(PyExc_ValueError, "at most 8 tags"); return NULL; }
    for (Py_ssize_t t = 0; t < nt; t++) {
        want[t] = (int32_t)PyLong_AsLong(PyTuple_GET_ITEM(tags, t));
        if (want[t] == -1 && PyErr_Occurred()) return NULL;
    }
    PyObject *seq = PySequence_Fast(indexes, "a sequence of record indexes");
    if (!seq) return NULL;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t k = 0; out && k < PySequence_Fast_GET_SIZE(seq); k++) {
        Py_ssize_t i;
        if (index_at(u, seq, k, &i) < 0) { Py_CLEAR(out); break; }
        for (Py_ssize_t t = 0; t < nt; t++) {
            if (u->recs[i].tag != want[t]) continue;
            if (PyList_Append(out, PySequence_Fast_GET_ITEM(seq, k)) < 0) Py_CLEAR(out);
            break;
        }
    }
    Py_DECREF(seq);
    return out;
}

/* fit(): give back what the walk reserved beyond the records it kept, for
 * a unit held a while (pass 1 keeps a module's units for pass 2) */
static PyObject *unit_fit(PyObject *self, PyObject *unused)
{
    UnitObject *u = (UnitObject *)self;
    Rec *r = u->n ? PyMem_Realloc(u->recs, u->n * sizeof(Rec)) : NULL;
    if (r) { u->recs = r; u->cap = u->n; }
    Val *v = u->nvals ? PyMem_Realloc(u->vals, u->nvals * sizeof(Val)) : NULL;
    if (v) { u->vals = v; u->vcap = u->nvals; }
    Py_RETURN_NONE;
}

static PyObject *unit_visited(PyObject *self, void *c)
{
    return PyLong_FromLong(((UnitObject *)self)->visited);
}

static PyObject *unit_pass1_signed(PyObject *self, void *c)
{
    return PyLong_FromLong(((UnitObject *)self)->pass1_signed);
}

static PyObject *unit_first_int(PyObject *self, void *c)
{
    return PyLong_FromLong(((UnitObject *)self)->first_int);
}

static void unit_dealloc(PyObject *self)
{
    UnitObject *u = (UnitObject *)self;
    if (u->cache) {
        for (Py_ssize_t i = 0; i < u->n; i++) Py_XDECREF(u->cache[i]);
        PyMem_Free(u->cache);
    }
    PyMem_Free(u->recs);
    PyMem_Free(u->vals);
    PyMem_Free(u->sig);
    PyMem_Free(u->sigok);
    PyMem_RawFree(u->at);
    if (u->data.obj) PyBuffer_Release(&u->data);
    if (u->has_str) PyBuffer_Release(&u->str);
    if (u->has_lstr) PyBuffer_Release(&u->lstr);
    Py_XDECREF(u->strcache);
    Py_XDECREF(u->owner);
    PyObject_Free(self);
}

static PySequenceMethods unit_seq = { .sq_length = unit_len, .sq_item = unit_item };

static PyMethodDef unit_methods[] = {
    {"get", unit_get, METH_VARARGS, "get(offset, default=None): record index of a DIE offset"},
    {"children", unit_children, METH_O, "children(i): kept children of record i"},
    {"fit", unit_fit, METH_NOARGS, "fit(): free the room reserved beyond the records"},
    {"has_tag", unit_has_tag, METH_O, "has_tag(tag): whether any kept DIE has this tag"},
    {"classify", unit_classify, METH_VARARGS,
     "classify(seen, seed, names=None, funcs=None, quick=True) -> record indexes to read"},
    {"sig", unit_sig, METH_O, "sig(i): the type signature of record i, or None"},
    {"signed", unit_signed, METH_O, "signed(indexes) -> [(i, sig)] for those with a signature"},
    {"tagged", unit_tagged, METH_VARARGS, "tagged(indexes, tags) -> the indexes with one of tags"},
    {NULL}
};

static PyGetSetDef unit_getset[] = {
    {"visited", unit_visited, NULL, "DIEs read, kept or not", NULL},
    {"first_int", unit_first_int, NULL, "record index of the first base type `int`, -1", NULL},
    {"pass1_signed", unit_pass1_signed, NULL,
     "definitions the last classify signed from pass 1's table", NULL},
    {NULL}
};

static PyTypeObject UnitType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "encoder.dwarf._cwalk.Unit",
    .tp_basicsize = sizeof(UnitObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One unit's kept DIEs (dies.py records, built on demand).",
    .tp_dealloc = unit_dealloc,
    .tp_as_sequence = &unit_seq,
    .tp_methods = unit_methods,
    .tp_getset = unit_getset,
};

static PyMethodDef methods[] = {
    {"compile_abbrev", compile_abbrev, METH_VARARGS, "compile one .debug_abbrev table"},
    {"specs", specs, METH_VARARGS, "specs(table, code): one abbreviation, the plain way"},
    {"walk", walk, METH_VARARGS, "walk one unit's DIE tree"},
    {"name_keys", name_keys, METH_O, "name_keys(names) -> SigSet, for Names.exclude"},
    {NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_cwalk", "Compiled twin of encoder.dwarf.walk.", -1, methods
};

PyMODINIT_FUNC PyInit__cwalk(void)
{
    if (PyType_Ready(&UnitType) < 0 || PyType_Ready(&SigSetType) < 0 ||
        PyType_Ready(&NamesType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    Malformed = PyErr_NewException("encoder.dwarf._cwalk.Malformed", PyExc_ValueError, NULL);
    Fallback = PyErr_NewException("encoder.dwarf._cwalk.Fallback", PyExc_Exception, NULL);
    PyModule_AddObject(m, "Malformed", Py_NewRef(Malformed));
    PyModule_AddObject(m, "Fallback", Py_NewRef(Fallback));
    PyModule_AddObject(m, "Unit", Py_NewRef((PyObject *)&UnitType));
    PyModule_AddObject(m, "SigSet", Py_NewRef((PyObject *)&SigSetType));
    PyModule_AddObject(m, "Names", Py_NewRef((PyObject *)&NamesType));
    PyObject *dies = PyImport_ImportModule("encoder.dwarf.dies");
    if (!dies) return NULL;
    DieRefType = PyObject_GetAttrString(dies, "DieRef");
    TypeSigType = PyObject_GetAttrString(dies, "TypeSig");
    Py_DECREF(dies);
    if (!DieRefType || !TypeSigType) return NULL;
    PyModule_AddIntConstant(m, "NFIELDS", NF);
    static CwalkAPI api;
    api.unit_type = &UnitType;
    api.fallback = Fallback;
    api.find = find;
    api.val_obj = val_obj;
    if (PyModule_AddObject(m, "_C_API", PyCapsule_New(&api, CWALK_CAPSULE, NULL)) < 0)
        return NULL;
    return m;
}
