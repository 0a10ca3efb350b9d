"""`--btf_features`: pahole's feature names, and what each one switches.

`default` is pahole's default set; `+name` adds to it; a plain list names
exactly what is wanted.  Unknown names are warned about and ignored, as
pahole does without `--btf_features_strict`.

Which functions become FUNCs depends on the pahole generation the features
imply (`Features.modern_funcs`, select.py): `optimized_func` or
`consistent_func` (both in `default`) select newer pahole's rules; without
either, pahole 1.24's.
"""

from __future__ import annotations

import sys

from .record import fields, record

# pahole's features (btf_features[] in pahole.c), in its order; True = in `default`.
PAHOLE_FEATURES: dict[str, bool] = {
    "encode_force": True,
    "var": True,
    "float": True,
    "decl_tag": True,
    "type_tag": True,
    "enum64": True,
    "optimized_func": True,
    "consistent_func": True,
    "decl_tag_kfuncs": True,
    "reproducible_build": False,
    "distilled_base": False,
    "global_var": False,
    "attributes": False,
    "true_signature": False,
    "layout": False,
}

# Our own features, never in `default` (docs/EXPORTS.md).
OWN_FEATURES: dict[str, bool] = {"export_tags": False}


@record
class Features:
    """The switches one encoding runs with."""
    encode_force: bool = True
    var: bool = True
    float: bool = True
    decl_tag: bool = True
    type_tag: bool = True
    enum64: bool = True
    optimized_func: bool = True
    consistent_func: bool = True
    decl_tag_kfuncs: bool = True
    reproducible_build: bool = False
    distilled_base: bool = False
    global_var: bool = False
    attributes: bool = False
    true_signature: bool = False
    layout: bool = False
    export_tags: bool = False

    @classmethod
    def none(cls) -> "Features":
        return cls(**{f: False for f in fields(cls)})

    @classmethod
    def parse(cls, spec: str | None, warn=None) -> "Features":
        """Features from a `--btf_features` value (None: pahole's default set)."""
        if spec is None:
            return cls()
        items = [s.strip() for s in spec.split(",") if s.strip()]
        additive = any(s.startswith("+") for s in items)
        out = cls() if additive else cls.none()
        for item in items:
            name = item.lstrip("+")
            if name == "default":
                for f, on in PAHOLE_FEATURES.items():
                    if on:
                        setattr(out, f, True)
            elif name in PAHOLE_FEATURES or name in OWN_FEATURES:
                setattr(out, name, True)
            else:
                (warn or _warn)(f"unknown btf feature '{name}' ignored")
        return out

    @property
    def modern_funcs(self) -> bool:
        """Newer pahole's function selection (select.py, docs/DIFFERENCES.md):
        on with `optimized_func` or `consistent_func`, i.e. with `default`,
        what kbuild passes to pahole >= 1.26.  Off, the rules are pahole
        1.24's (a 1.24-era explicit list: var,float,decl_tag,type_tag,enum64)."""
        return self.optimized_func or self.consistent_func

    def names(self) -> list[str]:
        return [f for f in PAHOLE_FEATURES if getattr(self, f)]


def _warn(msg: str) -> None:
    print(f"dwarf2btf: warning: {msg}", file=sys.stderr)
