/*
 * The encoder's loops over a unit's signatures, compiled: learned.py's
 * (what reaches a declaration, what a batch learns) and encode.py's (which
 * store id a signature stands for in this module).
 *
 * A batch of every module signs ~2.4 M types and refers to ~1 M known
 * ones; in Python these loops cost ~9 % of the batch, a few dict
 * operations per signature wrapped in interpreter steps.  learned.py keeps
 * the reference of each (note_signed_py, ...) and the fallback;
 * tests/test_learned.py holds both to the same answers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* A (signature, id) pair's parts: 0, or -1 with an exception. */
static int pair_of(PyObject *item, PyObject **sig, Py_ssize_t *id)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_SetString(PyExc_TypeError, "a (signature, id) pair");
        return -1;
    }
    *sig = PyTuple_GET_ITEM(item, 0);
    *id = PyLong_AsSsize_t(PyTuple_GET_ITEM(item, 1));
    return *id == -1 && PyErr_Occurred() ? -1 : 0;
}

/* An array('I')'s items, or NULL with TypeError. */
static const unsigned int *ids_of(Py_buffer *b, PyObject *o, const char *what)
{
    if (PyObject_GetBuffer(o, b, PyBUF_FORMAT) < 0) return NULL;
    if (b->itemsize != 4 || !b->format || strcmp(b->format, "I")) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_TypeError, "%s is an array('I')", what);
        return NULL;
    }
    return b->buf;
}

/* note_signed(signed, first, n, dirty, clean) -> mine: the pairs of `signed`
 * whose id is one of the unit's own types (first .. first + n), each
 * signature's verdict put in `clean` unless it has one (True: dirty[id -
 * first] is 0, the type reaches no declaration). */
static PyObject *note_signed(PyObject *self, PyObject *args)
{
    PyObject *pairs, *dirty, *clean;
    Py_ssize_t first, n;
    if (!PyArg_ParseTuple(args, "O!nnOO!", &PyList_Type, &pairs, &first, &n, &dirty,
                          &PyDict_Type, &clean))
        return NULL;
    Py_buffer d;
    if (PyObject_GetBuffer(dirty, &d, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *mine = NULL;
    if (n < 0 || d.len < n) {
        PyErr_SetString(PyExc_ValueError, "note_signed: fewer verdicts than types");
        goto done;
    }
    const unsigned char *bad = d.buf;
    if (!(mine = PyList_New(0))) goto done;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs); k++) {
        PyObject *item = PyList_GET_ITEM(pairs, k), *sig;
        Py_ssize_t id;
        if (pair_of(item, &sig, &id) < 0) { Py_CLEAR(mine); break; }
        if (id < first || id - first >= n) continue;
        if (PyList_Append(mine, item) < 0 ||
            !PyDict_SetDefault(clean, sig, bad[id - first] ? Py_False : Py_True)) {
            Py_CLEAR(mine);
            break;
        }
    }
done:
    PyBuffer_Release(&d);
    return mine;
}

/* known_verdicts(known, clean, table) -> bytes: per signature of `known`,
 * 1 if its type reaches a declaration: its verdict in `clean` if this
 * module has one, else clean exactly when `table` (what earlier modules
 * proved) holds it. */
static PyObject *known_verdicts(PyObject *self, PyObject *args)
{
    PyObject *known, *clean, *table;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &known, &PyDict_Type, &clean,
                          &PyDict_Type, &table))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(known);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (!out) return NULL;
    char *p = PyBytes_AS_STRING(out);
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *sig = PyList_GET_ITEM(known, k);
        PyObject *v = PyDict_GetItemWithError(clean, sig);
        int ok = v ? PyObject_IsTrue(v) : PyErr_Occurred() ? -1 : PyDict_Contains(table, sig);
        if (ok < 0) { Py_DECREF(out); return NULL; }
        p[k] = !ok;
    }
    return out;
}

/* learn_signed(mine, dirty, first, own, own_first, end, dirty_base, table)
 * -> new: of one unit's pairs (note_signed's `mine`), each clean one whose
 * final id own[id - own_first] is a base id (< end) not marked in
 * `dirty_base` (a byte per base id below end) goes into `table`, unless
 * there already; returns the signatures added. */
static PyObject *learn_signed(PyObject *self, PyObject *args)
{
    PyObject *pairs, *dirty, *own, *table;
    Py_ssize_t first, own_first, end;
    Py_buffer db;
    if (!PyArg_ParseTuple(args, "O!OnOnny*O!", &PyList_Type, &pairs, &dirty, &first, &own,
                          &own_first, &end, &db, &PyDict_Type, &table))
        return NULL;
    Py_buffer d, m;
    if (PyObject_GetBuffer(dirty, &d, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&db); return NULL; }
    const unsigned int *final_of = ids_of(&m, own, "learn_signed: own");
    if (!final_of) { PyBuffer_Release(&d); PyBuffer_Release(&db); return NULL; }
    const unsigned char *bad = d.buf, *dirty_base = db.buf;
    Py_ssize_t nown = m.len / 4;
    PyObject *added = PyList_New(0);
    if (!added) goto done;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs); k++) {
        PyObject *sig;
        Py_ssize_t id;
        if (pair_of(PyList_GET_ITEM(pairs, k), &sig, &id) < 0) goto fail;
        if (id < first || id - first >= d.len || id < own_first || id - own_first >= nown) {
            PyErr_Format(PyExc_IndexError, "learn_signed: type %zd is not the unit's", id);
            goto fail;
        }
        if (bad[id - first]) continue;
        Py_ssize_t final = final_of[id - own_first];
        if (final >= end) continue;
        if (final >= db.len) {
            PyErr_Format(PyExc_IndexError, "learn_signed: base type %zd has no dirty byte", final);
            goto fail;
        }
        if (dirty_base[final]) continue;
        PyObject *fo = PyLong_FromSsize_t(final);
        int had = fo ? PyDict_Contains(table, sig) : -1;
        if (!had && (PyDict_SetItem(table, sig, fo) < 0 || PyList_Append(added, sig) < 0))
            had = -1;
        Py_XDECREF(fo);
        if (had < 0) goto fail;
    }
    goto done;
fail:
    Py_CLEAR(added);
done:
    PyBuffer_Release(&m);
    PyBuffer_Release(&d);
    PyBuffer_Release(&db);
    return added;
}

/* first_ids(signed, into, first, own, known_first, known): each pair's
 * signature that `into` lacks gets the store id of its type, by
 * Deduper.store_map's rule: own[id - first] for the unit's own types,
 * known[id - known_first] for a known one, else the id itself. */
static PyObject *first_ids(PyObject *self, PyObject *args)
{
    PyObject *pairs, *into, *own_o, *known_o;
    Py_ssize_t first, known_first;
    if (!PyArg_ParseTuple(args, "O!O!nOnO", &PyList_Type, &pairs, &PyDict_Type, &into,
                          &first, &own_o, &known_first, &known_o))
        return NULL;
    Py_buffer ob, kb;
    const unsigned int *own = ids_of(&ob, own_o, "own"), *known;
    if (!own) return NULL;
    if (!(known = ids_of(&kb, known_o, "known"))) { PyBuffer_Release(&ob); return NULL; }
    Py_ssize_t nown = ob.len / 4, nknown = kb.len / 4;
    int err = 0;
    for (Py_ssize_t k = 0; k < PyList_GET_SIZE(pairs) && !err; k++) {
        PyObject *sig;
        Py_ssize_t id, to = -1;
        if (pair_of(PyList_GET_ITEM(pairs, k), &sig, &id) < 0) { err = 1; break; }
        int has = PyDict_Contains(into, sig);
        if (has) { err = has < 0; continue; }
        if (id >= first) {
            if (id - first < nown) to = own[id - first];
        } else if (nknown && id >= known_first) {
            if (id - known_first < nknown) to = known[id - known_first];
        } else {
            to = id;
        }
        if (to < 0) {
            PyErr_Format(PyExc_IndexError, "first_ids: type %zd is not the unit's", id);
            err = 1;
            break;
        }
        PyObject *v = PyLong_FromSsize_t(to);
        err = !v || PyDict_SetItem(into, sig, v) < 0;
        Py_XDECREF(v);
    }
    PyBuffer_Release(&kb);
    PyBuffer_Release(&ob);
    return err ? NULL : Py_NewRef(Py_None);
}

/* known_ids(known, mine, learned) -> list: each signature's id in `mine`
 * (this module's), else in `learned` (KeyError if neither has it). */
static PyObject *known_ids(PyObject *self, PyObject *args)
{
    PyObject *known, *mine, *learned;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyList_Type, &known, &PyDict_Type, &mine,
                          &PyDict_Type, &learned))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(known);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t k = 0; out && k < n; k++) {
        PyObject *sig = PyList_GET_ITEM(known, k);
        PyObject *v = PyDict_GetItemWithError(mine, sig);
        if (!v && !PyErr_Occurred() && !(v = PyDict_GetItemWithError(learned, sig)) &&
            !PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, sig);
        if (!v) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, k, Py_NewRef(v));
    }
    return out;
}

static PyMethodDef methods[] = {
    {"note_signed", note_signed, METH_VARARGS,
     "note_signed(signed, first, n, dirty, clean) -> the unit's own pairs"},
    {"known_verdicts", known_verdicts, METH_VARARGS,
     "known_verdicts(known, clean, table) -> bytes: 1 where a known type is dirty"},
    {"learn_signed", learn_signed, METH_VARARGS,
     "learn_signed(mine, dirty, first, own, own_first, end, dirty_base, table) -> added"},
    {"first_ids", first_ids, METH_VARARGS,
     "first_ids(signed, into, first, own, known_first, known): store ids of new signatures"},
    {"known_ids", known_ids, METH_VARARGS,
     "known_ids(known, mine, learned) -> the known signatures' ids"},
    {NULL}
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_clearned", "learned.py's loops over signatures, compiled.", -1,
    methods
};

PyMODINIT_FUNC PyInit__clearned(void)
{
    return PyModule_Create(&moddef);
}
