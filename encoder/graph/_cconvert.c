/*
 * The type makers of convert.py, compiled: one unit's type DIEs straight to
 * dedup's compact form, (label, refs) per type (dedup/compact.py), without
 * the model's dataclasses in between.
 *
 * types(unit, todo, first_id, known_first, float, enum64, pointer_size,
 *       little_endian, makers=None)
 *     -> (labels, refs, ids, known, int_id, needs_int, signed, candidates)
 *
 * Given `makers` (the classes FuncCandidate, VarCandidate, FuncProto, Param
 * and the unit's DW_OP_addrx resolver), it also makes the function and
 * variable candidates of the todo records, as convert() would next:
 * `candidates` is (funcs, vars), else None.
 *
 * The contract is convert._Unit's: the same ids in the same order, the same
 * known references (their signatures) in the order the makers meet them,
 * the same labels as compact_unit() of the model types, and with `todo` the
 * (signature, id) pairs _Unit.signed() gives (None if some todo type has no
 * id yet: convert.py finds it later, as it always did).  Whatever would make convert.py warn or
 * raise (a reference outside the unit, a size BTF cannot hold, an odd value
 * kind) raises _cwalk.Fallback instead, and convert.py does the unit.  The
 * tests run both on the same inputs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "../dwarf/_cwalk.h"

static CwalkAPI *api;

/* DWARF tags and attribute encodings convert.py reads */
enum {
    T_ARRAY = 0x01, T_CLASS = 0x02, T_ENUMERATION = 0x04, T_FORMAL_PARAMETER = 0x05,
    T_MEMBER = 0x0d, T_POINTER = 0x0f, T_STRUCTURE = 0x13, T_SUBROUTINE = 0x15,
    T_TYPEDEF = 0x16, T_UNION = 0x17, T_UNSPECIFIED_PARAMETERS = 0x18, T_SUBRANGE = 0x21,
    T_BASE = 0x24, T_CONST = 0x26, T_ENUMERATOR = 0x28, T_PACKED = 0x2d, T_SUBPROGRAM = 0x2e,
    T_VOLATILE = 0x35, T_VARIABLE = 0x34,
    T_RESTRICT = 0x37, T_UNSPECIFIED_TYPE = 0x3b, T_SHARED = 0x40, T_ATOMIC = 0x47,
    T_IMMUTABLE = 0x4b,
};
enum { ATE_BOOLEAN = 2, ATE_COMPLEX_FLOAT = 3, ATE_FLOAT = 4, ATE_SIGNED = 5,
       ATE_SIGNED_CHAR = 6, ATE_IMAGINARY_FLOAT = 9 };
enum { OP_PLUS_UCONST = 0x23 };

/* BTF kinds (dedup/compact.py's label heads) */
enum { K_INT = 1, K_PTR = 2, K_ARRAY = 3, K_STRUCT = 4, K_UNION = 5, K_ENUM = 6, K_FWD = 7,
       K_TYPEDEF = 8, K_VOLATILE = 9, K_CONST = 10, K_RESTRICT = 11, K_FUNC_PROTO = 13,
       K_FLOAT = 16, K_ENUM64 = 19 };

#define MAX_VLEN 0xFFFFFF
#define NOID INT64_MIN
#define BIG ((int64_t)1 << 40)    /* beyond any real size or offset: convert.py decides */

typedef struct {
    UnitObject *u;
    int64_t *ids;           /* per record: its type id, or NOID */
    uint8_t *todo;          /* per record: converted here */
    int signed_mode;        /* records outside todo with a signature are known */
    int64_t first_id, known_first, count;
    PyObject *known;        /* their signatures, in the order their ids were given */
    int opt_float, opt_enum64, psize, little;
    int64_t int_id;
    int has_int, needs_int;
    PyObject *labels, *refs, *empty;
    int32_t *order;         /* the todo records, in order */
    Py_ssize_t nt;
} Cv;

static int fallback(const char *why)
{
    PyErr_SetString(api->fallback, why);
    return -1;
}

static inline const Val *fld(Cv *c, int32_t i, int f)
{
    const Val *v = field_of(c->u->vals, &c->u->recs[i], f);
    return v && v->kind != V_NONE ? v : NULL;
}

/* An integer field as Python would see it: 1 and *out, 0 if absent, -1
 * (Fallback set) for a value kind or size this file leaves to Python. */
static int int_of(const Val *v, int64_t *out)
{
    if (!v) return 0;
    if (v->kind == V_UINT) {
        if (v->v > (uint64_t)INT64_MAX) return fallback("integer beyond 63 bits");
        *out = (int64_t)v->v;
        return 1;
    }
    if (v->kind == V_SINT) { *out = (int64_t)v->v; return 1; }
    return fallback("not an integer where one is expected");
}

/* `d[field] or 0` */
static int int_or0(const Val *v, int64_t *out)
{
    *out = 0;
    return int_of(v, out) < 0 ? -1 : 0;
}

static inline int truthy(const Val *v)
{
    return v && (v->kind == V_BOOL || v->kind == V_UINT || v->kind == V_SINT) && v->v;
}

/* `d[F_NAME] or ""`, a new reference */
static PyObject *name_of(Cv *c, const Val *v)
{
    if (!v) return PyUnicode_FromStringAndSize("", 0);
    if (v->kind != V_STR && v->kind != V_LSTR && v->kind != V_CSTR) {
        fallback("a name that is not a string");
        return NULL;
    }
    return api->val_obj(c->u, v);
}

/* The record a reference value points to: 1 and *rec, 0 if there is no
 * reference, -1 for one convert.py would warn about. */
static int target(Cv *c, const Val *v, int32_t *rec)
{
    if (!v) return 0;
    if (v->kind != V_REF) return fallback("a reference of another kind");
    Py_ssize_t i = api->find(c->u, v->v);
    if (i < 0) return fallback("a reference outside the unit");
    *rec = (int32_t)i;
    return 1;
}

/* die_of(): like target(), but a reference that finds nothing is None */
static int32_t die_of(Cv *c, const Val *v)
{
    if (!v || v->kind != V_REF) return -1;
    return (int32_t)api->find(c->u, v->v);
}

/* Record i's signature as _cwalk's Unit.sig(i) gives it (16 bytes). */
static PyObject *sig_of(UnitObject *u, int32_t i)
{
    uint64_t k[2] = { u->sig[2 * i], u->sig[2 * i + 1] };
    return PyBytes_FromStringAndSize((const char *)k, 16);
}

static int type_of(Cv *c, int32_t i, int depth, int64_t *out)
{
    if (c->ids[i] != NOID) { *out = c->ids[i]; return 0; }
    UnitObject *u = c->u;
    if (c->signed_mode && !c->todo[i] && u->sigok && u->sigok[i]) {
        PyObject *o = sig_of(u, i);
        if (!o || PyList_Append(c->known, o) < 0) { Py_XDECREF(o); return -1; }
        Py_DECREF(o);
        *out = c->ids[i] = c->known_first + PyList_GET_SIZE(c->known) - 1;
        return 0;
    }
    int32_t tag = u->recs[i].tag;
    if ((tag == T_ATOMIC || tag == T_IMMUTABLE || tag == T_PACKED || tag == T_SHARED) &&
        depth < 64) {
        int32_t j = die_of(c, fld(c, i, F_TYPE));
        int64_t got = 0;
        if (j >= 0 && type_of(c, j, depth + 1, &got) < 0) return -1;
        *out = c->ids[i] = got;
        return 0;
    }
    return fallback("a DIE that is not a type BTF has");
}

/* ref(): the type id of a DW_AT_type value (0 = void) */
static int ref(Cv *c, const Val *v, int64_t *out)
{
    int32_t j;
    int r = target(c, v, &j);
    if (r <= 0) { *out = 0; return r; }
    return type_of(c, j, 0, out);
}

/* Byte size of a type DIE through typedefs and qualifiers (size_of) */
static int size_of(Cv *c, int32_t i, int64_t *out)
{
    *out = 0;
    for (int depth = 0; i >= 0 && depth < 64; depth++) {
        const Val *bs = fld(c, i, F_BYTE_SIZE);
        if (bs) return int_of(bs, out) < 0 ? -1 : 0;
        int32_t tag = c->u->recs[i].tag;
        if (tag == T_POINTER) { *out = c->psize; return 0; }
        if (tag != T_TYPEDEF && tag != T_CONST && tag != T_VOLATILE && tag != T_RESTRICT &&
            tag != T_ATOMIC && tag != T_IMMUTABLE && tag != T_PACKED && tag != T_SHARED)
            return 0;
        i = die_of(c, fld(c, i, F_TYPE));
    }
    return 0;
}

static int fits(int64_t v, int bits)
{
    return v >= 0 && v < ((int64_t)1 << bits) ? 0 : fallback("a value BTF cannot hold");
}

/* _member_offset(): DW_AT_data_member_location as a constant or DW_OP_plus_uconst */
static int member_offset(Cv *c, const Val *loc, int64_t *out)
{
    *out = 0;
    if (!loc) return 0;
    if (loc->kind == V_UINT || loc->kind == V_SINT) return int_of(loc, out) < 0 ? -1 : 0;
    if (loc->kind != V_BLOCK && loc->kind != V_B16) return fallback("an odd member location");
    const uint8_t *p = (const uint8_t *)c->u->data.buf + loc->v;
    if (loc->len < 2 || p[0] != OP_PLUS_UCONST) return 0;
    uint64_t v = 0;
    for (uint32_t k = 1, shift = 0; k < loc->len; k++, shift += 7) {
        if (shift > 49) return fallback("a long ULEB128 operand");
        v |= (uint64_t)(p[k] & 0x7f) << shift;
        if (!(p[k] & 0x80)) { *out = (int64_t)v; return 0; }
    }
    return 0;                   /* the operand runs off the end: 0, as convert.py */
}

/* Bits from the aggregate's start to the member's lowest-order bit */
static int member_bit_offset(Cv *c, int32_t m, int64_t bits, int64_t *out)
{
    const Val *dbo = fld(c, m, F_DBO);
    if (dbo) return int_of(dbo, out) < 0 ? -1 : 0;
    int64_t byte_offset;
    if (member_offset(c, fld(c, m, F_DML), &byte_offset) < 0) return -1;
    if (byte_offset < -BIG || byte_offset > BIG) return fallback("a member offset out of range");
    if (!bits) { *out = byte_offset * 8; return 0; }
    int64_t unit_bytes;
    if (int_or0(fld(c, m, F_BYTE_SIZE), &unit_bytes) < 0) return -1;
    if (!unit_bytes && size_of(c, die_of(c, fld(c, m, F_TYPE)), &unit_bytes) < 0) return -1;
    const Val *bo = fld(c, m, F_BO);
    int64_t high = 0;
    if (bo) {
        if (bo->kind != V_UINT && bo->kind != V_SINT) return fallback("an odd bit offset");
        high = (int64_t)bo->v;
    }
    if (unit_bytes < -BIG || unit_bytes > BIG || high < -BIG || high > BIG)
        return fallback("a bit offset out of range");
    *out = c->little && unit_bytes ? byte_offset * 8 + unit_bytes * 8 - high - bits
                                   : byte_offset * 8 + high;
    return 0;
}

/* Append (label, refs) for the type `id`; steals both references. */
static int put(Cv *c, int64_t id, PyObject *label, PyObject *refs)
{
    if (!label || !refs) { Py_XDECREF(label); Py_XDECREF(refs); return -1; }
    Py_ssize_t k = (Py_ssize_t)(id - c->first_id);
    PyList_SET_ITEM(c->labels, k, label);
    PyList_SET_ITEM(c->refs, k, refs);
    return 0;
}

static PyObject *refs1(int64_t r)
{
    return Py_BuildValue("(L)", (long long)r);
}

static int base_type(Cv *c, int32_t i, int64_t id)
{
    int64_t size, ate = -1;
    if (int_or0(fld(c, i, F_BYTE_SIZE), &size) < 0 ||
        int_of(fld(c, i, F_ENCODING), &ate) < 0)
        return -1;
    if ((ate == ATE_FLOAT || ate == ATE_COMPLEX_FLOAT || ate == ATE_IMAGINARY_FLOAT) &&
        c->opt_float) {
        if (ate != ATE_FLOAT) return fallback("a complex float");
        if (fits(size, 32) < 0) return -1;
        PyObject *name = name_of(c, fld(c, i, F_NAME));
        if (!name) return -1;
        return put(c, id, Py_BuildValue("(iNL)", K_FLOAT, name, (long long)size),
                   Py_NewRef(c->empty));
    }
    int enc = ate == ATE_SIGNED || ate == ATE_SIGNED_CHAR ? 1 : ate == ATE_BOOLEAN ? 4 : 0;
    PyObject *name;
    if (size <= 0 || (size & (size - 1)) || size > 16) {
        name = PyUnicode_FromString("__SANITIZED_FAKE_INT__");
        size = 4;
    } else {
        name = name_of(c, fld(c, i, F_NAME));
    }
    if (!name) return -1;
    return put(c, id, Py_BuildValue("(iNLLii)", K_INT, name, (long long)size,
                                    (long long)size * 8, enc, 0), Py_NewRef(c->empty));
}

static int one_ref(Cv *c, int32_t i, int64_t id, int kind, int named)
{
    int64_t r;
    if (ref(c, fld(c, i, F_TYPE), &r) < 0) return -1;
    PyObject *name = named ? name_of(c, fld(c, i, F_NAME)) : PyUnicode_FromStringAndSize("", 0);
    if (!name) return -1;
    return put(c, id, Py_BuildValue("(iN)", kind, name), refs1(r));
}

/* A growing tuple's worth of items */
typedef struct { PyObject **v; Py_ssize_t n, cap; } Items;

static int items_add(Items *it, PyObject *o)
{
    if (!o) return -1;
    if (it->n == it->cap) {
        Py_ssize_t cap = it->cap ? it->cap * 2 : 32;
        PyObject **v = PyMem_Realloc(it->v, cap * sizeof(PyObject *));
        if (!v) { Py_DECREF(o); PyErr_NoMemory(); return -1; }
        it->v = v;
        it->cap = cap;
    }
    it->v[it->n++] = o;
    return 0;
}

static PyObject *items_tuple(Items *it)
{
    PyObject *t = PyTuple_New(it->n);
    if (t) {
        for (Py_ssize_t k = 0; k < it->n; k++) PyTuple_SET_ITEM(t, k, it->v[k]);
        it->n = 0;
    }
    return t;
}

static void items_free(Items *it)
{
    for (Py_ssize_t k = 0; k < it->n; k++) Py_DECREF(it->v[k]);
    PyMem_Free(it->v);
}

static int aggregate(Cv *c, int32_t i, int64_t id)
{
    UnitObject *u = c->u;
    int is_union = u->recs[i].tag == T_UNION;
    PyObject *name = name_of(c, fld(c, i, F_NAME));
    if (!name) return -1;
    if (truthy(fld(c, i, F_DECL)))
        return put(c, id, Py_BuildValue("(iNO)", K_FWD, name, is_union ? Py_True : Py_False),
                   Py_NewRef(c->empty));
    int64_t size;
    if (int_or0(fld(c, i, F_BYTE_SIZE), &size) < 0) { Py_DECREF(name); return -1; }
    Items lab = { 0 }, rf = { 0 };
    int kflag = 0, err = 0;
    int64_t n = 0;
    for (int32_t m = u->recs[i].first_child; m >= 0 && !err; m = u->recs[m].next_sib) {
        if (u->recs[m].tag != T_MEMBER) continue;
        if (!is_union && !fld(c, m, F_DML) && !fld(c, m, F_DBO)) continue;   /* static (C++) */
        int64_t bits, offset, r;
        if (int_or0(fld(c, m, F_BIT_SIZE), &bits) < 0 || fits(bits, 8) < 0 ||
            member_bit_offset(c, m, bits, &offset) < 0 || fits(offset, 32) < 0) {
            err = 1;
            break;
        }
        kflag = kflag || bits || offset % 8;
        PyObject *mname = name_of(c, fld(c, m, F_NAME));
        if (!mname || items_add(&lab, mname) < 0 || ref(c, fld(c, m, F_TYPE), &r) < 0 ||
            items_add(&lab, PyLong_FromLongLong(offset)) < 0 ||
            items_add(&lab, PyLong_FromLongLong(bits)) < 0 ||
            items_add(&rf, PyLong_FromLongLong(r)) < 0)
            err = 1;
        n++;
    }
    if (!err && kflag) {
        /* beside a bitfield size an offset has 24 bits */
        for (Py_ssize_t k = 1; k < lab.n && !err; k += 3)
            if (fits(PyLong_AsLongLong(lab.v[k]), 24) < 0) err = 1;
    }
    if (!err && (n > MAX_VLEN || fits(size, 32) < 0)) {
        if (!PyErr_Occurred()) fallback("too many members");
        err = 1;
    }
    PyObject *label = NULL, *refs = NULL;
    if (!err) {
        label = PyTuple_New(4 + lab.n);
        refs = items_tuple(&rf);
    }
    if (label && refs) {
        PyTuple_SET_ITEM(label, 0, PyLong_FromLong(is_union ? K_UNION : K_STRUCT));
        PyTuple_SET_ITEM(label, 1, Py_NewRef(name));
        PyTuple_SET_ITEM(label, 2, PyLong_FromLongLong(size));
        PyTuple_SET_ITEM(label, 3, Py_NewRef(kflag ? Py_True : Py_False));
        for (Py_ssize_t k = 0; k < lab.n; k++) PyTuple_SET_ITEM(label, 4 + k, lab.v[k]);
        lab.n = 0;
    }
    Py_DECREF(name);
    items_free(&lab);
    items_free(&rf);
    if (err || !label || !refs) { Py_XDECREF(label); Py_XDECREF(refs); return -1; }
    return put(c, id, label, refs);
}

static int enumeration(Cv *c, int32_t i, int64_t id)
{
    UnitObject *u = c->u;
    int64_t size = 4;
    const Val *bs = fld(c, i, F_BYTE_SIZE);
    if (bs && int_of(bs, &size) < 0) return -1;
    if (!size) size = 4;
    if (fits(size, 32) < 0) return -1;
    int64_t n = 0, negative = 0;
    for (int32_t e = u->recs[i].first_child; e >= 0; e = u->recs[e].next_sib) {
        if (u->recs[e].tag != T_ENUMERATOR) continue;
        const Val *v = fld(c, e, F_CV);
        if (v && v->kind == V_SINT && (int64_t)v->v < 0) negative = 1;
        n++;
    }
    if (n > MAX_VLEN) return fallback("too many enumerators");
    int wide = size > 4 && c->opt_enum64;
    int is_signed;
    if (wide) {
        int32_t b = die_of(c, fld(c, i, F_TYPE));
        int64_t ate = -1;
        if (b >= 0 && int_of(fld(c, b, F_ENCODING), &ate) < 0) return -1;
        is_signed = ate == ATE_SIGNED || ate == ATE_SIGNED_CHAR;
    } else {
        is_signed = c->opt_enum64 && negative;
    }
    PyObject *name = name_of(c, fld(c, i, F_NAME));
    if (!name) return -1;
    PyObject *label = PyTuple_New(4 + 2 * n);
    if (!label) { Py_DECREF(name); return -1; }
    PyTuple_SET_ITEM(label, 0, PyLong_FromLong(wide ? K_ENUM64 : K_ENUM));
    PyTuple_SET_ITEM(label, 1, name);
    PyTuple_SET_ITEM(label, 2, PyLong_FromLongLong(size));
    PyTuple_SET_ITEM(label, 3, Py_NewRef(is_signed ? Py_True : Py_False));
    Py_ssize_t k = 4;
    for (int32_t e = u->recs[i].first_child; e >= 0; e = u->recs[e].next_sib) {
        if (u->recs[e].tag != T_ENUMERATOR) continue;
        const Val *v = fld(c, e, F_CV);
        uint64_t bits = v && (v->kind == V_UINT || v->kind == V_SINT || v->kind == V_BOOL)
                        ? v->v : 0;
        PyObject *value;
        if (wide)
            value = is_signed ? PyLong_FromLongLong((int64_t)bits)
                              : PyLong_FromUnsignedLongLong(bits);
        else
            value = is_signed ? PyLong_FromLong((int32_t)(uint32_t)bits)
                              : PyLong_FromUnsignedLong((uint32_t)bits);
        PyObject *ename = name_of(c, fld(c, e, F_NAME));
        if (!value || !ename) {
            Py_XDECREF(value); Py_XDECREF(ename);
            Py_DECREF(label);
            return -1;
        }
        PyTuple_SET_ITEM(label, k++, ename);
        PyTuple_SET_ITEM(label, k++, value);
    }
    return put(c, id, label, Py_NewRef(c->empty));
}

/* An array bound as convert.py counts it: a plain integer (not a DieRef) */
static uint64_t bound(const Val *v, int *is_int)
{
    *is_int = v && (v->kind == V_UINT || v->kind == V_SINT || v->kind == V_BOOL ||
                    v->kind == V_REF);
    return *is_int ? v->v : 0;
}

static int array(Cv *c, int32_t i, int64_t id)
{
    UnitObject *u = c->u;
    uint64_t nelems = 1;
    for (int32_t s = u->recs[i].first_child; s >= 0; s = u->recs[s].next_sib) {
        if (u->recs[s].tag != T_SUBRANGE) continue;
        int is_int;
        uint64_t ub = bound(fld(c, s, F_UB), &is_int), n = 0;
        if (is_int) {
            n = ub + 1;
        } else {
            uint64_t count = bound(fld(c, s, F_COUNT), &is_int);
            if (is_int) n = count;
        }
        nelems = (nelems * n) & 0xFFFFFFFFULL;
    }
    c->needs_int = 1;
    int64_t index = c->has_int ? c->int_id : -1, r;
    if (ref(c, fld(c, i, F_TYPE), &r) < 0) return -1;
    return put(c, id, Py_BuildValue("(isK)", K_ARRAY, "", (unsigned long long)nelems),
               Py_BuildValue("(LL)", (long long)r, (long long)index));
}

/* A formal parameter's name and type, each from its abstract origin where
 * the parameter has none (convert._Unit.proto) */
static void param_fields(Cv *c, int32_t p, const Val **name, const Val **ptype)
{
    *name = fld(c, p, F_NAME);
    *ptype = fld(c, p, F_TYPE);
    int32_t o = die_of(c, fld(c, p, F_AO));
    if (o >= 0) {
        if (!*name) *name = fld(c, o, F_NAME);
        if (!*ptype) *ptype = fld(c, o, F_TYPE);
    }
}

static int subroutine(Cv *c, int32_t i, int64_t id)
{
    UnitObject *u = c->u;
    Items names = { 0 }, types = { 0 };
    int vararg = 0, err = 0;
    for (int32_t p = u->recs[i].first_child; p >= 0 && !err; p = u->recs[p].next_sib) {
        int32_t tag = u->recs[p].tag;
        if (tag == T_UNSPECIFIED_PARAMETERS) { vararg = 1; continue; }
        if (tag != T_FORMAL_PARAMETER) continue;
        const Val *name, *ptype;
        param_fields(c, p, &name, &ptype);
        int64_t r;
        if (items_add(&names, name_of(c, name)) < 0 || ref(c, ptype, &r) < 0 ||
            items_add(&types, PyLong_FromLongLong(r)) < 0)
            err = 1;
    }
    if (!err && vararg &&
        (items_add(&names, PyUnicode_FromStringAndSize("", 0)) < 0 ||
         items_add(&types, PyLong_FromLong(0)) < 0))
        err = 1;
    int64_t ret = 0;
    if (!err && names.n > MAX_VLEN) err = fallback("too many parameters");
    if (!err && ref(c, fld(c, i, F_TYPE), &ret) < 0) err = 1;
    PyObject *label = NULL, *refs = NULL;
    if (!err) {
        label = PyTuple_New(2 + names.n);
        refs = PyTuple_New(1 + types.n);
    }
    if (label && refs) {
        PyTuple_SET_ITEM(label, 0, PyLong_FromLong(K_FUNC_PROTO));
        PyTuple_SET_ITEM(label, 1, PyUnicode_FromStringAndSize("", 0));
        for (Py_ssize_t k = 0; k < names.n; k++) PyTuple_SET_ITEM(label, 2 + k, names.v[k]);
        PyTuple_SET_ITEM(refs, 0, PyLong_FromLongLong(ret));
        for (Py_ssize_t k = 0; k < types.n; k++) PyTuple_SET_ITEM(refs, 1 + k, types.v[k]);
        names.n = types.n = 0;
    }
    items_free(&names);
    items_free(&types);
    if (err || !label || !refs) { Py_XDECREF(label); Py_XDECREF(refs); return -1; }
    return put(c, id, label, refs);
}

static int make(Cv *c, int32_t i, int64_t id)
{
    switch (c->u->recs[i].tag) {
    case T_BASE: return base_type(c, i, id);
    case T_POINTER: return one_ref(c, i, id, K_PTR, 0);
    case T_CONST: return one_ref(c, i, id, K_CONST, 0);
    case T_VOLATILE: return one_ref(c, i, id, K_VOLATILE, 0);
    case T_RESTRICT: return one_ref(c, i, id, K_RESTRICT, 0);
    case T_TYPEDEF: return one_ref(c, i, id, K_TYPEDEF, 1);
    case T_STRUCTURE: case T_CLASS: case T_UNION: return aggregate(c, i, id);
    case T_ENUMERATION: return enumeration(c, i, id);
    case T_ARRAY: return array(c, i, id);
    case T_SUBROUTINE: return subroutine(c, i, id);
    }
    return 0;
}

static int is_made(int32_t tag)
{
    switch (tag) {
    case T_BASE: case T_POINTER: case T_CONST: case T_VOLATILE: case T_RESTRICT:
    case T_TYPEDEF: case T_STRUCTURE: case T_CLASS: case T_UNION: case T_ENUMERATION:
    case T_ARRAY: case T_SUBROUTINE:
        return 1;
    }
    return 0;
}

static int run(Cv *c, PyObject *todo_list)
{
    UnitObject *u = c->u;
    Py_ssize_t n = u->n, nt = todo_list == Py_None ? n : PySequence_Fast_GET_SIZE(todo_list);
    int32_t *order = c->order = PyMem_Malloc((nt ? nt : 1) * sizeof(int32_t));
    if (!order) { PyErr_NoMemory(); return -1; }
    c->nt = nt;
    for (Py_ssize_t k = 0; k < nt; k++) {
        Py_ssize_t i = k;
        if (todo_list != Py_None) {
            i = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(todo_list, k));
            if (i < 0 || i >= n) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "todo: no such record");
                return -1;
            }
        }
        order[k] = (int32_t)i;
        c->todo[i] = 1;
    }
    /* ids first, so references can point forward */
    for (Py_ssize_t k = 0; k < nt; k++) {
        int32_t tag = u->recs[order[k]].tag;
        if (is_made(tag)) c->ids[order[k]] = c->first_id + c->count++;
        else if (tag == T_UNSPECIFIED_TYPE) c->ids[order[k]] = 0;
    }
    int err = 0;
    /* every slot is filled before the lists reach Python; on an error they
     * are dropped with the empty slots (NULL) a list's dealloc allows */
    c->labels = PyList_New(c->count);
    c->refs = PyList_New(c->count);
    if (!c->labels || !c->refs) err = 1;
    if (!err && u->first_int >= 0) {
        if (type_of(c, u->first_int, 0, &c->int_id) < 0) err = 1;
        c->has_int = 1;
    }
    for (Py_ssize_t k = 0; k < nt && !err; k++)
        if (is_made(u->recs[order[k]].tag) && make(c, order[k], c->ids[order[k]]) < 0)
            err = 1;
    if (err) return -1;
    if (c->needs_int && !c->has_int) {
        /* no `int` in the unit: arrays are indexed by one made here */
        c->int_id = c->first_id + c->count++;
        c->has_int = 1;
        PyObject *lab = Py_BuildValue("(isiiii)", K_INT, "int", 4, 32, 1, 0);
        if (!lab || PyList_Append(c->labels, lab) < 0 ||
            PyList_Append(c->refs, c->empty) < 0) { Py_XDECREF(lab); return -1; }
        Py_DECREF(lab);
        for (Py_ssize_t k = 0; k < c->count; k++) {
            PyObject *l = PyList_GET_ITEM(c->labels, k), *r = PyList_GET_ITEM(c->refs, k);
            if (PyLong_AsLong(PyTuple_GET_ITEM(l, 0)) != K_ARRAY ||
                PyLong_AsLongLong(PyTuple_GET_ITEM(r, 1)) != -1)
                continue;
            PyObject *fixed = Py_BuildValue("(OL)", PyTuple_GET_ITEM(r, 0),
                                            (long long)c->int_id);
            if (!fixed) return -1;
            PyList_SetItem(c->refs, k, fixed);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Function and variable candidates (convert._Unit.function, .variable)      */

/* The classes the candidates are made of, and the unit's DW_OP_addrx resolver */
typedef struct {
    PyObject *func, *var, *proto, *param, *addrx;
} Makers;

/* origin_chain(): the field of record i, else of its abstract origin, else
 * of its specification, at most 8 records deep; NULL for None */
static const Val *origin_chain(Cv *c, int32_t i, int f)
{
    for (int seen = 0; i >= 0 && seen < 8; seen++) {
        const Val *v = fld(c, i, f);
        if (v) return v;
        int32_t nxt = die_of(c, fld(c, i, F_AO));
        i = nxt >= 0 ? nxt : die_of(c, fld(c, i, F_SPEC));
    }
    return NULL;
}

/* A value as the record's tuple holds it (None when absent) */
static PyObject *obj_of(Cv *c, const Val *v)
{
    return v ? api->val_obj(c->u, v) : Py_NewRef(Py_None);
}

/* _Unit.proto(): the FuncProto of subprogram or subroutine record i with
 * return type `ret`; *named: every parameter has a name; *listed: how many
 * formal parameters the record has. */
static PyObject *proto_of(Cv *c, const Makers *mk, int32_t i, const Val *ret, int *named,
                          Py_ssize_t *listed)
{
    UnitObject *u = c->u;
    PyObject *params = PyList_New(0);
    int vararg = 0;
    *named = 1;
    *listed = 0;
    for (int32_t p = u->recs[i].first_child; params && p >= 0; p = u->recs[p].next_sib) {
        int32_t tag = u->recs[p].tag;
        if (tag == T_UNSPECIFIED_PARAMETERS) { vararg = 1; continue; }
        if (tag != T_FORMAL_PARAMETER) continue;
        const Val *name, *ptype;
        param_fields(c, p, &name, &ptype);
        PyObject *nm = name_of(c, name), *param = NULL;
        int64_t r;
        if (nm) {
            *named = *named && PyUnicode_GET_LENGTH(nm) > 0;
            if (ref(c, ptype, &r) == 0)
                param = PyObject_CallFunction(mk->param, "OL", nm, (long long)r);
        }
        Py_XDECREF(nm);
        if (!param || PyList_Append(params, param) < 0) Py_CLEAR(params);
        Py_XDECREF(param);
        ++*listed;
    }
    if (params && vararg) {
        PyObject *param = PyObject_CallFunction(mk->param, "si", "", 0);
        if (!param || PyList_Append(params, param) < 0) Py_CLEAR(params);
        Py_XDECREF(param);
    }
    int64_t r;
    if (params && PyList_GET_SIZE(params) > MAX_VLEN) {
        fallback("too many parameters");
        Py_CLEAR(params);
    }
    if (!params || ref(c, ret, &r) < 0) { Py_XDECREF(params); return NULL; }
    PyObject *proto = PyObject_CallFunction(mk->proto, "LO", (long long)r, params);
    Py_DECREF(params);
    return proto;
}

/* _Unit.function() of subprogram record i, without decl tags or flags */
static PyObject *function(Cv *c, const Makers *mk, int32_t i)
{
    const Val *ret = origin_chain(c, i, F_TYPE);
    int named;
    Py_ssize_t listed;
    PyObject *proto = proto_of(c, mk, i, ret, &named, &listed), *own = NULL;
    if (!proto) return NULL;
    const Val *ao = fld(c, i, F_AO);
    int32_t o = die_of(c, ao);
    if (!listed && ao && o >= 0) {
        /* a concrete instance that lists no parameters: its origin's */
        own = proto;
        proto = proto_of(c, mk, o, ret, &named, &listed);
        if (!proto) { Py_DECREF(own); return NULL; }
        PyObject *a = PyObject_GetAttrString(proto, "params");
        PyObject *b = PyObject_GetAttrString(own, "params");
        int differ = a && b ? PyList_GET_SIZE(a) != PyList_GET_SIZE(b) : -1;
        Py_XDECREF(a); Py_XDECREF(b);
        if (differ < 0) { Py_DECREF(own); Py_DECREF(proto); return NULL; }
        if (!differ) Py_CLEAR(own);
    }
    const Val *ext = origin_chain(c, i, F_EXTERNAL);
    PyObject *name = obj_of(c, origin_chain(c, i, F_NAME));
    PyObject *low_pc = obj_of(c, fld(c, i, F_LOWPC));
    PyObject *out = NULL;
    if (name && low_pc)
        out = PyObject_CallFunction(mk->func, "OOOOONNKiO", name, proto,
                                    truthy(fld(c, i, F_DECL)) ? Py_True : Py_False,
                                    truthy(ext) ? Py_True : Py_False, low_pc,
                                    PyBool_FromLong(named), PyList_New(0),
                                    (unsigned long long)c->u->recs[i].off, 0,
                                    own ? own : Py_None);
    Py_XDECREF(name); Py_XDECREF(low_pc);
    Py_DECREF(proto); Py_XDECREF(own);
    return out;
}

/* _location_address(): a DW_OP_addr / DW_OP_addrx location's address, else None */
static PyObject *location_address(Cv *c, const Makers *mk, const Val *loc)
{
    if (!loc || (loc->kind != V_BLOCK && loc->kind != V_B16) || !loc->len)
        Py_RETURN_NONE;
    const uint8_t *p = (const uint8_t *)c->u->data.buf + loc->v;
    if (p[0] == 0x03 && loc->len > (uint32_t)c->psize) {            /* DW_OP_addr */
        uint64_t a = 0;
        for (int k = 0; k < c->psize; k++) a |= (uint64_t)p[1 + k] << (8 * k);
        return PyLong_FromUnsignedLongLong(a);
    }
    if ((p[0] == 0xa1 || p[0] == 0xfb) && mk->addrx != Py_None) {  /* DW_OP_(GNU_)addrx */
        uint64_t index = 0;
        for (uint32_t k = 1, shift = 0; k < loc->len; k++, shift += 7) {
            if (shift > 63) return fallback("a long ULEB128 operand"), NULL;
            index |= (uint64_t)(p[k] & 0x7f) << shift;
            if (!(p[k] & 0x80))
                return PyObject_CallFunction(mk->addrx, "K", (unsigned long long)index);
        }
    }
    Py_RETURN_NONE;
}

/* _Unit.variable() of unit-level variable record i, without decl tags */
static PyObject *variable(Cv *c, const Makers *mk, int32_t i)
{
    int32_t spec = die_of(c, fld(c, i, F_SPEC));
    int32_t s = spec >= 0 ? spec : i;
    const Val *name = fld(c, i, F_NAME), *type = fld(c, i, F_TYPE);
    int64_t t;
    if (ref(c, type ? type : fld(c, s, F_TYPE), &t) < 0) return NULL;
    PyObject *nm = obj_of(c, name ? name : fld(c, s, F_NAME));
    PyObject *addr = nm ? location_address(c, mk, fld(c, i, F_LOC)) : NULL;
    PyObject *out = NULL;
    if (addr)
        out = PyObject_CallFunction(mk->var, "OLOOOONK", nm, (long long)t, addr,
                                    truthy(fld(c, s, F_EXTERNAL)) || truthy(fld(c, i, F_EXTERNAL))
                                        ? Py_True : Py_False,
                                    truthy(fld(c, i, F_DECL)) ? Py_True : Py_False,
                                    spec >= 0 ? Py_True : Py_False, PyList_New(0),
                                    (unsigned long long)c->u->recs[i].off);
    Py_XDECREF(nm); Py_XDECREF(addr);
    return out;
}

/* convert()'s loop over the todo records: (funcs, vars) */
static PyObject *candidates(Cv *c, const Makers *mk)
{
    UnitObject *u = c->u;
    PyObject *funcs = PyList_New(0), *vars = PyList_New(0);
    for (Py_ssize_t k = 0; funcs && vars && k < c->nt; k++) {
        int32_t i = c->order[k];
        const Rec *r = &u->recs[i];
        PyObject *o;
        if (r->tag == T_SUBPROGRAM) {
            if (!(o = function(c, mk, i)) || PyList_Append(funcs, o) < 0) Py_CLEAR(funcs);
        } else if (r->tag == T_VARIABLE && r->parent == -1) {
            if (!(o = variable(c, mk, i)) || PyList_Append(vars, o) < 0) Py_CLEAR(vars);
        } else {
            continue;
        }
        Py_XDECREF(o);
    }
    if (!funcs || !vars) { Py_XDECREF(funcs); Py_XDECREF(vars); return NULL; }
    return Py_BuildValue("(NN)", funcs, vars);
}

/* _Unit.signed(): (signature, id) of each todo record with a signature,
 * in todo order; None if one has no id yet (a type the makers did not
 * reach: convert.py's type_of decides it after the functions, as before). */
static PyObject *signed_pairs(Cv *c)
{
    UnitObject *u = c->u;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t k = 0; out && u->sigok && k < c->nt; k++) {
        int32_t i = c->order[k];
        if (!u->sigok[i]) continue;
        if (c->ids[i] == NOID) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        PyObject *pair = Py_BuildValue("(NL)", sig_of(u, i), (long long)c->ids[i]);
        if (!pair || PyList_Append(out, pair) < 0) Py_CLEAR(out);
        Py_XDECREF(pair);
    }
    return out;
}

static PyObject *types(PyObject *self, PyObject *args)
{
    PyObject *unit, *todo, *makers = Py_None;
    long long first_id, known_first;
    int opt_float, opt_enum64, psize, little;
    if (!PyArg_ParseTuple(args, "O!OLLppip|O", api->unit_type, &unit, &todo, &first_id,
                          &known_first, &opt_float, &opt_enum64, &psize, &little, &makers))
        return NULL;
    Makers mk;
    if (makers != Py_None && !PyArg_ParseTuple(makers, "OOOOO;makers: (FuncCandidate, "
                                               "VarCandidate, FuncProto, Param, addrx)",
                                               &mk.func, &mk.var, &mk.proto, &mk.param,
                                               &mk.addrx))
        return NULL;
    if (todo != Py_None && !(todo = PySequence_Fast(todo, "todo: record indexes or None")))
        return NULL;
    if (todo == Py_None) Py_INCREF(todo);
    Cv c;
    memset(&c, 0, sizeof c);
    c.u = (UnitObject *)unit;
    Py_ssize_t n = c.u->n;
    c.ids = PyMem_Malloc((n ? n : 1) * sizeof(int64_t));
    c.todo = PyMem_Calloc(n ? n : 1, 1);
    c.known = PyList_New(0);
    c.empty = PyTuple_New(0);
    PyObject *out = NULL;
    if (!c.ids || !c.todo || !c.known || !c.empty) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) c.ids[i] = NOID;
    c.signed_mode = todo != Py_None;
    c.first_id = first_id;
    c.known_first = known_first;
    c.opt_float = opt_float;
    c.opt_enum64 = opt_enum64;
    c.psize = psize;
    c.little = little;
    if (run(&c, todo) < 0) goto done;
    PyObject *cands = makers == Py_None ? Py_NewRef(Py_None) : candidates(&c, &mk);
    if (!cands) goto done;
    PyObject *ids = PyDict_New();
    for (Py_ssize_t i = 0; ids && i < n; i++) {
        if (c.ids[i] == NOID) continue;
        PyObject *k = PyLong_FromSsize_t(i), *v = PyLong_FromLongLong(c.ids[i]);
        int bad = !k || !v || PyDict_SetItem(ids, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad) Py_CLEAR(ids);
    }
    if (!ids) { Py_DECREF(cands); goto done; }
    PyObject *pairs = c.signed_mode ? signed_pairs(&c) : Py_NewRef(Py_None);
    if (!pairs) { Py_DECREF(ids); Py_DECREF(cands); goto done; }
    out = Py_BuildValue("(OONON" "ONN)", c.labels, c.refs, ids, c.known,
                        c.has_int ? PyLong_FromLongLong(c.int_id) : Py_NewRef(Py_None),
                        c.needs_int ? Py_True : Py_False, pairs, cands);
done:
    Py_XDECREF(c.labels);
    Py_XDECREF(c.refs);
    Py_XDECREF(c.known);
    Py_XDECREF(c.empty);
    PyMem_Free(c.ids);
    PyMem_Free(c.todo);
    PyMem_Free(c.order);
    Py_DECREF(todo);
    return out;
}

static PyMethodDef methods[] = {
    {"types", types, METH_VARARGS,
     "types(unit, todo, first_id, known_first, float, enum64, pointer_size, little_endian,"
     " makers=None) -> (labels, refs, ids, known, int_id, needs_int, signed, candidates)"},
    {NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "encoder.graph._cconvert",
    "convert.py's type makers, compiled to dedup's compact form", -1, methods
};

PyMODINIT_FUNC PyInit__cconvert(void)
{
    PyObject *walk = PyImport_ImportModule("encoder.dwarf._cwalk");
    if (!walk) return NULL;
    Py_DECREF(walk);
    api = PyCapsule_Import(CWALK_CAPSULE, 0);
    if (!api) return NULL;
    return PyModule_Create(&moddef);
}
