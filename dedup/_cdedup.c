/*
 * The two inner loops of dedup/engine.py's merge, compiled: the graph walk
 * (`Graph._equiv`) and the pass over reference kinds (`Graph._ref_pass`).
 * engine.py holds the reference implementation of both and says why each
 * rule is there; this file follows it step for step, on the same lists,
 * dicts and sets, so that the two can be swapped at any call.  Likewise
 * compact.py's `reach_declarations`, which encoder/learned.py asks of every
 * unit of a batch.
 *
 * Labels are tuples (kind, name, ...); ids are ints indexing the parallel
 * lists `lab`, `ref` and `map`.  A base read lazily leaves None in `lab`
 * and `ref` until `unpack(x)` fills both in.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

enum { STRUCT = 4, UNION = 5, ENUM = 6, FWD = 7, VAR = 14, DATASEC = 15, ENUM64 = 19 };
enum { UNSET = -1, BUSY = -2 };

typedef struct {
    PyObject *lab, *ref, *mp, *unpack;
} Lists;

static int out_of_range(Py_ssize_t x)
{
    PyErr_Format(PyExc_IndexError, "dedup: type id %zd out of range", x);
    return -1;
}

/* map[x], or -3 with an exception set */
static inline Py_ssize_t map_at(const Lists *g, Py_ssize_t x)
{
    if (x < 0 || x >= PyList_GET_SIZE(g->mp)) return out_of_range(x), -3;
    Py_ssize_t m = PyLong_AsSsize_t(PyList_GET_ITEM(g->mp, x));
    if (m == -1 && PyErr_Occurred()) return -3;
    return m;
}

/* Graph.resolve: follow map to a type that maps to itself (or is undecided) */
static Py_ssize_t resolve(const Lists *g, Py_ssize_t x)
{
    Py_ssize_t m = map_at(g, x);
    while (m >= 0 && m != x) {
        x = m;
        m = map_at(g, x);
    }
    return m == -3 ? -3 : x;
}

static int set_map(const Lists *g, Py_ssize_t x, Py_ssize_t v)
{
    PyObject *o = PyLong_FromSsize_t(v);
    if (!o) return -1;
    PyList_SET_ITEM(g->mp, x, o);       /* x was checked by map_at */
    return 0;
}

/* lab[x] (borrowed), unpacked first if None; NULL with an exception set */
static PyObject *label(const Lists *g, Py_ssize_t x)
{
    if (x < 0 || x >= PyList_GET_SIZE(g->lab)) return out_of_range(x), NULL;
    PyObject *l = PyList_GET_ITEM(g->lab, x);
    if (l == Py_None) {
        PyObject *r = PyObject_CallFunction(g->unpack, "n", x);
        if (!r) return NULL;
        Py_DECREF(r);
        l = PyList_GET_ITEM(g->lab, x);
    }
    if (!PyTuple_Check(l) || PyTuple_GET_SIZE(l) < 2) {
        PyErr_Format(PyExc_TypeError, "dedup: type %zd has no label", x);
        return NULL;
    }
    return l;
}

/* ref[x] (borrowed): read after label(x), which unpacks both */
static PyObject *refs(const Lists *g, Py_ssize_t x)
{
    PyObject *r = PyList_GET_ITEM(g->ref, x);
    if (!PyTuple_Check(r)) {
        PyErr_Format(PyExc_TypeError, "dedup: type %zd has no refs", x);
        return NULL;
    }
    return r;
}

static inline long kind_of(PyObject *l) { return PyLong_AsLong(PyTuple_GET_ITEM(l, 0)); }

/* compact.is_fwd_label: FWD, or an enum without enumerators */
static inline int is_fwd(PyObject *l)
{
    long k = kind_of(l);
    return k == FWD || ((k == ENUM || k == ENUM64) && PyTuple_GET_SIZE(l) == 4);
}

static inline int same(PyObject *a, PyObject *b, int op)
{
    return PyObject_RichCompareBool(a, b, op);
}

/* engine._declares: is `fwd` a declaration of `l`?  -1 on error */
static int declares(PyObject *fwd, PyObject *l)
{
    int r = same(PyTuple_GET_ITEM(fwd, 1), PyTuple_GET_ITEM(l, 1), Py_EQ);
    if (r <= 0) return r;
    long k = kind_of(l);
    if (kind_of(fwd) == FWD) {
        if (PyTuple_GET_SIZE(fwd) < 3) return 0;
        int u = PyObject_IsTrue(PyTuple_GET_ITEM(fwd, 2));
        return u < 0 ? -1 : k == (u ? UNION : STRUCT);
    }
    return (k == ENUM || k == ENUM64) && PyTuple_GET_SIZE(l) > 4;
}

/* ------------------------------------------------------------------------ */
/* The graph walk                                                           */

typedef struct { PyObject *t, *c; int via_base; } Pair;    /* owned refs */

typedef struct { Pair *p; Py_ssize_t n, cap; } Work;

static int push(Work *w, PyObject *t, PyObject *c, int via_base)
{
    if (w->n == w->cap) {
        Py_ssize_t cap = w->cap ? 2 * w->cap : 64;
        Pair *p = PyMem_Realloc(w->p, cap * sizeof(Pair));
        if (!p) { PyErr_NoMemory(); return -1; }
        w->p = p;
        w->cap = cap;
    }
    Py_INCREF(t);
    Py_INCREF(c);
    w->p[w->n++] = (Pair){ t, c, via_base };
    return 0;
}

static void work_free(Work *w)
{
    while (w->n) {
        w->n--;
        Py_DECREF(w->p[w->n].t);
        Py_DECREF(w->p[w->n].c);
    }
    PyMem_Free(w->p);
}

/* The pair's canonical side as the walk sees it (engine._equiv's rc) */
static Py_ssize_t canonical(const Lists *g, PyObject *live, Py_ssize_t c, PyObject *c_o,
                            Py_ssize_t base_end)
{
    Py_ssize_t rc = map_at(g, c);
    if (rc == -3) return -3;
    if (rc == c) return c;
    if (c < base_end) {
        int in = PySet_Contains(live, c_o);
        if (in < 0) return -3;
        if (!in) return c;
    }
    if (rc < 0) return c;
    Py_ssize_t m = map_at(g, rc);
    if (m == -3) return -3;
    return m != rc ? resolve(g, rc) : rc;
}

/* equiv(lab, ref, map, live, base_end, cand, canon, unpack, identical)
 *   -> (hypot, wild, adjust) or None: Graph._equiv */
static PyObject *equiv(PyObject *self, PyObject *args)
{
    Lists g;
    PyObject *live, *cand, *canon, *identical;
    Py_ssize_t base_end;
    if (!PyArg_ParseTuple(args, "O!O!O!O!nO!O!OO", &PyList_Type, &g.lab, &PyList_Type, &g.ref,
                          &PyList_Type, &g.mp, &PySet_Type, &live, &base_end,
                          &PyLong_Type, &cand, &PyLong_Type, &canon, &g.unpack, &identical))
        return NULL;
    PyObject *hypot = PyDict_New(), *wild = PyDict_New(), *result = NULL;
    Work w = { 0 };
    int adjust = 0;
    Py_ssize_t canon_v = PyLong_AsSsize_t(canon);
    if (!hypot || !wild || (canon_v == -1 && PyErr_Occurred()) ||
        push(&w, cand, canon, canon_v < base_end) < 0)
        goto done;
    while (w.n) {
        Pair it = w.p[--w.n];
        PyObject *t_o = it.t, *c_o = it.c, *lt, *lc, *h_o;
        int ok = -1, t_fwd;
        Py_ssize_t t = PyLong_AsSsize_t(t_o), c = PyLong_AsSsize_t(c_o), rt, rc;
        if (PyErr_Occurred()) goto next;
        rt = map_at(&g, t);
        if (rt == -3) goto next;
        if (rt < 0 || rt == t) {
            rt = t;
        } else {
            Py_ssize_t m = map_at(&g, rt);
            if (m == -3 || (m != rt && (rt = resolve(&g, rt)) == -3)) goto next;
        }
        if ((rc = canonical(&g, live, c, c_o, base_end)) == -3) goto next;
        if (rt == rc) { ok = 1; goto next; }
        if (!(lc = label(&g, c))) goto next;
        if (rc != c && is_fwd(lc)) {
            PyObject *lr = label(&g, rc);
            if (!lr) goto next;
            if (!is_fwd(lr)) {
                PyObject *o = PyLong_FromSsize_t(rc);
                if (!o) goto next;
                Py_SETREF(c_o, o);
                c = rc;
                lc = lr;
            }
        }
        if (!(lt = label(&g, t))) goto next;
        t_fwd = is_fwd(lt);
        h_o = PyDict_GetItemWithError(hypot, c_o);
        if (!h_o && PyErr_Occurred()) goto next;
        if (h_o) {
            Py_ssize_t h = PyLong_AsSsize_t(h_o);
            if (h == -1 && PyErr_Occurred()) goto next;
            if (h == t) { ok = 1; goto next; }
            PyObject *lh = label(&g, h);
            int d;
            if (!lh) goto next;
            if (t_fwd && (d = declares(lt, lh)) != 0) {
                if (d < 0) goto next;           /* the unit's FWD of h: same type */
            } else if (is_fwd(lh) && (d = declares(lh, lt)) != 0) {
                if (d < 0 || PyDict_SetItem(hypot, c_o, t_o) < 0) goto next;
            } else {
                PyObject *r = PyObject_CallFunction(identical, "nn", h, t);
                if (!r) goto next;
                d = PyObject_IsTrue(r);
                Py_DECREF(r);
                if (d < 0) goto next;
                if (!d) { ok = 0; goto next; }
                ok = 1;
                goto next;
            }
        } else if (PyDict_SetItem(hypot, c_o, t_o) < 0) {
            goto next;
        }
        if (t_fwd && !is_fwd(lc)) {
            /* the declaration node the FWD stands for */
            Py_ssize_t d = t, m = map_at(&g, d);
            while (m >= 0 && m != d) {
                PyObject *lm = label(&g, m);
                if (!lm) goto next;
                if (!is_fwd(lm)) break;
                d = m;
                if ((m = map_at(&g, d)) == -3) goto next;
            }
            if (m == -3) goto next;
            PyObject *d_o = PyLong_FromSsize_t(d), *rc_o = PyLong_FromSsize_t(rc);
            PyObject *set = d_o && rc_o ? PyDict_SetDefault(wild, d_o, rc_o) : NULL;
            Py_XDECREF(d_o);
            Py_XDECREF(rc_o);
            if (!set) goto next;
        }
        int eq = same(lt, lc, Py_EQ);
        if (eq < 0) goto next;
        if (eq) {
            PyObject *tr = refs(&g, t), *cr;
            if (!tr) goto next;
            Py_ssize_t n = PyTuple_GET_SIZE(tr);
            if (n) {
                if (!(cr = refs(&g, c))) goto next;
                if (PyTuple_GET_SIZE(cr) != n) {
                    PyErr_Format(PyExc_ValueError, "dedup: types %zd and %zd have one "
                                 "label and different numbers of refs", t, c);
                    goto next;
                }
                long kc = kind_of(lc);
                int vb = kc == STRUCT || kc == UNION ? c < base_end : it.via_base;
                for (Py_ssize_t i = n - 1; i >= 0; i--)
                    if (push(&w, PyTuple_GET_ITEM(tr, i), PyTuple_GET_ITEM(cr, i), vb) < 0)
                        goto next;
            }
            ok = 1;
            goto next;
        }
        if ((eq = same(PyTuple_GET_ITEM(lt, 1), PyTuple_GET_ITEM(lc, 1), Py_EQ)) <= 0) {
            ok = eq < 0 ? -1 : 0;
            goto next;
        }
        long kt = kind_of(lt), kc = kind_of(lc);
        if (kt == FWD || kc == FWD) {
            if (kt == kc) { ok = 0; goto next; }    /* struct FWD vs union FWD */
            PyObject *fwd = kt == FWD ? lt : lc;
            long real = kt == FWD ? kc : kt;
            int u = PyTuple_GET_SIZE(fwd) > 2 ? PyObject_IsTrue(PyTuple_GET_ITEM(fwd, 2)) : 0;
            if (u < 0) goto next;
            long fwd_kind = u ? UNION : STRUCT;
            if (kt != FWD && fwd_kind == real && c < base_end && it.via_base)
                adjust = 1;
            ok = fwd_kind == real;
            goto next;
        }
        ok = (kt == ENUM || kt == ENUM64) && (kc == ENUM || kc == ENUM64) &&
             (PyTuple_GET_SIZE(lt) == 4 || PyTuple_GET_SIZE(lc) == 4);
    next:
        Py_DECREF(t_o);
        Py_DECREF(c_o);
        if (ok < 0) goto done;
        if (!ok) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    }
    result = Py_BuildValue("(OOO)", hypot, wild, adjust ? Py_True : Py_False);
done:
    work_free(&w);
    Py_XDECREF(hypot);
    Py_XDECREF(wild);
    return result;
}

/* ------------------------------------------------------------------------ */
/* The reference kinds                                                      */

/* ref_pass(lab, ref, map, table, new, g, end) -> g: Graph._ref_pass from g
 * until a loop of reference kinds (its nodes undecided again; the caller
 * hands it to the graph pass and calls again from the g returned) or end. */
static PyObject *ref_pass(PyObject *self, PyObject *args)
{
    Lists gl = { 0 };
    PyObject *table, *new;
    Py_ssize_t g, end;
    if (!PyArg_ParseTuple(args, "O!O!O!OO!nn", &PyList_Type, &gl.lab, &PyList_Type, &gl.ref,
                          &PyList_Type, &gl.mp, &table, &PyList_Type, &new, &g, &end))
        return NULL;
    if (end > PyList_GET_SIZE(gl.mp) || end > PyList_GET_SIZE(gl.lab) ||
        end > PyList_GET_SIZE(gl.ref))
        return out_of_range(end), NULL;
    Py_ssize_t *stack = NULL, sp = 0, cap = 0;
    PyObject *get = PyObject_GetAttrString(table, "get");
    if (!get) return NULL;
    for (; g < end; g++) {
        Py_ssize_t m = map_at(&gl, g);
        if (m == -3) goto fail;
        if (m != UNSET) continue;
        int cycle = 0;
        sp = 0;
        if (sp == cap) {
            Py_ssize_t *s = PyMem_Realloc(stack, (cap = cap ? 2 * cap : 64) * sizeof *stack);
            if (!s) { PyErr_NoMemory(); goto fail; }
            stack = s;
        }
        stack[sp++] = g;
        if (set_map(&gl, g, BUSY) < 0) goto fail;
        while (sp) {
            Py_ssize_t x = stack[sp - 1];
            PyObject *rs = refs(&gl, x);
            if (!rs) goto fail;
            int pushed = 0;
            for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(rs); i++) {
                Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, i));
                if (r == -1 && PyErr_Occurred()) goto fail;
                if ((m = map_at(&gl, r)) == -3) goto fail;
                if (m == UNSET) {
                    if (set_map(&gl, r, BUSY) < 0) goto fail;
                    if (sp == cap) {
                        Py_ssize_t *s = PyMem_Realloc(stack, (cap *= 2) * sizeof *stack);
                        if (!s) { PyErr_NoMemory(); goto fail; }
                        stack = s;
                    }
                    stack[sp++] = r;
                    pushed = 1;
                    break;
                }
                if (m == BUSY) { cycle = 1; break; }
            }
            if (cycle) break;
            if (pushed) continue;
            sp--;
            Py_ssize_t n = PyTuple_GET_SIZE(rs);
            PyObject *rr = PyTuple_New(n);
            if (!rr) goto fail;
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_ssize_t r = resolve(&gl, PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, i)));
                PyObject *o = r == -3 ? NULL : PyLong_FromSsize_t(r);
                if (!o) { Py_DECREF(rr); goto fail; }
                PyTuple_SET_ITEM(rr, i, o);
            }
            PyObject *lx = label(&gl, x);
            if (!lx) { Py_DECREF(rr); goto fail; }
            PyList_SetItem(gl.ref, x, rr);      /* steals rr (x < end); rs is done with */
            long k = kind_of(lx);
            if (k == VAR || k == DATASEC) {
                if (set_map(&gl, x, x) < 0) goto fail;
                continue;
            }
            PyObject *key = PyTuple_Pack(2, lx, rr);
            if (!key) goto fail;
            PyObject *c = PyObject_CallOneArg(get, key);
            if (!c) { Py_DECREF(key); goto fail; }
            if (c == Py_None) {
                PyObject *xo = PyLong_FromSsize_t(x);
                int bad = !xo || PyObject_SetItem(table, key, xo) < 0 ||
                          PyList_Append(new, key) < 0;
                Py_XDECREF(xo);
                Py_DECREF(key);
                Py_DECREF(c);
                if (bad || set_map(&gl, x, x) < 0) goto fail;
            } else {
                Py_DECREF(key);
                Py_ssize_t cv = PyLong_AsSsize_t(c);
                Py_DECREF(c);
                if ((cv == -1 && PyErr_Occurred()) || set_map(&gl, x, cv) < 0) goto fail;
            }
        }
        if (cycle) {
            /* a loop of reference kinds: undecided again, for the graph pass */
            for (Py_ssize_t i = 0; i < sp; i++)
                if (set_map(&gl, stack[i], UNSET) < 0) goto fail;
            break;
        }
    }
    PyMem_Free(stack);
    Py_DECREF(get);
    return PyLong_FromSsize_t(g);
fail:
    PyMem_Free(stack);
    Py_DECREF(get);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* A unit's references, renumbered                                          */

/* shift(refs, first_local, limit, shift, known, known_first) -> list: each
 * unit type's refs in store ids (Graph.merge): a unit id r >= first_local
 * becomes r + shift, a known one known[r - known_first], a base id stays.
 * IndexError(j) names the first unit type with a reference out of range. */
static PyObject *shift(PyObject *self, PyObject *args)
{
    PyObject *refs, *known;
    Py_ssize_t first, limit, by, known_first;
    if (!PyArg_ParseTuple(args, "OnnnOn", &refs, &first, &limit, &by, &known, &known_first))
        return NULL;
    PyObject *rs = PySequence_Fast(refs, "refs must be a sequence");
    PyObject *kn = rs ? PySequence_Fast(known, "known must be a sequence") : NULL;
    PyObject *out = kn ? PyList_New(PySequence_Fast_GET_SIZE(rs)) : NULL;
    if (!out) goto fail;
    Py_ssize_t nk = PySequence_Fast_GET_SIZE(kn);
    PyObject **kv = PySequence_Fast_ITEMS(kn);
    for (Py_ssize_t j = 0; j < PySequence_Fast_GET_SIZE(rs); j++) {
        PyObject *rr = PySequence_Fast(PySequence_Fast_GET_ITEM(rs, j), "refs are sequences");
        if (!rr) goto fail;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(rr);
        if (!n) {
            Py_DECREF(rr);
            PyList_SET_ITEM(out, j, Py_NewRef(PySequence_Fast_GET_ITEM(rs, j)));
            continue;
        }
        PyObject *t = PyTuple_New(n);
        if (!t) { Py_DECREF(rr); goto fail; }
        PyList_SET_ITEM(out, j, t);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *o = PySequence_Fast_GET_ITEM(rr, i);
            Py_ssize_t r = PyLong_AsSsize_t(o);
            int bad = (r == -1 && PyErr_Occurred()) || r < 0 || r >= limit ||
                      (nk && r >= known_first && r < first && r - known_first >= nk);
            if (bad) {
                Py_DECREF(rr);
                if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
                    PyErr_Clear();
                    PyErr_Format(PyExc_IndexError, "%zd", j);
                }
                goto fail;
            }
            if (r >= first)
                o = PyLong_FromSsize_t(r + by);
            else if (nk && r >= known_first)
                o = Py_NewRef(kv[r - known_first]);
            else
                o = Py_NewRef(o);
            if (!o) { Py_DECREF(rr); goto fail; }
            PyTuple_SET_ITEM(t, i, o);
        }
        Py_DECREF(rr);
    }
    Py_DECREF(rs);
    Py_DECREF(kn);
    return out;
fail:
    Py_XDECREF(rs);
    Py_XDECREF(kn);
    Py_XDECREF(out);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* A merged unit's survivors, renumbered                                     */

/* Graph._compact's final(): what x resolves to, a unit type by its new id */
static Py_ssize_t final_id(const Lists *g, const Py_ssize_t *nid, Py_ssize_t g0, Py_ssize_t x)
{
    x = resolve(g, x);
    if (x == -3) return -3;
    if (x < g0) return x;
    if (nid[x - g0] < 0) {
        PyErr_Format(PyExc_ValueError, "dedup: unit type %zd resolves to a dropped type", x);
        return -3;
    }
    return nid[x - g0];
}

/* renumber(ref, map, g0, end) -> (unit map as uint32 bytes, nid, keep, kept
 * refs): Graph._renumber, which says what each is. */
static PyObject *renumber(PyObject *self, PyObject *args)
{
    PyObject *ref, *mp;
    Py_ssize_t g0, end;
    if (!PyArg_ParseTuple(args, "O!O!nn", &PyList_Type, &ref, &PyList_Type, &mp, &g0, &end))
        return NULL;
    if (g0 < 0 || end < g0 || end > PyList_GET_SIZE(mp) || end > PyList_GET_SIZE(ref))
        return PyErr_Format(PyExc_IndexError, "dedup: unit [%zd, %zd) out of range", g0, end);
    Lists g = { NULL, ref, mp, NULL };
    Py_ssize_t n = end - g0;
    Py_ssize_t *nid = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    PyObject *raw = PyBytes_FromStringAndSize(NULL, n * 4);
    PyObject *nids = PyList_New(n), *keep = PyList_New(0), *kept = PyList_New(0);
    PyObject *out = NULL;
    if (!nid || !raw || !nids || !keep || !kept) { PyErr_NoMemory(); goto done; }
    Py_ssize_t k = g0;
    for (Py_ssize_t x = g0; x < end; x++) {
        Py_ssize_t m = map_at(&g, x);
        if (m == -3) goto done;
        nid[x - g0] = m == x ? k++ : UNSET;
        PyObject *o = PyLong_FromSsize_t(nid[x - g0]);
        if (!o) goto done;
        PyList_SET_ITEM(nids, x - g0, o);
        if (m == x && PyList_Append(keep, PyList_GET_ITEM(mp, x)) < 0) goto done;
    }
    uint32_t *um = (uint32_t *)PyBytes_AS_STRING(raw);
    for (Py_ssize_t x = g0; x < end; x++) {
        Py_ssize_t f = final_id(&g, nid, g0, x);
        if (f == -3) goto done;
        um[x - g0] = (uint32_t)f;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keep); i++) {
        Py_ssize_t x = PyLong_AsSsize_t(PyList_GET_ITEM(keep, i));
        PyObject *rs = PyList_GET_ITEM(ref, x);
        if (!PyTuple_Check(rs)) { PyErr_SetString(PyExc_TypeError, "dedup: refs must be tuples"); goto done; }
        Py_ssize_t nr = PyTuple_GET_SIZE(rs);
        PyObject *t = PyTuple_New(nr);
        if (!t || PyList_Append(kept, t) < 0) { Py_XDECREF(t); goto done; }
        Py_DECREF(t);
        for (Py_ssize_t j = 0; j < nr; j++) {
            Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, j));
            if (r == -1 && PyErr_Occurred()) goto done;
            Py_ssize_t f = final_id(&g, nid, g0, r);
            if (f == -3) goto done;
            PyObject *o = PyLong_FromSsize_t(f);
            if (!o) goto done;
            PyTuple_SET_ITEM(t, j, o);
        }
    }
    out = PyTuple_Pack(4, raw, nids, keep, kept);
done:
    PyMem_Free(nid);
    Py_XDECREF(raw); Py_XDECREF(nids); Py_XDECREF(keep); Py_XDECREF(kept);
    return out;
}

/* dense_refs(ref, map, canon, spos, base_end) -> list of tuples:
 * Graph._dense_refs, which says what each is. */
static PyObject *dense_refs(PyObject *self, PyObject *args)
{
    PyObject *ref, *mp, *canon, *spos;
    Py_ssize_t bend;
    if (!PyArg_ParseTuple(args, "O!O!O!O!n", &PyList_Type, &ref, &PyList_Type, &mp,
                          &PyList_Type, &canon, &PyList_Type, &spos, &bend))
        return NULL;
    Lists g = { NULL, ref, mp, NULL };
    Py_ssize_t n = PyList_GET_SIZE(canon), ns = PyList_GET_SIZE(spos);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t k = 0; out && k < n; k++) {
        Py_ssize_t x = PyLong_AsSsize_t(PyList_GET_ITEM(canon, k));
        if (x < 0 || x >= PyList_GET_SIZE(ref)) {
            if (!PyErr_Occurred()) out_of_range(x);
            Py_CLEAR(out);
            break;
        }
        PyObject *rs = PyList_GET_ITEM(ref, x);
        if (!PyTuple_Check(rs)) {
            PyErr_SetString(PyExc_TypeError, "dedup: refs must be tuples");
            Py_CLEAR(out);
            break;
        }
        Py_ssize_t nr = PyTuple_GET_SIZE(rs);
        PyObject *t = PyTuple_New(nr);
        if (!t) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, k, t);
        for (Py_ssize_t j = 0; j < nr; j++) {
            Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, j));
            if (r == -1 && PyErr_Occurred()) { Py_CLEAR(out); break; }
            r = resolve(&g, r);
            if (r == -3) { Py_CLEAR(out); break; }
            PyObject *o;
            if (r < bend) {
                o = PyLong_FromSsize_t(r);
            } else if (r - bend < ns) {
                o = Py_NewRef(PyList_GET_ITEM(spos, r - bend));
            } else {
                out_of_range(r);
                o = NULL;
            }
            if (!o) { Py_CLEAR(out); break; }
            PyTuple_SET_ITEM(t, j, o);
        }
    }
    return out;
}

/* ------------------------------------------------------------------------ */
/* Which of a unit's types reach a declaration                              */

/* reach_declarations(labels, refs, first, known_first, known_dirty,
 * base_dirty) -> bytearray: compact.reach_declarations, which says why. */
static PyObject *reach_declarations(PyObject *self, PyObject *args)
{
    PyObject *labels, *refs;
    Py_ssize_t first, known_first;
    Py_buffer kd, bd;
    if (!PyArg_ParseTuple(args, "O!O!nny*y*", &PyList_Type, &labels, &PyList_Type, &refs,
                          &first, &known_first, &kd, &bd))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(labels), ne = 0;
    const uint8_t *known_dirty = kd.buf, *base_dirty = bd.buf;
    PyObject *out = NULL;
    Py_ssize_t *start = NULL, *from = NULL, *work = NULL;
    if (PyList_GET_SIZE(refs) != n) {
        PyErr_SetString(PyExc_ValueError, "labels and refs differ in length");
        goto done;
    }
    out = PyByteArray_FromStringAndSize(NULL, n);
    start = PyMem_Calloc(n + 2, sizeof *start);
    if (!out || !start) { PyErr_NoMemory(); goto done; }
    uint8_t *dirty = (uint8_t *)PyByteArray_AS_STRING(out);
    /* marks of their own, and the count of local refs to each type */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *l = PyList_GET_ITEM(labels, i), *rs = PyList_GET_ITEM(refs, i);
        if (!PyTuple_Check(l) || PyTuple_GET_SIZE(l) < 2 || !PyTuple_Check(rs)) {
            PyErr_Format(PyExc_TypeError, "unit type %zd is not (label, refs)", i);
            goto done;
        }
        dirty[i] = is_fwd(l);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(rs); j++) {
            PyObject *ro = PyTuple_GET_ITEM(rs, j);
            Py_ssize_t r = PyLong_AsSsize_t(ro);
            if (r == -1 && PyErr_Occurred()) goto done;
            if (r >= first) {
                if (r - first >= n) { out_of_range(r); goto done; }
                start[r - first + 2]++;
                ne++;
            } else if (r >= known_first) {
                if (r - known_first >= kd.len) { out_of_range(r); goto done; }
                dirty[i] |= known_dirty[r - known_first];
            } else if (r < 0) {
                out_of_range(r);
                goto done;
            } else if (r < bd.len && base_dirty[r]) {
                dirty[i] = 1;
            }
        }
    }
    /* who refers to each local type: from[start[t] .. start[t + 1]) */
    for (Py_ssize_t t = 0; t < n; t++) start[t + 2] += start[t + 1];
    from = PyMem_Malloc((ne ? ne : 1) * sizeof *from);
    work = PyMem_Malloc((n ? n : 1) * sizeof *work);
    if (!from || !work) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rs = PyList_GET_ITEM(refs, i);
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(rs); j++) {
            Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, j));
            if (r >= first) from[start[r - first + 1]++] = i;
        }
    }
    /* spread the marks to whoever refers to a marked type */
    Py_ssize_t w = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (dirty[i]) work[w++] = i;
    while (w) {
        Py_ssize_t t = work[--w];
        for (Py_ssize_t k = start[t]; k < start[t + 1]; k++)
            if (!dirty[from[k]]) { dirty[from[k]] = 1; work[w++] = from[k]; }
    }
    PyMem_Free(start); PyMem_Free(from); PyMem_Free(work);
    PyBuffer_Release(&kd);
    PyBuffer_Release(&bd);
    return out;
done:
    PyMem_Free(start); PyMem_Free(from); PyMem_Free(work);
    PyBuffer_Release(&kd);
    PyBuffer_Release(&bd);
    Py_XDECREF(out);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Bisimulation classes of the nodes a partition has not seen              */

/* classes(labels, succ, cls, start, keys, n, cycle) -> n: minimize.py's
 * Partition.extend for nodes start.. of (labels, succ), on its lists: the
 * strongly connected components in the order minimize.sccs gives them, a
 * node outside any cycle hash-consed through `keys` (get, []=), and each
 * cycle handed to `cycle(comp, n) -> n` (minimize._cycle), which is rare
 * and stays in Python.  `cls` is len(labels) long, -1 from start on. */
static PyObject *classes(PyObject *self, PyObject *args)
{
    PyObject *labels, *succ, *cls, *keys, *cycle;
    Py_ssize_t start, n;
    if (!PyArg_ParseTuple(args, "O!O!O!nOnO", &PyList_Type, &labels, &PyList_Type, &succ,
                          &PyList_Type, &cls, &start, &keys, &n, &cycle))
        return NULL;
    Py_ssize_t total = PyList_GET_SIZE(labels);
    if (start < 0 || start > total || PyList_GET_SIZE(succ) < total ||
        PyList_GET_SIZE(cls) != total) {
        PyErr_SetString(PyExc_ValueError, "classes: lists of different lengths");
        return NULL;
    }
    Py_ssize_t m = total - start, nedges = 0;
    Py_ssize_t *first = PyMem_Malloc((m + 1) * sizeof *first);
    Py_ssize_t *edge = NULL, *index = NULL, *low = NULL, *stack = NULL, *wv = NULL, *we = NULL;
    char *on = NULL;
    PyObject *get = NULL, *result = NULL;
    if (!first) return PyErr_NoMemory();
    /* the edges among the new nodes, in each node's order */
    for (Py_ssize_t v = 0; v < m; v++) {
        PyObject *rs = PyList_GET_ITEM(succ, start + v);
        if (!PyTuple_Check(rs)) { PyErr_SetString(PyExc_TypeError, "classes: refs are tuples"); goto done; }
        first[v] = nedges;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(rs); k++) {
            Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, k));
            if (r == -1 && PyErr_Occurred()) goto done;
            if (r < 0 || r >= total) { out_of_range(r); goto done; }
            nedges += r >= start;
        }
    }
    first[m] = nedges;
    edge = PyMem_Malloc((nedges ? nedges : 1) * sizeof *edge);
    index = PyMem_Malloc((m ? m : 1) * sizeof *index);
    low = PyMem_Malloc((m ? m : 1) * sizeof *low);
    stack = PyMem_Malloc((m ? m : 1) * sizeof *stack);
    wv = PyMem_Malloc((m ? m : 1) * sizeof *wv);
    we = PyMem_Malloc((m ? m : 1) * sizeof *we);
    on = PyMem_Calloc(m ? m : 1, 1);
    if (!edge || !index || !low || !stack || !wv || !we || !on) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t v = 0, e = 0; v < m; v++) {
        PyObject *rs = PyList_GET_ITEM(succ, start + v);
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(rs); k++) {
            Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, k));
            if (r >= start) edge[e++] = r - start;
        }
        index[v] = -1;
    }
    if (!(get = PyObject_GetAttrString(keys, "get"))) goto done;
    Py_ssize_t counter = 0, sp = 0;
    for (Py_ssize_t root = 0; root < m; root++) {
        if (index[root] >= 0) continue;
        Py_ssize_t wp = 0;
        index[root] = low[root] = counter++;
        stack[sp++] = root;
        on[root] = 1;
        wv[wp] = root; we[wp++] = first[root];
        while (wp) {
            Py_ssize_t v = wv[wp - 1];
            if (we[wp - 1] < first[v + 1]) {
                Py_ssize_t w = edge[we[wp - 1]++];
                if (index[w] < 0) {
                    index[w] = low[w] = counter++;
                    stack[sp++] = w;
                    on[w] = 1;
                    wv[wp] = w; we[wp++] = first[w];
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            wp--;
            if (wp && low[v] < low[wv[wp - 1]]) low[wv[wp - 1]] = low[v];
            if (low[v] != index[v]) continue;
            /* the component, in the order minimize.sccs pops it */
            Py_ssize_t k = sp;
            do { k--; on[stack[k]] = 0; } while (stack[k] != v);
            Py_ssize_t size = sp - k;
            Py_ssize_t x = start + v;
            PyObject *rs = PyList_GET_ITEM(succ, x);
            int loop = 0;
            for (Py_ssize_t j = 0; size == 1 && j < PyTuple_GET_SIZE(rs); j++)
                loop |= PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, j)) == x;
            if (size == 1 && !loop) {
                Py_ssize_t nr = PyTuple_GET_SIZE(rs);
                PyObject *rc = PyTuple_New(nr), *key = NULL, *c = NULL;
                for (Py_ssize_t j = 0; rc && j < nr; j++) {
                    Py_ssize_t r = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs, j));
                    PyObject *o = PyList_GET_ITEM(cls, r);
                    PyTuple_SET_ITEM(rc, j, Py_NewRef(o));
                }
                if (rc) key = PyTuple_Pack(2, PyList_GET_ITEM(labels, x), rc);
                Py_XDECREF(rc);
                if (key) c = PyObject_CallOneArg(get, key);
                if (c == Py_None) {
                    Py_DECREF(c);
                    c = PyLong_FromSsize_t(n++);
                    if (c && PyObject_SetItem(keys, key, c) < 0) Py_CLEAR(c);
                }
                Py_XDECREF(key);
                if (!c) goto done;
                PyList_SetItem(cls, x, c);      /* steals c */
            } else {
                PyObject *comp = PyList_New(size);
                if (!comp) goto done;
                for (Py_ssize_t j = 0; j < size; j++) {
                    PyObject *o = PyLong_FromSsize_t(start + stack[sp - 1 - j]);
                    if (!o) { Py_DECREF(comp); goto done; }
                    PyList_SET_ITEM(comp, j, o);
                }
                PyObject *got = PyObject_CallFunction(cycle, "On", comp, n);
                Py_DECREF(comp);
                if (!got) goto done;
                n = PyLong_AsSsize_t(got);
                Py_DECREF(got);
                if (n == -1 && PyErr_Occurred()) goto done;
            }
            sp = k;
        }
    }
    result = PyLong_FromSsize_t(n);
done:
    Py_XDECREF(get);
    PyMem_Free(first); PyMem_Free(edge); PyMem_Free(index); PyMem_Free(low);
    PyMem_Free(stack); PyMem_Free(wv); PyMem_Free(we); PyMem_Free(on);
    return result;
}

static PyMethodDef methods[] = {
    {"shift", shift, METH_VARARGS,
     "shift(refs, first_local, limit, shift, known, known_first) -> list of refs"},
    {"equiv", equiv, METH_VARARGS,
     "equiv(lab, ref, map, live, base_end, cand, canon, unpack, identical) -> "
     "(hypot, wild, adjust) or None"},
    {"ref_pass", ref_pass, METH_VARARGS,
     "ref_pass(lab, ref, map, table, new, g, end) -> where a loop stopped it, or end"},
    {"reach_declarations", reach_declarations, METH_VARARGS,
     "reach_declarations(labels, refs, first, known_first, known_dirty, base_dirty) -> "
     "bytearray"},
    {"dense_refs", dense_refs, METH_VARARGS,
     "dense_refs(ref, map, canon, spos, base_end) -> each type's refs as settle's nodes"},
    {"renumber", renumber, METH_VARARGS,
     "renumber(ref, map, g0, end) -> (unit map bytes, nid, keep, kept refs)"},
    {"classes", classes, METH_VARARGS,
     "classes(labels, succ, cls, start, keys, n, cycle) -> n: Partition.extend's sweep"},
    {NULL}
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dedup._cdedup",
    "dedup/engine.py's graph walk and reference pass, compiled (and compact.py's "
    "reach_declarations).", -1, methods
};

PyMODINIT_FUNC PyInit__cdedup(void) { return PyModule_Create(&module); }
