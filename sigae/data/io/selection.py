"""Choosing a variable: the automatic choice, MATLAB-style paths (``data.trials{3}``, ``s(2).x``), walking them."""

from __future__ import annotations

import math
import re

import numpy as np

from sigae.errors import DataError
from sigae.data.io.base import VariableInfo, Container, LeafNode, Node
from sigae.data.io.messages import bytes_text, clean, listing_text, quoted, shape_text
from sigae.data.io.tables import TableNode, is_record_dtype


_STEP = re.compile(r"\.([A-Za-z]\w*)|\{(\d+)(?:,(\d+))?\}|\((\d+)(?:,(\d+))?\)")


def parse_path(where, var) -> tuple[str, list]:
    """``data.trials{3}`` -> ("data", [("field", "trials"), ("cell", (3,))]); ``s(2)`` steps are ("struct", (2,))."""
    text = var.replace(" ", "")
    head = re.match(r"[^.{(]+", text)
    if head is None:
        raise DataError(f"{where}: cannot understand variable {quoted(var)}; write e.g. data, data.trial, c{{3}} or s(2).x")
    steps, pos = [], head.end()
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise DataError(f"{where}: cannot understand variable {quoted(var)} from {quoted(text[pos:])}; "
                            "write e.g. data.trial, c{3}, c{2,1} or s(2).x")
        if m.group(1):
            steps.append(("field", m.group(1)))
        else:
            numbers = [int(g) for g in (m.group(2, 3) if m.group(2) else m.group(4, 5)) if g is not None]
            steps.append(("cell" if m.group(2) else "struct", tuple(numbers)))
        pos = m.end()
    return head.group(0), steps


def _holds_signals(info: VariableInfo) -> bool:
    return _holds_numbers(info) and len(info.shape) in (2, 3) and info.shape[0] > 1 and info.shape[1] > 1


def _holds_numbers(info: VariableInfo) -> bool:
    """Real numbers, and at least one of them: an empty array (0 x n) is never a candidate."""
    return info.kind in ("numeric", "logical") and "complex" not in info.dtype and 0 not in info.shape


_NEVER_CHOSEN = ("cell", "struct", "sparse")
_CANDIDATES = {"signals": (_holds_signals, "a real numeric matrix with at least 2 rows and 2 columns"),
               "numbers": (_holds_numbers, "a real numeric array")}


def choose_variable(src: Container, var, use, max_bytes) -> Node:
    """The node *var* names, or the only variable that could hold *use* ("signals" or "numbers")."""
    where, infos = src.where, src.variables()
    if var is None:
        candidate, requirement = _CANDIDATES[use]
        found = [i for i in infos if candidate(i)]
        if not found and len(infos) == 1 and infos[0].kind not in _NEVER_CHOSEN:
            found = infos  # the file's only variable: its own checks say what is wrong with it
        if len(found) > 1:
            raise DataError(f"{where}: several variables could hold {use}: {listing_text(found, with_type=False)}; "
                            "choose one with --var")
        if not found:
            raise DataError(f"{where}: no variable could hold {use} ({requirement}); the file contains: "
                            f"{listing_text(infos)}; name one with --var (a struct field as s.field, "
                            "a cell as c or c{1})")
        name, steps = found[0].name, []
    else:
        if not isinstance(var, str) or not var:
            raise DataError(f"{where}: the variable name must be non-empty text, got {clean(repr(var))}")
        name, steps = src.split(var)
        if name not in {i.name for i in infos}:
            raise DataError(f"{where}: no variable {quoted(name)}; the file contains: {listing_text(infos)}")
    info = next(i for i in infos if i.name == name)
    check_size(where, name, info.shape, max_bytes)
    return _walk(where, src.root(name), steps)


def _walk(where, node: Node, steps) -> Node:
    for op, arg in steps:
        if op == "field" and isinstance(node, TableNode):  # a column of a table: acc/table/ax, data.csv's ax
            node = node.column_node(where, arg, f"{node.label}/{arg}")
        elif op == "field" and node.kind == "other" and _records_of(node) is not None:
            node = _record_field(where, node, _records_of(node), arg)
        elif op == "field" and isinstance(node, _FieldStack):  # trials.data.eeg: a field of each element
            node = _FieldStack.of(where, node, arg)
        elif op == "field":
            if node.kind != "struct":
                raise DataError(f"{where}: {quoted(node.label)} is {kind_text(node)}, not a struct; "
                                f"it has no field {quoted(arg)}")
            if arg not in node.fields():
                raise DataError(f"{where}: struct {quoted(node.label)} has no field {quoted(arg)}; its fields: "
                                f"{', '.join(map(clean, node.fields())) or 'none'}")
            if math.prod(node.shape) != 1:
                node = _FieldStack.of(where, node, arg)
            else:
                node = node.field(arg, f"{node.label}.{arg}")
        else:
            if node.kind != op:
                raise DataError(f"{where}: {quoted(node.label)} is {kind_text(node)}, not a {op} array; "
                                "use {} to index cells and () to index struct arrays")
            brackets = "{}" if op == "cell" else "()"
            label = f"{node.label}{brackets[0]}{','.join(map(str, arg))}{brackets[1]}"
            node = node.element(_index(where, node, arg, label), label)
    return node


class _FieldStack(Node):
    """One field of every element of a struct array (``trials.eeg``, ``trials.data.eeg``): read like a cell.

    The elements are taken in MATLAB's linear (column-major) order, as ``[trials.eeg]`` would; a field that
    is itself a struct array is expanded the same way, so each element holds one signal.
    """

    kind = "cell"
    noun = "struct array field"

    def __init__(self, label, items: list):
        self.label, self.items, self.shape = label, items, (1, len(items))

    @classmethod
    def of(cls, where, node: Node, name: str) -> _FieldStack:
        """Field *name* of each element of *node* (a struct array or a stack of structs)."""
        items = []
        for label, item in (node.items if isinstance(node, _FieldStack) else _struct_elements(node)):
            if item.kind != "struct":
                raise DataError(f"{where}: {quoted(label)} is {kind_text(item)}, not a struct; it has no field "
                                f"{quoted(name)}")
            for element_label, element in (_struct_elements(item) if math.prod(item.shape) != 1
                                           else [(label, item)]):
                if name not in element.fields():
                    raise DataError(f"{where}: struct {quoted(element_label)} has no field {quoted(name)}; its fields: "
                                    f"{', '.join(map(clean, element.fields())) or 'none'}")
                items.append((f"{element_label}.{name}", element.field(name, f"{element_label}.{name}")))
        if not items:
            raise DataError(f"{where}: struct array {quoted(node.label)} is empty")
        return cls(f"{node.label}.{name}", items)

    def fields(self):
        return self.items[0][1].fields() if self.items and self.items[0][1].kind == "struct" else []

    def cells(self):
        return iter(self.items)


def _records_of(node: Node):
    """The record dtype of an array of records that is not a table (2-D or more), else None."""
    dtype = node.dtype if node.dtype is not None else getattr(getattr(node, "obj", None), "dtype", None)
    return dtype if is_record_dtype(dtype) else None


def _record_field(where, node: Node, dtype, name: str) -> Node:
    """Field *name* of an array of records, as an array of its shape (and the field's own)."""
    if name not in dtype.names:
        raise DataError(f"{where}: {quoted(node.label)} is an array of records with no field {quoted(name)}; its fields: "
                        f"{', '.join(map(clean, dtype.names))}")
    sub = dtype.fields[name][0]
    base, shape = sub.subdtype if sub.subdtype else (sub, ())
    return LeafNode(f"{node.label}/{name}", tuple(node.shape) + tuple(shape), base,
                     lambda: np.asarray(node.read())[name])


def _struct_elements(node: Node) -> list:
    """(label, node) of each element of a struct array, in MATLAB's linear order: ``s(1)``, ``s(2)``..."""
    return [(f"{node.label}({k + 1})",
             node.element(tuple(int(i) for i in np.unravel_index(k, node.shape, order="F")),
                          f"{node.label}({k + 1})"))
            for k in range(math.prod(node.shape))]


def _index(where, node, numbers, label) -> tuple:
    """0-based index into *node* from MATLAB's 1-based linear (column-major) or full subscript."""
    shape = node.shape
    if len(numbers) == 1:
        count = math.prod(shape)
        if not 1 <= numbers[0] <= count:
            raise DataError(f"{where}: {quoted(label)} is out of range; {quoted(node.label)} has {count} elements")
        return tuple(int(i) for i in np.unravel_index(numbers[0] - 1, shape, order="F"))
    if len(numbers) != len(shape):
        raise DataError(f"{where}: {quoted(label)} gives {len(numbers)} indices; {quoted(node.label)} is "
                        f"{shape_text(shape)}: give 1 or {len(shape)}")
    if not all(1 <= i <= s for i, s in zip(numbers, shape)):
        raise DataError(f"{where}: {quoted(label)} is out of range; {quoted(node.label)} is {shape_text(shape)}")
    return tuple(i - 1 for i in numbers)


def kind_text(node) -> str:
    names = {"numeric": "a numeric array", "logical": "a logical array", "char": "a char array",
             "cell": "a cell array", "struct": "a struct", "sparse": "a sparse matrix",
             "function_handle": "a function handle", "object": "an array of objects", "other": "an unsupported value"}
    name = names[node.kind]
    if node.kind == "struct" and node.shape and math.prod(node.shape) != 1:
        return f"a {shape_text(node.shape)} struct array"
    if node.kind == "object" and node.cls and node.cls not in ("object", "opaque"):
        name = f"a MATLAB {clean(node.cls)} object"
    elif node.kind == "other" and node.cls:
        name = f"an {clean(node.cls)} value"
    elif node.kind == "other" and is_record_dtype(getattr(node, "dtype", None) or getattr(
            getattr(node, "obj", None), "dtype", None)):
        name = "an array of records"
    return f"{name} ({shape_text(node.shape)})" if node.shape else name


def check_size(where, label, shape, max_bytes):
    need = math.prod(int(s) for s in shape) * 8
    if need > max_bytes:
        raise DataError(f"{where}: variable {quoted(label)} is {shape_text(shape)}, which needs {bytes_text(need)} "
                        f"as float64, over the limit of {bytes_text(max_bytes)}")
