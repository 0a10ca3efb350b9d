/*
 * frozen.py's key hash, table probe and Overlay, compiled.
 *
 * A module's run over a base asks the base's frozen tables tens of
 * thousands of questions (xfs.ko 42 k, a batch of every module several
 * million); in Python each one hashed the key's repr and stepped through
 * the slots a frame at a time.  frozen.py keeps the reference (key_hash_py,
 * the probe loop, OverlayPy) and the fallback; tests/test_frozen.py holds
 * both to the same answers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define M1 0x9e3779b97f4a7c15ULL

static inline uint64_t word(uint64_t h, uint64_t w)
{
    uint64_t x = h ^ w;
    return (x << 29 | x >> 35) * M1;
}

static inline uint64_t fmix(uint64_t k)
{
    k ^= k >> 33; k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33; k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static inline uint64_t le(const uint8_t *p, Py_ssize_t n)
{
    uint64_t v = 0;
    for (Py_ssize_t i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint64_t bytes_in(uint64_t h, const uint8_t *p, Py_ssize_t n)
{
    h = word(h, (uint64_t)n);
    for (; n >= 8; p += 8, n -= 8) h = word(h, le(p, 8));
    if (n) h = word(h, le(p, n) | (uint64_t)n << 56);
    return h;
}

/* The key's words into h; -1 with TypeError for what keys never hold. */
static int feed(uint64_t *h, PyObject *x)
{
    if (x == Py_None) { *h = word(*h, 1); return 0; }
    if (PyBool_Check(x)) { *h = word(*h, 2 | (uint64_t)(x == Py_True) << 8); return 0; }
    if (PyLong_Check(x)) {
        int over = 0;
        long long v = PyLong_AsLongLongAndOverflow(x, &over);
        if (v == -1 && PyErr_Occurred()) return -1;
        if (!over) { *h = word(word(*h, 3), (uint64_t)v); return 0; }
        PyObject *s = PyObject_Str(x);
        if (!s) return -1;
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(s, &n);
        if (p) *h = bytes_in(word(*h, 4), (const uint8_t *)p, n);
        Py_DECREF(s);
        return p ? 0 : -1;
    }
    if (PyUnicode_Check(x)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(x, &n);
        if (p) { *h = bytes_in(word(*h, 5), (const uint8_t *)p, n); return 0; }
        /* lone surrogates: as frozen.py encodes them */
        PyErr_Clear();
        PyObject *b = PyUnicode_AsEncodedString(x, "utf-8", "surrogatepass");
        if (!b) return -1;
        *h = bytes_in(word(*h, 5), (const uint8_t *)PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        return 0;
    }
    if (PyTuple_Check(x)) {
        Py_ssize_t n = PyTuple_GET_SIZE(x);
        *h = word(word(*h, 6), (uint64_t)n);
        for (Py_ssize_t i = 0; i < n; i++)
            if (feed(h, PyTuple_GET_ITEM(x, i)) < 0) return -1;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "a frozen table's key holds no %.80s", Py_TYPE(x)->tp_name);
    return -1;
}

static int hash_of(PyObject *key, uint64_t *out)
{
    uint64_t h = 0x243f6a8885a308d3ULL;
    if (feed(&h, key) < 0) return -1;
    *out = fmix(h);
    return 0;
}

static PyObject *key_hash(PyObject *self, PyObject *key)
{
    uint64_t h;
    if (hash_of(key, &h) < 0) return NULL;
    return PyLong_FromUnsignedLongLong(h);
}

static inline uint32_t u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static PyObject *corrupt(void)
{
    PyErr_SetString(PyExc_ValueError, "corrupt frozen table");
    return NULL;
}

/* The value of `key` in FrozenTable.pack's bytes `blob`, or `missing`
 * (new references).  The layout is frozen.py's: header (magic, n, slots),
 * slot -> entry + 1 (u32), the entries' hashes (u64), then a FrozenList
 * (magic, n, ends u32[n + 1], marshalled (key, value) records). */
static PyObject *probe_blob(PyObject *blob, PyObject *key, PyObject *missing)
{
    PyObject *result = NULL;
    uint64_t h;
    if (hash_of(key, &h) < 0) return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(blob, &b, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *p = b.buf;
    Py_ssize_t len = b.len;
    if (len < 12) { result = corrupt(); goto out; }
    uint64_t n = u32(p + 4), nslots = u32(p + 8);
    uint64_t hashes = 12 + 4 * nslots, list = hashes + 8 * n, ends = list + 8;
    uint64_t records = ends + 4 * (n + 1);
    if (!nslots || nslots & (nslots - 1) || records > (uint64_t)len) { result = corrupt(); goto out; }
    uint64_t mask = nslots - 1, room = (uint64_t)len - records;
    for (uint64_t s = h & mask, tries = 0; tries < nslots; s = (s + 1) & mask, tries++) {
        uint64_t i = u32(p + 12 + 4 * s);
        if (!i) break;
        if (i > n) { result = corrupt(); goto out; }
        if (u64(p + hashes + 8 * (i - 1)) != h) continue;
        uint64_t lo = u32(p + ends + 4 * (i - 1)), hi = u32(p + ends + 4 * i);
        if (lo > hi || hi > room) { result = corrupt(); goto out; }
        PyObject *item = PyMarshal_ReadObjectFromString((const char *)p + records + lo,
                                                         (Py_ssize_t)(hi - lo));
        if (!item) goto out;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            Py_DECREF(item);
            result = corrupt();
            goto out;
        }
        int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(item, 0), key, Py_EQ);
        if (eq) result = eq > 0 ? Py_NewRef(PyTuple_GET_ITEM(item, 1)) : NULL;
        Py_DECREF(item);
        if (eq) goto out;
    }
    result = Py_NewRef(missing);
out:
    PyBuffer_Release(&b);
    return result;
}

/* probe(blob, key, missing): probe_blob for FrozenTable._probe. */
static PyObject *probe(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "probe(blob, key, missing)");
        return NULL;
    }
    return probe_blob(args[0], args[1], args[2]);
}

/* ------------------------------------------------------------------------ */
/* Overlay: frozen.py's OverlayPy, compiled.  dedup asks a base's reference
 * table a few million questions over a batch (ref_pass, from C); through
 * two Python frames (OverlayPy.get, FrozenTable.get) each hashed its key
 * twice and cost ~8 % of the batch.  Same answers, same caching: a
 * FrozenTable's answers go into its `_seen` dict, misses as MISSING. */

static PyObject *MISSING;           /* FrozenTable's "not in the table" */

typedef struct {
    PyObject_HEAD
    PyObject *frozen;   /* what reads fall through to: a FrozenTable or a dict */
    PyObject *own;      /* dict: what was added here */
    PyObject *seen;     /* frozen's answers so far; frozen itself if a dict */
    PyObject *blob;     /* frozen's bytes; NULL if frozen is a dict */
} Overlay;

static PyTypeObject OverlayType;

static int ov_setup(Overlay *o, PyObject *frozen, PyObject *own)
{
    if (own == NULL || own == Py_None) {
        if (!(own = PyDict_New())) return -1;
    } else if (PyDict_CheckExact(own)) {
        Py_INCREF(own);
    } else {
        PyErr_SetString(PyExc_TypeError, "an Overlay's own entries are a dict");
        return -1;
    }
    PyObject *seen = NULL, *blob = NULL;
    if (PyDict_Check(frozen)) {
        seen = Py_NewRef(frozen);
    } else {
        seen = PyObject_GetAttrString(frozen, "_seen");
        blob = seen ? PyObject_GetAttrString(frozen, "blob") : NULL;
        if (!blob || !PyDict_CheckExact(seen)) {
            Py_XDECREF(seen);
            Py_XDECREF(blob);
            Py_DECREF(own);
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "an Overlay lies over a dict or a FrozenTable");
            return -1;
        }
    }
    Py_XSETREF(o->frozen, Py_NewRef(frozen));
    Py_XSETREF(o->own, own);
    Py_XSETREF(o->seen, seen);
    Py_XSETREF(o->blob, blob);
    return 0;
}

static int ov_init(Overlay *o, PyObject *args, PyObject *kw)
{
    static char *names[] = { "frozen", "own", NULL };
    PyObject *frozen, *own = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O:Overlay", names, &frozen, &own)) return -1;
    return ov_setup(o, frozen, own);
}

/* The value of key, or MISSING (new references); NULL on error. */
static PyObject *ov_find(Overlay *o, PyObject *key)
{
    Py_hash_t h = PyObject_Hash(key);       /* once for both dicts: keys are tuples */
    if (h == -1) return NULL;
    PyObject *v = _PyDict_GetItem_KnownHash(o->own, key, h);
    if (v || PyErr_Occurred()) return Py_XNewRef(v);
    v = _PyDict_GetItem_KnownHash(o->seen, key, h);
    if (v || PyErr_Occurred()) return Py_XNewRef(v);
    if (!o->blob) return Py_NewRef(MISSING);
    if (!(v = probe_blob(o->blob, key, MISSING))) return NULL;
    if (PyDict_SetItem(o->seen, key, v) < 0) Py_CLEAR(v);
    return v;
}

static PyObject *ov_get(Overlay *o, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get(key, default=None)");
        return NULL;
    }
    PyObject *v = ov_find(o, args[0]);
    if (v == MISSING) {
        Py_DECREF(v);
        return Py_NewRef(nargs > 1 ? args[1] : Py_None);
    }
    return v;
}

static PyObject *ov_subscript(Overlay *o, PyObject *key)
{
    PyObject *v = ov_find(o, key);
    if (v == MISSING) {
        Py_DECREF(v);
        PyObject *args = PyTuple_Pack(1, key);     /* KeyError(key), as a dict raises it */
        if (args) {
            PyErr_SetObject(PyExc_KeyError, args);
            Py_DECREF(args);
        }
        return NULL;
    }
    return v;
}

static int ov_ass_subscript(Overlay *o, PyObject *key, PyObject *value)
{
    if (!value) {
        PyErr_SetString(PyExc_TypeError, "an Overlay's entries are never deleted");
        return -1;
    }
    return PyDict_SetItem(o->own, key, value);
}

static int ov_contains(Overlay *o, PyObject *key)
{
    PyObject *v = ov_find(o, key);
    if (!v) return -1;
    Py_DECREF(v);
    return v != MISSING;
}

static PyObject *ov_setdefault(Overlay *o, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "setdefault(key, value)");
        return NULL;
    }
    PyObject *v = ov_find(o, args[0]);
    if (v != MISSING) return v;
    Py_DECREF(v);
    if (PyDict_SetItem(o->own, args[0], args[1]) < 0) return NULL;
    return Py_NewRef(args[1]);
}

static PyObject *ov_pop(Overlay *o, PyObject *key)
{
    PyObject *pop = PyObject_GetAttrString(o->own, "pop");
    if (!pop) return NULL;
    PyObject *v = PyObject_CallOneArg(pop, key);
    Py_DECREF(pop);
    return v;
}

static PyObject *ov_copy(Overlay *o, PyObject *unused)
{
    PyObject *own = PyDict_Copy(o->own);
    if (!own) return NULL;
    PyObject *c = PyObject_CallFunctionObjArgs((PyObject *)Py_TYPE(o), o->frozen, own, NULL);
    Py_DECREF(own);
    return c;
}

static PyObject *ov_reduce(Overlay *o, PyObject *unused)
{
    return Py_BuildValue("(O(OO))", Py_TYPE(o), o->frozen, o->own);
}

static int ov_traverse(Overlay *o, visitproc visit, void *arg)
{
    Py_VISIT(o->frozen);
    Py_VISIT(o->own);
    Py_VISIT(o->seen);
    Py_VISIT(o->blob);
    return 0;
}

static int ov_clear(Overlay *o)
{
    Py_CLEAR(o->frozen);
    Py_CLEAR(o->own);
    Py_CLEAR(o->seen);
    Py_CLEAR(o->blob);
    return 0;
}

static void ov_dealloc(Overlay *o)
{
    PyObject_GC_UnTrack(o);
    ov_clear(o);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static PyMethodDef ov_methods[] = {
    {"get", (PyCFunction)(void (*)(void))ov_get, METH_FASTCALL, "get(key, default=None)"},
    {"setdefault", (PyCFunction)(void (*)(void))ov_setdefault, METH_FASTCALL,
     "setdefault(key, value): the key's value, adding value here if it has none"},
    {"pop", (PyCFunction)ov_pop, METH_O, "pop(key): remove an entry added here"},
    {"copy", (PyCFunction)ov_copy, METH_NOARGS, "an Overlay with a copy of the entries added here"},
    {"__reduce__", (PyCFunction)ov_reduce, METH_NOARGS, NULL},
    {NULL}
};

static PyMemberDef ov_members[] = {
    {"frozen", T_OBJECT, offsetof(Overlay, frozen), READONLY, "the table under this one"},
    {"own", T_OBJECT, offsetof(Overlay, own), READONLY, "the entries added here"},
    {NULL}
};

static PyMappingMethods ov_mapping = { 0, (binaryfunc)ov_subscript, (objobjargproc)ov_ass_subscript };
static PySequenceMethods ov_sequence = { .sq_contains = (objobjproc)ov_contains };

static PyTypeObject OverlayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "encoder._cfrozen.Overlay",
    .tp_doc = "A dict over a FrozenTable (or a dict nobody changes): frozen.py's OverlayPy.",
    .tp_basicsize = sizeof(Overlay),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ov_init,
    .tp_dealloc = (destructor)ov_dealloc,
    .tp_traverse = (traverseproc)ov_traverse,
    .tp_clear = (inquiry)ov_clear,
    .tp_methods = ov_methods,
    .tp_members = ov_members,
    .tp_as_mapping = &ov_mapping,
    .tp_as_sequence = &ov_sequence,
};

static PyMethodDef methods[] = {
    {"key_hash", key_hash, METH_O, "key_hash(key) -> frozen.py's 64-bit hash of a key"},
    {"probe", (PyCFunction)(void (*)(void))probe, METH_FASTCALL,
     "probe(blob, key, missing) -> the key's value in a packed table, or missing"},
    {NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_cfrozen", "frozen.py's key hash, probe and Overlay, compiled.", -1, methods
};

PyMODINIT_FUNC PyInit__cfrozen(void)
{
    if (PyType_Ready(&OverlayType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    if (!MISSING && !(MISSING = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type))) goto fail;
    if (PyModule_AddObjectRef(m, "MISSING", MISSING) < 0 ||
        PyModule_AddObjectRef(m, "Overlay", (PyObject *)&OverlayType) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
