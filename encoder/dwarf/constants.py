"""DWARF numbers (DWARF 5 standard, Tables 7.x, plus the GNU/LLVM extensions
that compilers put in kernels).

Every family is a `Family`: its members are plain ints (`Tag.structure_type
== 0x13`), `Tag(0x13).name == "structure_type"` names one for display, and
every member is also a module-level int (`DW_TAG_structure_type`), which is
what the hot loop compares against.
"""

from __future__ import annotations

from typing import Iterator


class Number(int):
    """One number of a family, with its name (for messages)."""

    name: str

    def __new__(cls, value: int, name: str) -> "Number":
        number = super().__new__(cls, value)
        number.name = name
        return number

    @property
    def value(self) -> int:
        return int(self)


class Family:
    """A family of numbers: attributes by name, `Family(value)` and
    `Family[name]` for a `Number` (ValueError, KeyError if unknown),
    iteration over the members.  Not an IntEnum: making 800 enum members
    was a tenth of a small module's run."""

    def __init__(self, cls_name: str, table: dict[str, int]):
        self.__name__ = cls_name
        self._names: dict[int, str] = {}
        for name, value in table.items():
            self._names.setdefault(value, name)     # an alias names no value
        self.__dict__.update(table)

    def __call__(self, value: int) -> Number:
        name = self._names.get(value)
        if name is None:
            raise ValueError(f"{value!r} is not a valid {self.__name__}")
        return Number(value, name)

    def __getitem__(self, name: str) -> Number:
        value = self.__dict__[name] if not name.startswith("_") else None
        if not isinstance(value, int):
            raise KeyError(name)
        return Number(value, self._names[value])

    def __iter__(self) -> Iterator[Number]:
        return (Number(value, name) for value, name in self._names.items())


def _family(prefix: str, cls_name: str, table: dict[str, int]) -> Family:
    g = globals()
    for name, value in table.items():
        g[f"{prefix}{name}"] = value
    return Family(cls_name, table)


def name_of(family: Family, value: int) -> str:
    """`DW_TAG_member` style name, or the number in hex if unknown."""
    prefix = _PREFIX[family]
    try:
        return prefix + family(value).name
    except ValueError:
        return f"{prefix}{value:#x}"


Tag = _family("DW_TAG_", "Tag", {
    "array_type": 0x01, "class_type": 0x02, "entry_point": 0x03,
    "enumeration_type": 0x04, "formal_parameter": 0x05, "imported_declaration": 0x08,
    "label": 0x0A, "lexical_block": 0x0B, "member": 0x0D, "pointer_type": 0x0F,
    "reference_type": 0x10, "compile_unit": 0x11, "string_type": 0x12,
    "structure_type": 0x13, "subroutine_type": 0x15, "typedef": 0x16,
    "union_type": 0x17, "unspecified_parameters": 0x18, "variant": 0x19,
    "common_block": 0x1A, "common_inclusion": 0x1B, "inheritance": 0x1C,
    "inlined_subroutine": 0x1D, "module": 0x1E, "ptr_to_member_type": 0x1F,
    "set_type": 0x20, "subrange_type": 0x21, "with_stmt": 0x22,
    "access_declaration": 0x23, "base_type": 0x24, "catch_block": 0x25,
    "const_type": 0x26, "constant": 0x27, "enumerator": 0x28, "file_type": 0x29,
    "friend": 0x2A, "namelist": 0x2B, "namelist_item": 0x2C, "packed_type": 0x2D,
    "subprogram": 0x2E, "template_type_parameter": 0x2F,
    "template_value_parameter": 0x30, "thrown_type": 0x31, "try_block": 0x32,
    "variant_part": 0x33, "variable": 0x34, "volatile_type": 0x35,
    "dwarf_procedure": 0x36, "restrict_type": 0x37, "interface_type": 0x38,
    "namespace": 0x39, "imported_module": 0x3A, "unspecified_type": 0x3B,
    "partial_unit": 0x3C, "imported_unit": 0x3D, "condition": 0x3F,
    "shared_type": 0x40, "type_unit": 0x41, "rvalue_reference_type": 0x42,
    "template_alias": 0x43, "coarray_type": 0x44, "generic_subrange": 0x45,
    "dynamic_type": 0x46, "atomic_type": 0x47, "call_site": 0x48,
    "call_site_parameter": 0x49, "skeleton_unit": 0x4A, "immutable_type": 0x4B,
    "MIPS_loop": 0x4081, "format_label": 0x4101, "function_template": 0x4102,
    "class_template": 0x4103, "GNU_BINCL": 0x4104, "GNU_EINCL": 0x4105,
    "GNU_template_template_param": 0x4106, "GNU_template_parameter_pack": 0x4107,
    "GNU_formal_parameter_pack": 0x4108, "GNU_call_site": 0x4109,
    "GNU_call_site_parameter": 0x410A,
    # btf_decl_tag / btf_type_tag: clang's child DIEs, and GCC's chain
    # (the DIEs a DW_AT_GNU_annotation attribute points at).
    "LLVM_annotation": 0x6000, "GNU_annotation": 0x6001,
})

At = _family("DW_AT_", "At", {
    "sibling": 0x01, "location": 0x02, "name": 0x03, "ordering": 0x09,
    "byte_size": 0x0B, "bit_offset": 0x0C, "bit_size": 0x0D, "stmt_list": 0x10,
    "low_pc": 0x11, "high_pc": 0x12, "language": 0x13, "discr": 0x15,
    "discr_value": 0x16, "visibility": 0x17, "import": 0x18, "string_length": 0x19,
    "common_reference": 0x1A, "comp_dir": 0x1B, "const_value": 0x1C,
    "containing_type": 0x1D, "default_value": 0x1E, "inline": 0x20,
    "is_optional": 0x21, "lower_bound": 0x22, "producer": 0x25, "prototyped": 0x27,
    "return_addr": 0x2A, "start_scope": 0x2C, "bit_stride": 0x2E,
    "upper_bound": 0x2F, "abstract_origin": 0x31, "accessibility": 0x32,
    "address_class": 0x33, "artificial": 0x34, "base_types": 0x35,
    "calling_convention": 0x36, "count": 0x37, "data_member_location": 0x38,
    "decl_column": 0x39, "decl_file": 0x3A, "decl_line": 0x3B, "declaration": 0x3C,
    "discr_list": 0x3D, "encoding": 0x3E, "external": 0x3F, "frame_base": 0x40,
    "friend": 0x41, "identifier_case": 0x42, "macro_info": 0x43,
    "namelist_item": 0x44, "priority": 0x45, "segment": 0x46, "specification": 0x47,
    "static_link": 0x48, "type": 0x49, "use_location": 0x4A,
    "variable_parameter": 0x4B, "virtuality": 0x4C, "vtable_elem_location": 0x4D,
    "allocated": 0x4E, "associated": 0x4F, "data_location": 0x50,
    "byte_stride": 0x51, "entry_pc": 0x52, "use_UTF8": 0x53, "extension": 0x54,
    "ranges": 0x55, "trampoline": 0x56, "call_column": 0x57, "call_file": 0x58,
    "call_line": 0x59, "description": 0x5A, "binary_scale": 0x5B,
    "decimal_scale": 0x5C, "small": 0x5D, "decimal_sign": 0x5E,
    "digit_count": 0x5F, "picture_string": 0x60, "mutable": 0x61,
    "threads_scaled": 0x62, "explicit": 0x63, "object_pointer": 0x64,
    "endianity": 0x65, "elemental": 0x66, "pure": 0x67, "recursive": 0x68,
    "signature": 0x69, "main_subprogram": 0x6A, "data_bit_offset": 0x6B,
    "const_expr": 0x6C, "enum_class": 0x6D, "linkage_name": 0x6E,
    "string_length_bit_size": 0x6F, "string_length_byte_size": 0x70, "rank": 0x71,
    "str_offsets_base": 0x72, "addr_base": 0x73, "rnglists_base": 0x74,
    "dwo_name": 0x76, "reference": 0x77, "rvalue_reference": 0x78, "macros": 0x79,
    "call_all_calls": 0x7A, "call_all_source_calls": 0x7B,
    "call_all_tail_calls": 0x7C, "call_return_pc": 0x7D, "call_value": 0x7E,
    "call_origin": 0x7F, "call_parameter": 0x80, "call_pc": 0x81,
    "call_tail_call": 0x82, "call_target": 0x83, "call_target_clobbered": 0x84,
    "call_data_location": 0x85, "call_data_value": 0x86, "noreturn": 0x87,
    "alignment": 0x88, "export_symbols": 0x89, "deleted": 0x8A, "defaulted": 0x8B,
    "loclists_base": 0x8C,
    "MIPS_linkage_name": 0x2007,
    "sf_names": 0x2101, "src_info": 0x2102, "mac_info": 0x2103,
    "src_coords": 0x2104, "body_begin": 0x2105, "body_end": 0x2106,
    "GNU_vector": 0x2107, "GNU_guarded_by": 0x2108, "GNU_pt_guarded_by": 0x2109,
    "GNU_guarded": 0x210A, "GNU_pt_guarded": 0x210B, "GNU_locks_excluded": 0x210C,
    "GNU_exclusive_locks_required": 0x210D, "GNU_shared_locks_required": 0x210E,
    "GNU_odr_signature": 0x210F, "GNU_template_name": 0x2110,
    "GNU_call_site_value": 0x2111, "GNU_call_site_data_value": 0x2112,
    "GNU_call_site_target": 0x2113, "GNU_call_site_target_clobbered": 0x2114,
    "GNU_tail_call": 0x2115, "GNU_all_tail_call_sites": 0x2116,
    "GNU_all_call_sites": 0x2117, "GNU_all_source_call_sites": 0x2118,
    "GNU_macros": 0x2119, "GNU_deleted": 0x211A, "GNU_dwo_name": 0x2130,
    "GNU_dwo_id": 0x2131, "GNU_ranges_base": 0x2132, "GNU_addr_base": 0x2133,
    "GNU_pubnames": 0x2134, "GNU_pubtypes": 0x2135, "GNU_discriminator": 0x2136,
    "GNU_locviews": 0x2137, "GNU_entry_view": 0x2138, "GNU_annotation": 0x2139,
    "LLVM_include_path": 0x3E00, "LLVM_config_macros": 0x3E01,
    "LLVM_sysroot": 0x3E02, "LLVM_tag_offset": 0x3E03, "LLVM_apinotes": 0x3E07,
    "LLVM_active_lane": 0x3E08, "LLVM_augmentation": 0x3E09,
    "LLVM_lanes": 0x3E0A, "LLVM_lane_pc": 0x3E0B, "LLVM_vector_size": 0x3E0C,
    "APPLE_optimized": 0x3FE1, "APPLE_flags": 0x3FE2, "APPLE_isa": 0x3FE3,
    "APPLE_block": 0x3FE4, "APPLE_major_runtime_vers": 0x3FE5,
    "APPLE_runtime_class": 0x3FE6, "APPLE_omit_frame_ptr": 0x3FE7,
    "APPLE_property_name": 0x3FE8, "APPLE_property_getter": 0x3FE9,
    "APPLE_property_setter": 0x3FEA, "APPLE_property_attribute": 0x3FEB,
    "APPLE_objc_complete_type": 0x3FEC, "APPLE_property": 0x3FED,
    "APPLE_objc_direct": 0x3FEE, "APPLE_sdk": 0x3FEF,
})

Form = _family("DW_FORM_", "Form", {
    "addr": 0x01, "block2": 0x03, "block4": 0x04, "data2": 0x05, "data4": 0x06,
    "data8": 0x07, "string": 0x08, "block": 0x09, "block1": 0x0A, "data1": 0x0B,
    "flag": 0x0C, "sdata": 0x0D, "strp": 0x0E, "udata": 0x0F, "ref_addr": 0x10,
    "ref1": 0x11, "ref2": 0x12, "ref4": 0x13, "ref8": 0x14, "ref_udata": 0x15,
    "indirect": 0x16, "sec_offset": 0x17, "exprloc": 0x18, "flag_present": 0x19,
    "strx": 0x1A, "addrx": 0x1B, "ref_sup4": 0x1C, "strp_sup": 0x1D,
    "data16": 0x1E, "line_strp": 0x1F, "ref_sig8": 0x20, "implicit_const": 0x21,
    "loclistx": 0x22, "rnglistx": 0x23, "ref_sup8": 0x24, "strx1": 0x25,
    "strx2": 0x26, "strx3": 0x27, "strx4": 0x28, "addrx1": 0x29, "addrx2": 0x2A,
    "addrx3": 0x2B, "addrx4": 0x2C,
    "GNU_addr_index": 0x1F01, "GNU_str_index": 0x1F02,
    "GNU_ref_alt": 0x1F20, "GNU_strp_alt": 0x1F21,
})

Ate = _family("DW_ATE_", "Ate", {
    "address": 0x01, "boolean": 0x02, "complex_float": 0x03, "float": 0x04,
    "signed": 0x05, "signed_char": 0x06, "unsigned": 0x07, "unsigned_char": 0x08,
    "imaginary_float": 0x09, "packed_decimal": 0x0A, "numeric_string": 0x0B,
    "edited": 0x0C, "signed_fixed": 0x0D, "unsigned_fixed": 0x0E,
    "decimal_float": 0x0F, "UTF": 0x10, "UCS": 0x11, "ASCII": 0x12,
})

Lang = _family("DW_LANG_", "Lang", {
    "C89": 0x01, "C": 0x02, "Ada83": 0x03, "C_plus_plus": 0x04, "Cobol74": 0x05,
    "Cobol85": 0x06, "Fortran77": 0x07, "Fortran90": 0x08, "Pascal83": 0x09,
    "Modula2": 0x0A, "Java": 0x0B, "C99": 0x0C, "Ada95": 0x0D, "Fortran95": 0x0E,
    "PLI": 0x0F, "ObjC": 0x10, "ObjC_plus_plus": 0x11, "UPC": 0x12, "D": 0x13,
    "Python": 0x14, "OpenCL": 0x15, "Go": 0x16, "Modula3": 0x17, "Haskell": 0x18,
    "C_plus_plus_03": 0x19, "C_plus_plus_11": 0x1A, "OCaml": 0x1B, "Rust": 0x1C,
    "C11": 0x1D, "Swift": 0x1E, "Julia": 0x1F, "Dylan": 0x20,
    "C_plus_plus_14": 0x21, "Fortran03": 0x22, "Fortran08": 0x23,
    "RenderScript": 0x24, "BLISS": 0x25, "Kotlin": 0x26, "Zig": 0x27,
    "Crystal": 0x28, "C_plus_plus_17": 0x2A, "C_plus_plus_20": 0x2B, "C17": 0x2C,
    "Fortran18": 0x2D, "Ada2005": 0x2E, "Ada2012": 0x2F, "HIP": 0x30,
    "Assembly": 0x31, "C_sharp": 0x32, "Mojo": 0x33, "GLSL": 0x34,
    "GLSL_ES": 0x35, "HLSL": 0x36, "OpenCL_CPP": 0x37, "CPP_for_OpenCL": 0x38,
    "SYCL": 0x39, "Ruby": 0x40, "Move": 0x41, "Hylo": 0x42,
    "Mips_Assembler": 0x8001, "GOOGLE_RenderScript": 0x8E57, "BORLAND_Delphi": 0xB000,
})

Ut = _family("DW_UT_", "Ut", {
    "compile": 0x01, "type": 0x02, "partial": 0x03, "skeleton": 0x04,
    "split_compile": 0x05, "split_type": 0x06,
})

Inl = _family("DW_INL_", "Inl", {
    "not_inlined": 0, "inlined": 1, "declared_not_inlined": 2,
    "declared_inlined": 3,
})

Cc = _family("DW_CC_", "Cc", {
    "normal": 0x01, "program": 0x02, "nocall": 0x03, "pass_by_reference": 0x04,
    "pass_by_value": 0x05, "GNU_renesas_sh": 0x40, "GNU_borland_fastcall_i386": 0x41,
})

Lle = _family("DW_LLE_", "Lle", {
    "end_of_list": 0x00, "base_addressx": 0x01, "startx_endx": 0x02,
    "startx_length": 0x03, "offset_pair": 0x04, "default_location": 0x05,
    "base_address": 0x06, "start_end": 0x07, "start_length": 0x08,
    "GNU_view_pair": 0x09,
})

Rle = _family("DW_RLE_", "Rle", {
    "end_of_list": 0x00, "base_addressx": 0x01, "startx_endx": 0x02,
    "startx_length": 0x03, "offset_pair": 0x04, "base_address": 0x05,
    "start_end": 0x06, "start_length": 0x07,
})

_ops = {
    "addr": 0x03, "deref": 0x06, "const1u": 0x08, "const1s": 0x09,
    "const2u": 0x0A, "const2s": 0x0B, "const4u": 0x0C, "const4s": 0x0D,
    "const8u": 0x0E, "const8s": 0x0F, "constu": 0x10, "consts": 0x11, "dup": 0x12,
    "drop": 0x13, "over": 0x14, "pick": 0x15, "swap": 0x16, "rot": 0x17,
    "xderef": 0x18, "abs": 0x19, "and": 0x1A, "div": 0x1B, "minus": 0x1C,
    "mod": 0x1D, "mul": 0x1E, "neg": 0x1F, "not": 0x20, "or": 0x21, "plus": 0x22,
    "plus_uconst": 0x23, "shl": 0x24, "shr": 0x25, "shra": 0x26, "xor": 0x27,
    "bra": 0x28, "eq": 0x29, "ge": 0x2A, "gt": 0x2B, "le": 0x2C, "lt": 0x2D,
    "ne": 0x2E, "skip": 0x2F,
}
_ops.update({f"lit{i}": 0x30 + i for i in range(32)})
_ops.update({f"reg{i}": 0x50 + i for i in range(32)})
_ops.update({f"breg{i}": 0x70 + i for i in range(32)})
_ops.update({
    "regx": 0x90, "fbreg": 0x91, "bregx": 0x92, "piece": 0x93,
    "deref_size": 0x94, "xderef_size": 0x95, "nop": 0x96,
    "push_object_address": 0x97, "call2": 0x98, "call4": 0x99,
    "call_ref": 0x9A, "form_tls_address": 0x9B, "call_frame_cfa": 0x9C,
    "bit_piece": 0x9D, "implicit_value": 0x9E, "stack_value": 0x9F,
    "implicit_pointer": 0xA0, "addrx": 0xA1, "constx": 0xA2,
    "entry_value": 0xA3, "const_type": 0xA4, "regval_type": 0xA5,
    "deref_type": 0xA6, "xderef_type": 0xA7, "convert": 0xA8,
    "reinterpret": 0xA9,
    "GNU_push_tls_address": 0xE0, "GNU_uninit": 0xF0, "GNU_encoded_addr": 0xF1,
    "GNU_implicit_pointer": 0xF2, "GNU_entry_value": 0xF3,
    "GNU_const_type": 0xF4, "GNU_regval_type": 0xF5, "GNU_deref_type": 0xF6,
    "GNU_convert": 0xF7, "GNU_reinterpret": 0xF9, "GNU_parameter_ref": 0xFA,
    "GNU_addr_index": 0xFB, "GNU_const_index": 0xFC, "GNU_variable_value": 0xFD,
})
Op = _family("DW_OP_", "Op", _ops)
del _ops

DW_CHILDREN_no = 0
DW_CHILDREN_yes = 1

_PREFIX = {Tag: "DW_TAG_", At: "DW_AT_", Form: "DW_FORM_", Ate: "DW_ATE_",
           Lang: "DW_LANG_", Ut: "DW_UT_", Inl: "DW_INL_", Cc: "DW_CC_",
           Lle: "DW_LLE_", Rle: "DW_RLE_", Op: "DW_OP_"}
