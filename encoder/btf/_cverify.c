/*
 * The verifier's passes for module and vmlinux BTF, compiled, to accept
 * what is valid quickly: verifier.py's check_metas, check_references and
 * check_type_tags, rule for rule, over one BTF's own type words.  It only
 * says yes or no; on a no verifier.py runs its own passes, which find the
 * same rule broken and say which, at which offset, in the kernel's words.
 * So nothing here may accept what verifier.py refuses: tests/test_cverify.py
 * runs both on every crafted bad blob, every profile, and on mutations.
 *
 * accept(words, strs, start_id, base_kinds, type_len, profile) -> own type
 * count, or -1: `words` the own type section as u32 in host order (the
 * last partial word dropped), `strs` the strings base first, `base_kinds`
 * the kind of each id below start_id (void first; a list or an array),
 * `profile` (max_kind, max_vlen, tag_kflag, ksym_name_len, wide_info,
 * dotted_names, printable_sections, func_global).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { INT = 1, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT,
       FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 };

#define MAX_TYPE 0x000FFFFFu
#define MAX_NAME_OFFSET 0x00FFFFFFu
#define BTF_INFO_MASK 0x9F00FFFFu
#define BTF_INT_MASK 0x0FFFFFFFu
#define NO (-1)

typedef struct {
    int max_kind, tag_kflag, ksym, wide, dotted, printable, func_global;
    uint32_t vmask;
    const uint8_t *strs;
    Py_ssize_t nstrs;
} P;

/* verifier.py's _ALPHA: ASCII letters, '_', Latin-1 letters */
static int alpha(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8);
}

static int offset_ok(const P *p, uint32_t off)
{
    return off <= MAX_NAME_OFFSET && (Py_ssize_t)off < p->nstrs;
}

/* name_ok(off, rule): rule 0 an identifier (dots if the profile allows
 * them), 1 a variable name (dots), 2 a section name (printable, or as 1);
 * at most ksym bytes.  `off` was checked by offset_ok. */
static int name_ok(const P *p, uint32_t off, int rule)
{
    const uint8_t *s = p->strs + off, *end = p->strs + p->nstrs;
    const uint8_t *z = memchr(s, 0, end - s);
    Py_ssize_t n = z ? z - s : end - s;
    if (n > p->ksym || n == 0) return 0;
    if (rule == 2 && p->printable) {
        for (Py_ssize_t i = 0; i < n; i++)
            if (!((s[i] >= 0x20 && s[i] <= 0x7e) || s[i] >= 0xa0)) return 0;
        return 1;
    }
    int dots = rule != 0 || p->dotted;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (alpha(c) || (dots && c == '.') || (i && c >= '0' && c <= '9')) continue;
        return 0;
    }
    return 1;
}

static int ident_ok(const P *p, uint32_t off) { return name_ok(p, off, 0); }

/* the string at `off` is not empty (checked offset) */
static int nonempty(const P *p, uint32_t off) { return p->strs[off] != 0; }

static uint32_t roundup_bytes(uint64_t bits) { return (uint32_t)((bits + 7) >> 3); }

/* One record's check_meta: how many trailing words it has, or NO. */
static Py_ssize_t meta(const P *p, int kind, uint32_t name, uint32_t vlen, uint32_t kflag,
                       uint32_t st, const uint32_t *w, Py_ssize_t left)
{
    switch (kind) {
    case INT: {
        if (left < 4 || vlen || kflag) return NO;
        uint32_t d = w[0];
        if (d & ~BTF_INT_MASK) return NO;
        uint32_t bits = (d & 0xFF) + ((d >> 16) & 0xFF);
        uint32_t enc = (d >> 24) & 0x0F;
        if (bits > 128 || roundup_bytes(bits) > st) return NO;
        if (enc != 0 && enc != 1 && enc != 2 && enc != 4) return NO;
        return 1;
    }
    case PTR: case TYPEDEF: case VOLATILE: case CONST: case RESTRICT: case TYPE_TAG:
        if (vlen || (kflag && !(kind == TYPE_TAG && p->tag_kflag)) || st > MAX_TYPE)
            return NO;
        if (kind == TYPEDEF) return name && ident_ok(p, name) ? 0 : NO;
        if (kind == TYPE_TAG) return nonempty(p, name) ? 0 : NO;
        return name ? NO : 0;
    case ARRAY:
        if (left < 12 || name || vlen || kflag || st) return NO;
        if (!w[0] || w[0] > MAX_TYPE || !w[1] || w[1] > MAX_TYPE) return NO;
        return 3;
    case STRUCT: case UNION: {
        if (left < 12 * (Py_ssize_t)vlen) return NO;
        if (name && !ident_ok(p, name)) return NO;
        uint32_t last = 0;
        for (uint32_t j = 0; j < vlen; j++) {
            uint32_t m_name = w[3 * j], m_type = w[3 * j + 1], m_off = w[3 * j + 2];
            if (!offset_ok(p, m_name) || (m_name && !ident_ok(p, m_name))) return NO;
            if (!m_type || m_type > MAX_TYPE) return NO;
            uint32_t off = kflag ? m_off & 0xFFFFFF : m_off;
            if ((kind == UNION && off) || last > off || roundup_bytes(off) > st) return NO;
            last = off;
        }
        return 3 * (Py_ssize_t)vlen;
    }
    case ENUM: case ENUM64: {
        Py_ssize_t step = kind == ENUM ? 2 : 3;
        if (left < 4 * step * (Py_ssize_t)vlen) return NO;
        if (p->max_kind < ENUM64 && kflag) return NO;
        if (st > 8 || (st & (st - 1)) || !st) return NO;
        if (name && !ident_ok(p, name)) return NO;
        for (uint32_t j = 0; j < vlen; j++) {
            uint32_t e = w[step * j];
            if (!offset_ok(p, e) || !e || !ident_ok(p, e)) return NO;
        }
        return step * (Py_ssize_t)vlen;
    }
    case FWD:
        return vlen || st || !name || !ident_ok(p, name) ? NO : 0;
    case FUNC:
        if (!name || !ident_ok(p, name)) return NO;
        if (p->func_global ? vlen > 1 : vlen != 0) return NO;
        return kflag ? NO : 0;
    case FUNC_PROTO:
        if (left < 8 * (Py_ssize_t)vlen || name || kflag) return NO;
        return 2 * (Py_ssize_t)vlen;
    case VAR:
        if (left < 4 || vlen || kflag || !name || !name_ok(p, name, 1)) return NO;
        if (!st || st > MAX_TYPE || w[0] > 1) return NO;
        return 1;
    case DATASEC: {
        if (left < 12 * (Py_ssize_t)vlen || !st || kflag) return NO;
        if (!name || !name_ok(p, name, 2)) return NO;
        uint64_t last_end = 0, total = 0;
        for (uint32_t j = 0; j < vlen; j++) {
            uint32_t t = w[3 * j], off = w[3 * j + 1], size = w[3 * j + 2];
            if (!t || t > MAX_TYPE || off < last_end || off >= st || !size || size > st)
                return NO;
            last_end = (uint64_t)off + size;
            if (last_end > st) return NO;
            total += size;
        }
        return st < total ? NO : 3 * (Py_ssize_t)vlen;
    }
    case FLOAT:
        if (vlen || kflag) return NO;
        return st == 2 || st == 4 || st == 8 || st == 12 || st == 16 ? 0 : NO;
    case DECL_TAG:
        if (left < 4 || !nonempty(p, name) || vlen || (!p->tag_kflag && kflag)) return NO;
        return (int32_t)w[0] < -1 ? NO : 1;
    }
    return NO;
}

static int is_modifier(int k)
{
    return k == TYPEDEF || k == VOLATILE || k == CONST || k == RESTRICT || k == TYPE_TAG;
}

static PyObject *accept(PyObject *self, PyObject *args)
{
    Py_buffer wb, sb;
    Py_ssize_t start_id, type_len;
    PyObject *base_kinds;
    P p;
    unsigned long vmask;
    if (!PyArg_ParseTuple(args, "y*y*nOn(ikpipppp)", &wb, &sb, &start_id, &base_kinds,
                          &type_len, &p.max_kind, &vmask, &p.tag_kflag, &p.ksym,
                          &p.wide, &p.dotted, &p.printable, &p.func_global))
        return NULL;
    p.vmask = (uint32_t)vmask;
    p.strs = sb.buf;
    p.nstrs = sb.len;
    const uint32_t *w = wb.buf;
    Py_ssize_t nw = wb.len / 4, i = 0, left = type_len, n = 0;
    /* a record takes at least 12 bytes, so this many at most */
    Py_ssize_t cap = type_len / 12 + 1;
    uint8_t *kind = PyMem_Malloc(cap);
    uint32_t *st = PyMem_Malloc(cap * sizeof(uint32_t));
    Py_ssize_t *at = PyMem_Malloc(cap * sizeof(Py_ssize_t));
    Py_ssize_t result = -1;
    uint32_t kmask = p.wide ? 0x7F : 0x1F;
    if (!kind || !st || !at || PySequence_Size(base_kinds) != start_id) {
        PyErr_Clear();
        goto done;
    }
    /* pass 3: each record */
    while (left > 0) {
        if (left < 12 || i + 3 > nw) goto done;
        uint32_t name = w[i], info = w[i + 1], s = w[i + 2];
        if (!p.wide && (info & ~BTF_INFO_MASK)) goto done;
        int k = (info >> 24) & kmask;
        if (k > p.max_kind || k == 0 || !offset_ok(&p, name)) goto done;
        left -= 12;
        Py_ssize_t more = meta(&p, k, name, info & p.vmask, info >> 31, s, w + i + 3,
                               left);
        if (more == NO || i + 3 + more > nw || start_id + n >= (Py_ssize_t)MAX_TYPE) goto done;
        kind[n] = (uint8_t)k;
        st[n] = s;
        at[n] = i + 3;
        n++;
        left -= 4 * more;
        i += 3 + more;
    }
    /* pass 4 (module and vmlinux BTF): every reference names a type */
    uint64_t total = (uint64_t)start_id + n;
    for (Py_ssize_t t = 0; t < n; t++) {
        const uint32_t *tail = w + at[t];
        uint32_t vlen = w[at[t] - 2] & p.vmask;
        switch (kind[t]) {
        case PTR: case TYPEDEF: case VOLATILE: case CONST: case RESTRICT: case FUNC:
        case VAR: case DECL_TAG: case TYPE_TAG:
            if (st[t] >= total) goto done;
            break;
        case ARRAY:
            if (tail[0] >= total || tail[1] >= total) goto done;
            break;
        case STRUCT: case UNION:
            for (uint32_t j = 0; j < vlen; j++)
                if (tail[3 * j + 1] >= total) goto done;
            break;
        case FUNC_PROTO:
            if (st[t] >= total) goto done;
            for (uint32_t j = 0; j < vlen; j++)
                if (tail[2 * j + 1] >= total) goto done;
            break;
        case DATASEC:
            for (uint32_t j = 0; j < vlen; j++)
                if (tail[3 * j] >= total) goto done;
            break;
        }
    }
    /* pass 5: in a modifier chain, type tags come first */
    Py_ssize_t good = start_id - 1;
    for (Py_ssize_t t = 0; t < n; t++) {
        Py_ssize_t tid = start_id + t, cur = tid;
        int k = kind[t];
        if (!is_modifier(k)) continue;
        int in_tags = k == TYPE_TAG, limit = 32;
        while (is_modifier(k)) {
            if (!limit--) goto done;
            if (k == TYPE_TAG) {
                if (!in_tags) goto done;
            } else {
                in_tags = 0;
            }
            if (cur <= good) break;
            cur = cur >= start_id ? (Py_ssize_t)st[cur - start_id] : -1;
            if (cur < 0 || (uint64_t)cur >= total) goto done;
            if (cur >= start_id) {
                k = kind[cur - start_id];
            } else {
                PyObject *o = PySequence_GetItem(base_kinds, cur);   /* a list or an array */
                k = o ? (int)PyLong_AsLong(o) : -1;
                Py_XDECREF(o);
                if (k == -1 && PyErr_Occurred()) { PyErr_Clear(); goto done; }
            }
        }
        good = tid;
    }
    result = n;
done:
    PyMem_Free(kind);
    PyMem_Free(st);
    PyMem_Free(at);
    PyBuffer_Release(&wb);
    PyBuffer_Release(&sb);
    return PyLong_FromSsize_t(result);
}

static PyMethodDef methods[] = {
    {"accept", accept, METH_VARARGS,
     "accept(words, strs, start_id, base_kinds, type_len, profile) -> own types, or -1"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "encoder.btf._cverify",
    "verifier.py's passes for module and vmlinux BTF, compiled: accept or defer", -1, methods
};

PyMODINIT_FUNC PyInit__cverify(void)
{
    return PyModule_Create(&moddef);
}
