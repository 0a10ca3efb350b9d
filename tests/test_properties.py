"""Random valid type sets survive write -> read -> write unchanged."""

from hypothesis import given, settings, strategies as st

from encoder.btf.kinds import FuncLinkage, IntEncoding, VarLinkage
from encoder.btf.model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64, EnumValue,
                               Float, Func, FuncProto, Fwd, Int, Member, Param, Ptr,
                               Restrict, Struct, Typedef, TypeTag, Union, Var, VarSecinfo,
                               Volatile)
from encoder.btf.reader import parse
from encoder.btf.writer import encode

u32 = st.integers(0, 0xFFFFFFFF)
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
maybe_names = st.one_of(st.just(""), names)


def type_strategy(max_id: int):
    """One type of any kind whose references stay below `max_id`."""
    ref = st.integers(0, max_id)
    member = st.builds(Member, maybe_names, ref, st.integers(0, 0xFFFFFF), st.just(0))
    bitfield = st.builds(Member, maybe_names, ref, st.integers(0, 0xFFFFFF), st.integers(0, 255))

    def composite(cls):
        plain = st.builds(cls, maybe_names, u32, st.lists(member, max_size=5), st.just(False))
        packed = st.builds(cls, maybe_names, u32, st.lists(bitfield, max_size=5), st.just(True))
        return st.one_of(plain, packed)

    def enum(cls, bits):
        signed = st.builds(cls, maybe_names, st.sampled_from([1, 2, 4, 8]),
                           st.lists(st.builds(EnumValue, names,
                                              st.integers(-(1 << bits - 1), (1 << bits - 1) - 1)),
                                    max_size=4), st.just(True))
        unsigned = st.builds(cls, maybe_names, st.sampled_from([1, 2, 4, 8]),
                             st.lists(st.builds(EnumValue, names, st.integers(0, (1 << bits) - 1)),
                                      max_size=4), st.just(False))
        return st.one_of(signed, unsigned)

    return st.one_of(
        st.builds(Int, names, st.sampled_from([1, 2, 4, 8, 16]), st.integers(0, 128),
                  st.sampled_from(list(IntEncoding)), st.integers(0, 127)),
        st.builds(Ptr, ref), st.builds(Array, ref, ref, u32),
        composite(Struct), composite(Union), enum(Enum, 32), enum(Enum64, 64),
        st.builds(Fwd, names, st.booleans()), st.builds(Typedef, names, ref),
        st.builds(Volatile, ref), st.builds(Const, ref), st.builds(Restrict, ref),
        st.builds(Func, names, ref, st.sampled_from(list(FuncLinkage))),
        st.builds(FuncProto, ref, st.lists(st.builds(Param, maybe_names, ref), max_size=5)),
        st.builds(Var, names, ref, st.sampled_from(list(VarLinkage))),
        st.builds(Datasec, names, u32,
                  st.lists(st.builds(VarSecinfo, ref, u32, u32), max_size=4)),
        st.builds(Float, names, st.sampled_from([2, 4, 8, 12, 16])),
        st.builds(DeclTag, names, ref, st.integers(-1, 1000), st.booleans()),
        st.builds(TypeTag, names, ref, st.booleans()),
    )


@st.composite
def type_sets(draw, first_id=1, max_types=30):
    n = draw(st.integers(0, max_types))
    last = first_id + n - 1
    return [draw(type_strategy(max(last, 0))) for _ in range(n)]


@settings(max_examples=200, deadline=None)
@given(type_sets(), st.sampled_from(["<", ">"]), st.booleans())
def test_base_round_trip(types, endian, layout):
    blob = encode(Btf(list(types), endian=endian), layout=layout)
    back = parse(blob)
    assert back.types == types
    assert back.endian == endian
    assert encode(back) == blob


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_split_round_trip(data):
    base_types = data.draw(type_sets(max_types=10))
    base_blob = encode(Btf(list(base_types)))
    base = parse(base_blob)
    split_types = data.draw(type_sets(first_id=base.type_count, max_types=10))
    split = Btf(list(split_types), base=base)
    blob = encode(split)
    back = parse(blob, base=parse(base_blob))
    assert back.types == split_types
    assert encode(back) == blob
