/*
 * frozen.py's key hash and table probe, compiled.
 *
 * A module's run over a base asks the base's frozen tables tens of
 * thousands of questions (xfs.ko 42 k, a batch of every module 1.5 M); in
 * Python each one hashed the key's repr and stepped through the slots a
 * frame at a time.  frozen.py keeps the reference (key_hash_py, the probe
 * loop) and the fallback; tests/test_frozen.py holds both to the same
 * answers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
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

/* probe(blob, key, missing): the value of `key` in FrozenTable.pack's
 * bytes, or `missing`.  The layout is frozen.py's: header (magic, n,
 * slots), slot -> entry + 1 (u32), the entries' hashes (u64), then a
 * FrozenList (magic, n, ends u32[n + 1], marshalled (key, value) records). */
static PyObject *probe(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "probe(blob, key, missing)");
        return NULL;
    }
    PyObject *key = args[1], *missing = args[2], *result = NULL;
    uint64_t h;
    if (hash_of(key, &h) < 0) return NULL;
    Py_buffer b;
    if (PyObject_GetBuffer(args[0], &b, PyBUF_SIMPLE) < 0) return NULL;
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

static PyMethodDef methods[] = {
    {"key_hash", key_hash, METH_O, "key_hash(key) -> frozen.py's 64-bit hash of a key"},
    {"probe", (PyCFunction)(void (*)(void))probe, METH_FASTCALL,
     "probe(blob, key, missing) -> the key's value in a packed table, or missing"},
    {NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_cfrozen", "frozen.py's key hash and probe, compiled.", -1, methods
};

PyMODINIT_FUNC PyInit__cfrozen(void)
{
    return PyModule_Create(&moddef);
}
