/* The common x86-64 relocations of a debug section, applied in C.
 *
 * relocs.py's short path for ELF64 RELA on x86-64, entry for entry:
 * R_X86_64_64 (1) writes S + A as 8 bytes, R_X86_64_32 (10) writes S + A
 * as 4 bytes when 0 <= S + A < 2^32, R_X86_64_NONE (0) writes nothing.
 * Anything else -- another type, a symbol or an offset out of range, a
 * value that does not fit -- is left to relocs.py, which applies it or
 * says what is wrong: apply_x86_64 stops there and returns its index.
 * xfs.ko has ~730 k of these in .rela.debug_info: 160 ms in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Entries start.. of `ent` (n entries of 24 bytes as stored: offset, info,
 * addend) applied to out[0..size); the index of the first one left to
 * relocs.py, or -1. */
static Py_ssize_t apply(uint8_t *out, Py_ssize_t size, const uint8_t *ent, Py_ssize_t n,
                        const uint64_t *sym, Py_ssize_t nsym, Py_ssize_t start)
{
    for (Py_ssize_t i = start < 0 ? 0 : start; i < n; i++) {
        int64_t o, info, a;
        memcpy(&o, ent + 24 * i, 8);
        memcpy(&info, ent + 24 * i + 8, 8);
        memcpy(&a, ent + 24 * i + 16, 8);
        uint64_t t = (uint64_t)info & 0xFFFFFFFFu;
        uint64_t s = (uint64_t)info >> 32;
        if (t == 0)
            continue;
        if ((t != 1 && t != 10) || info < 0 || s >= (uint64_t)nsym || o < 0
            || o > size - (t == 1 ? 8 : 4))
            return i;
        if (t == 1) {
            uint64_t v = sym[s] + (uint64_t)a;           /* mod 2^64, as & M64 */
            memcpy(out + o, &v, 8);
        } else {
            /* 0 <= S + A < 2^32, S unsigned and A signed 64-bit */
            if (a >= 0 ? sym[s] > 0xFFFFFFFFu || (uint64_t)a > 0xFFFFFFFFu - sym[s]
                       : sym[s] < (uint64_t)0 - (uint64_t)a
                         || sym[s] - ((uint64_t)0 - (uint64_t)a) > 0xFFFFFFFFu)
                return i;
            uint32_t w = (uint32_t)(sym[s] + (uint64_t)a);
            memcpy(out + o, &w, 4);
        }
    }
    return -1;
}

/* The entries and symbol values of a call, checked. */
static int take(PyObject *o_ent, PyObject *o_sym, Py_buffer *b_ent, Py_buffer *b_sym)
{
    if (PyObject_GetBuffer(o_ent, b_ent, PyBUF_SIMPLE) < 0)
        return -1;
    if (PyObject_GetBuffer(o_sym, b_sym, PyBUF_FORMAT) < 0) {
        PyBuffer_Release(b_ent);
        return -1;
    }
    if (b_sym->itemsize != 8 || b_ent->len % 24) {
        PyErr_SetString(PyExc_ValueError, "_crelocs: 8-byte symbols, 24-byte entries");
        PyBuffer_Release(b_ent);
        PyBuffer_Release(b_sym);
        return -1;
    }
    return 0;
}

/* apply_x86_64(out, entries, symvals, start) -> index or -1: `entries` is
 * the RELA section as stored, read in place rather than split into
 * columns first. */
static PyObject *apply_x86_64(PyObject *self, PyObject *args)
{
    PyObject *o_out, *o_ent, *o_sym;
    Py_ssize_t start;
    Py_buffer b_out, b_ent, b_sym;
    if (!PyArg_ParseTuple(args, "OOOn", &o_out, &o_ent, &o_sym, &start))
        return NULL;
    if (PyObject_GetBuffer(o_out, &b_out, PyBUF_WRITABLE) < 0)
        return NULL;
    if (take(o_ent, o_sym, &b_ent, &b_sym) < 0) {
        PyBuffer_Release(&b_out);
        return NULL;
    }
    Py_ssize_t stop = apply(b_out.buf, b_out.len, b_ent.buf, b_ent.len / 24, b_sym.buf,
                            b_sym.len / 8, start);
    PyBuffer_Release(&b_out);
    PyBuffer_Release(&b_ent);
    PyBuffer_Release(&b_sym);
    return PyLong_FromSsize_t(stop);
}

/* relocated(data, entries, symvals) -> (bytes, index or -1): a copy of
 * `data` with the entries applied up to the first one left to relocs.py.
 * One copy of xfs.ko's 11 MB .debug_info, where a bytearray to apply them
 * to and the bytes made of it after were two more. */
static PyObject *relocated(PyObject *self, PyObject *args)
{
    PyObject *o_data, *o_ent, *o_sym;
    Py_buffer b_data, b_ent, b_sym;
    if (!PyArg_ParseTuple(args, "OOO", &o_data, &o_ent, &o_sym))
        return NULL;
    if (PyObject_GetBuffer(o_data, &b_data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (take(o_ent, o_sym, &b_ent, &b_sym) < 0) {
        PyBuffer_Release(&b_data);
        return NULL;
    }
    /* a new bytes object is written before anyone else can see it */
    PyObject *out = PyBytes_FromStringAndSize(NULL, b_data.len);
    Py_ssize_t stop = -1;
    if (out) {
        memcpy(PyBytes_AS_STRING(out), b_data.buf, b_data.len);
        stop = apply((uint8_t *)PyBytes_AS_STRING(out), b_data.len, b_ent.buf, b_ent.len / 24,
                     b_sym.buf, b_sym.len / 8, 0);
    }
    PyBuffer_Release(&b_data);
    PyBuffer_Release(&b_ent);
    PyBuffer_Release(&b_sym);
    if (!out)
        return NULL;
    return Py_BuildValue("(Nn)", out, stop);
}

static PyMethodDef methods[] = {
    {"apply_x86_64", apply_x86_64, METH_VARARGS,
     "apply_x86_64(out, entries, symvals, start) -> index of the first entry left to "
     "relocs.py, or -1"},
    {"relocated", relocated, METH_VARARGS,
     "relocated(data, entries, symvals) -> (a relocated copy of data as bytes, index of "
     "the first entry left to relocs.py or -1)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "_crelocs", NULL, -1, methods};

PyMODINIT_FUNC PyInit__crelocs(void)
{
    if (sizeof(int64_t) != 8 || 1 != *(const uint8_t *)&(const uint16_t){1})
        return PyErr_Format(PyExc_ImportError, "_crelocs: a little-endian host is needed");
    return PyModule_Create(&moddef);
}
