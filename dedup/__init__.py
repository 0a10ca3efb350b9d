"""Deduplicate BTF types: one copy of every distinct type, across units and
against a base.

Knows neither ELF nor DWARF: it works on the BTF model (`encoder.btf`), so
it serves BTF from any producer -- our encoder, pahole, clang's `.BTF`, a
concatenation of any of them.

The problem
===========

Every compilation unit (CU) describes the types it uses, so the same
`struct task_struct` arrives thousands of times: the input is some 30 times
the output.  The copies are not even identical.  A CU that includes only
`struct mm_struct;` sees a *forward declaration* (FWD) where another CU sees
the full definition, so each CU holds a partial *view* of the same type
graph, and the graph has cycles (`struct list_head *next`).  Take libbpf's
example:

    CU 1:  struct S;  struct A { int a; struct A *self; struct S *parent; };
           struct B;  struct S { struct A *a_ptr; struct B *b_ptr; };
    CU 2:  struct S;  struct A;
           struct B { int b; struct B *self; struct S *parent; };
           struct S { struct A *a_ptr; struct B *b_ptr; };

No CU knows A, B and S all, yet the output must hold one A, one B and one S,
each complete.  And it must never merge two types that are not the same: a
wrong merge silently corrupts the kernel's type information, which is far
worse than a duplicate.

What "the same" means
=====================

Types are the nodes of a labelled graph: the *label* is everything a type
says about itself (kind, name, size, member names and offsets, enumerators,
linkage, ...; `compact.py`), the *edges* its ordered references.  Two types
are equivalent when they are bisimilar: equal labels and pairwise equivalent
references, coinductively (a pair met again on a cycle is assumed equal).
On top of that, declarations:

* a FWD stands for a definition of its name and kind.  Which one?  Within a
  CU there is one `struct foo`, so a CU's FWDs of one name are one node, and
  it stands for the definition it meets when one of the CU's structs is
  matched against a canonical struct (the view merging above, libbpf's
  hypothetical map).  A FWD that met none stands for the first definition
  a FWD of its name met in some other CU (libbpf's global FWD node); if no
  FWD of its name ever met one, for the only class of definitions of its
  name, when there is exactly one (libbpf's `resolve_fwds`; we count
  structs and unions apart); else it stays a FWD;
* an enum without enumerators (an enum forward declaration) likewise stands
  for a full enum of its name, whatever the size or ENUM/ENUM64 kind, else
  for the first such declaration of its name (libbpf's rules);
* VAR and DATASEC are never merged (two variables are two variables); FUNCs
  of different linkage differ by label.

Over a base (split BTF: module over vmlinux) base types are never rewritten
or reordered; a unit type equivalent to a base type becomes that base id.  A
base FWD that a module defines stands for the module's struct in the
module's references (reached from a module type, possibly through base
pointers, qualifiers and typedefs).  A walk against a base struct that meets
such a base FWD inside a base struct or union while it is still unresolved
fails -- the module struct stays, as the
base would otherwise have to change (libbpf's `hypot_adjust_canon`) -- but
resolves the FWD, and from then on the base FWD stands for the module's
struct in later walks too: a module `sock` that reaches the module's `net`
(defining `netns_ipvs`) still maps onto the base `sock`, whose `net` has
only the FWD; only the struct whose walk met the FWD first is kept.  Each
re-merge (step 7) starts again with such base FWDs unresolved for walks.
Candidates from the module are tried before base ones (libbpf tries the
newest first), so the module's other views of a struct kept apart join it.

How: stream, then settle
========================

Memory decides the shape.  Millions of input types cannot all be kept, so
each CU is merged into a *store* of canonical types as it arrives and only
the store (about the size of the output) and one compact id map per CU
survive it.  What needs the whole input -- unique names, views made equal
only by a later CU -- is decided at the end, on the store.

`Deduper.add_unit` (engine.Graph.merge), for one CU, in libbpf's order:

1. *prim*: INT, FLOAT and full enums have no references, so an exact label
   lookup finds their canonical copy.  The CU's declarations of one name
   become one node, left undecided.
2. *graph*: STRUCT, UNION and TYPEDEF (and anything on a loop of reference
   kinds, which C never makes but other producers may) are matched against
   canonical candidates with the same label by walking both graphs in step
   (`_equiv`, libbpf's `btf_dedup_is_equiv` without recursion).  A FWD on
   either side agrees with a definition of its name; the hypothetical map
   canonical -> candidate closes cycles and must stay consistent (two
   different candidates for one canonical type fail, unless they are
   identical, which an exact walk checks).  A successful walk maps every
   candidate struct it paired at once and records what each FWD met; a
   failed one leaves nothing behind.  Candidates with one label are a short
   list; large buckets (hundreds of anonymous unions stamped out by one
   macro) are split by a FWD-insensitive shape of the members.
3. *declarations*: FWDs that met nothing are interned by label.
4. *ref*: everything else, children first.  With canonical children, a type
   is equal to a canonical type exactly when its (label, refs) key is: a
   dict lookup, no candidates.
5. *compact*: the CU's new canonical types join the store, renumbered after
   it; the rest is dropped.  The CU's map (local id -> store id) is kept.

`Deduper.finish`:

6. *settle* (engine.Graph.settle): resolve declarations by name, then
   minimise the store exactly (`minimize.py`: the coarsest bisimulation, by
   hash-consing along the strongly connected components and refining inside
   the few cyclic ones); repeat while a name resolves.  Streaming can only
   under-merge -- a FWD resolved after two views went in, a duplicate the
   walk could not see -- and minimisation catches all of that, so the
   output never holds two equivalent types, which the encoder relies on when
   it adds FUNCs and VARs by exact match.
7. *re-merge*: the settled store goes through step 1-5 once more, as one
   unit, and settles again, until nothing changes (usually at once).  This
   makes `dedup(dedup(x)) == dedup(x)`.
8. *emit*: one representative per class, the first occurrence (base first),
   in first-occurrence order; names interned first come, first placed.

Everything is deterministic: no set of strings is ever iterated, dicts keep
insertion order, and the result does not depend on `jobs` or on the
process's hash seed.

Against libbpf (`btf__dedup` on the same input): equal type counts on real
kernel BTF (vmlinux, modules, split and concatenated); on random graphs
lower in a few percent of the inputs libbpf accepts (exact minimisation
finds duplicates its first-come, depth-limited checks miss), higher in one
of some 13,000: an enum forward declaration whose name has two different
full enums, where libbpf's choice (the last seen) happened to merge more
than ours (the first).

API
===

    Deduper(base=None, jobs=1); add_unit(types) -> handle; finish()
        -> (btf, [per-unit map local id -> final id])
    dedup(btf) -> (deduplicated btf, map)      # what `dwarf2btf dedup` runs
    compact_unit(types) -> (labels, refs); Deduper.add_compact(labels, refs)
        # the same in two steps, so per-CU workers can ship small tuples
"""

from .compact import compact_unit
from .deduper import Deduper, dedup

__all__ = ["Deduper", "dedup", "compact_unit"]
