"""Slotted record classes, made cheaply at import.

`@dataclass(slots=True)` cost a fresh encode 13 ms before any work began:
`dataclasses` imports `inspect` and its chain, execs one function per
generated method, parses every string annotation, and builds each class
twice.  A small module encodes in 0.1 s, so that was a tenth of it.

`record` makes what this project used of a dataclass:
- the fields are the class's annotations that are not ClassVar, in order;
- `__init__` takes them by position or by name, with their defaults
  (`factory(list)` makes a fresh value for each record);
- `__eq__` compares two records of the same class field by field, and
  `__repr__` shows the fields;
- `__slots__` holds the fields;
- `__reduce__` pickles a record as a call with its fields, several times
  faster than slots' state: a unit's candidates cross from the worker
  processes that way (encode.py);
- `frozen=True` refuses assignment and makes records hashable.

Only `__init__` and `__reduce__` are compiled, in one exec per class: they
are the methods on hot paths (the C converters make every parameter and
member through `__init__`).
"""

from __future__ import annotations

__all__ = ["record", "factory", "fields", "replace", "asdict", "FrozenRecordError"]


class FrozenRecordError(AttributeError):
    """An assignment to a field of a frozen record."""


class factory:
    """A field's default made afresh by calling `make` for each record."""
    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


def fields(obj_or_cls) -> tuple[str, ...]:
    """A record's field names, in order."""
    return obj_or_cls.__record_fields__


def replace(obj, **changes):
    """A copy of the record `obj` with `changes` to some of its fields."""
    kw = {f: getattr(obj, f) for f in obj.__record_fields__}
    unknown = changes.keys() - kw.keys()
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {min(unknown)!r}")
    kw.update(changes)
    return type(obj)(**kw)


def asdict(obj):
    """A record as a dict, with the records in its lists, tuples and dicts."""
    if hasattr(type(obj), "__record_fields__"):
        return {f: asdict(getattr(obj, f)) for f in obj.__record_fields__}
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {asdict(k): asdict(v) for k, v in obj.items()}
    return obj


def _values(self) -> tuple:
    return tuple(getattr(self, f) for f in self.__record_fields__)


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _repr(self):
    inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__record_fields__)
    return f"{type(self).__qualname__}({inner})"


def _hash(self):
    return hash(_values(self))


def _refuse(self, name, value=None):
    raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen "
                            f"{type(self).__name__}")


_NONE = object()


def _compiled(qualname: str, names: list[str], defaults: dict, frozen: bool) -> dict:
    """`__init__` and `__reduce__` for the fields `names`, from one exec."""
    env = {"_NONE": _NONE, "_object_setattr": object.__setattr__}
    params, body = [], []
    for f in names:
        value = defaults.get(f, _NONE)
        if isinstance(value, factory):
            env[f"_make_{f}"] = value.make
            params.append(f"{f}=_NONE")
            value_src = f"_make_{f}() if {f} is _NONE else {f}"
        else:
            if value is not _NONE:
                env[f"_default_{f}"] = value
                params.append(f"{f}=_default_{f}")
            else:
                params.append(f)
            value_src = f
        body.append(f"_object_setattr(self, {f!r}, {value_src})" if frozen
                    else f"self.{f} = {value_src}")
    values = "".join(f"self.{f}, " for f in names)
    exec(f"def __init__(self, {', '.join(params)}):\n "
         + ("\n ".join(body) or "pass")
         + f"\ndef __reduce__(self):\n return self.__class__, ({values})\n", env)
    made = {m: env[m] for m in ("__init__", "__reduce__")}
    for m, fn in made.items():
        fn.__qualname__ = f"{qualname}.{m}"
    return made


def _is_classvar(annotation) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.split("[", 1)[0].rsplit(".", 1)[-1] == "ClassVar"


def record(cls=None, /, *, frozen: bool = False):
    """Make `cls` a slotted record; see the module's docstring."""
    if cls is None:
        return lambda c: record(c, frozen=frozen)
    ns = dict(cls.__dict__)
    names = [f for f, a in ns.get("__annotations__", {}).items() if not _is_classvar(a)]
    defaults = {f: ns.pop(f) for f in names if f in ns}
    for before, f in zip(names, names[1:]):
        if before in defaults and f not in defaults:
            raise TypeError(f"{cls.__name__}: field {f!r} without a default "
                            f"follows {before!r}, which has one")
    ns.pop("__dict__", None)
    ns.pop("__weakref__", None)
    ns["__slots__"] = ns["__record_fields__"] = ns["__match_args__"] = tuple(names)
    for m, fn in _compiled(cls.__qualname__, names, defaults, frozen).items():
        ns.setdefault(m, fn)
    ns.setdefault("__repr__", _repr)
    ns.setdefault("__eq__", _eq)
    if frozen:
        ns["__setattr__"] = ns["__delattr__"] = _refuse
        ns["__hash__"] = _hash
    else:
        ns["__hash__"] = None
    made = type(cls)(cls.__name__, cls.__bases__, ns)
    made.__qualname__ = cls.__qualname__
    return made
