/*
 * The records of the compiled DIE walk (_cwalk.c), for C code that reads
 * them without going through Python tuples: the converter in
 * encoder/graph/_cconvert.c.  It gets the functions below from the
 * capsule `encoder.dwarf._cwalk._C_API`.
 */
#ifndef CWALK_H
#define CWALK_H

#include <Python.h>
#include <stdint.h>

/* dies.py field indexes (checked against the Python side at import). */
enum {
    F_OFFSET, F_TAG, F_PARENT, F_NAME, F_TYPE, F_BYTE_SIZE, F_BIT_SIZE, F_DML, F_DBO, F_BO,
    F_ENCODING, F_UB, F_COUNT, F_CV, F_CF, F_EXTERNAL, F_DECL, F_SPEC, F_AO, F_LOWPC, F_LOC,
    F_LINK, F_INLINE, F_ALIGN, F_PROTO, F_ART, F_CC, F_ANN, NF
};
_Static_assert(NF <= 32, "a record's fields must fit one 32-bit mask");

/* value kinds of a record field */
enum { V_NONE, V_UINT, V_SINT, V_BOOL, V_REF, V_DIEREF, V_SIG, V_STR, V_LSTR, V_CSTR,
       V_BLOCK, V_B16 };

/* One attribute value of a kept DIE; a DIE's values sit together in the
 * unit's pool, in the order its abbreviation lists them (a later value for
 * the same field wins, as in walk.py). */
typedef struct {
    uint8_t kind, field;
    uint32_t len;
    uint64_t v;
} Val;

typedef struct {
    uint64_t off;
    int32_t tag, parent, first_child, last_child, next_sib;
    uint32_t vstart, nv;
} Rec;

typedef struct {
    const uint8_t *buf;
    Py_ssize_t size;
} Span;

typedef struct {
    PyObject_HEAD
    Rec *recs;
    Py_ssize_t n, cap;
    Val *vals;
    Py_ssize_t nvals, vcap;
    PyObject **cache;         /* built tuples */
    PyObject *strcache;       /* dict: .debug_str offset -> str */
    PyObject *owner;          /* keeps the buffers alive */
    Py_buffer data, str, lstr;
    int has_str, has_lstr;
    uint64_t uoff;
    long visited;
    /* signatures */
    uint64_t *sig;            /* 2 per record; valid where sigok */
    uint8_t *sigok;
    int32_t first_int;
    int32_t pass1_signed;     /* classify: definitions signed from pass 1's table */
    /* DIE offset -> record index: per AT_STEP bytes from the first
     * record's offset, the first record at or after them */
    int32_t *at;
    uint64_t at_base, at_n;
} UnitObject;

/* The value of `field` in record r (the last one given), or NULL. */
static inline const Val *field_of(const Val *vals, const void *rp, int field)
{
    const Rec *r = rp;
    const Val *found = NULL;
    for (uint32_t i = 0; i < r->nv; i++)
        if (vals[r->vstart + i].field == field)
            found = &vals[r->vstart + i];
    return found;
}

/* What _cwalk exports to other extensions (a capsule: no linking). */
typedef struct {
    PyTypeObject *unit_type;
    PyObject *fallback;                                   /* _cwalk.Fallback */
    Py_ssize_t (*find)(UnitObject *u, uint64_t off);      /* record of a DIE offset, -1 */
    PyObject *(*val_obj)(UnitObject *u, const Val *v);    /* a value as dies.py gives it */
} CwalkAPI;

#define CWALK_CAPSULE "encoder.dwarf._cwalk._C_API"

#endif
