"""One-line messages: names and shapes made printable and short."""

from __future__ import annotations


LISTED = 20  # variables named in one message at most
FORMAT_NAMES = {".mat": "MAT-file", ".npy": ".npy file", ".npz": ".npz archive", ".csv": "text table",
                 ".txt": "text table", ".h5": "HDF5 file", ".hdf5": "HDF5 file"}


def clean(text) -> str:
    """*text* on one printable line: control characters and undecodable bytes escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def quoted(name) -> str:
    return f"'{clean(name)}'"


def shape_text(shape) -> str:
    return "x".join(str(int(s)) for s in shape) if len(shape) else "scalar"


def bytes_text(n: int) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def listing_text(infos, *, with_type=True) -> str:
    """``a (100x501 double), c (1x3 cell)``, at most LISTED entries."""
    def describe(i):
        kind = i.dtype if i.kind in ("numeric", "logical") else i.kind
        if i.kind == "object" and i.dtype not in ("object", "opaque", ""):
            kind = f"{i.dtype} object"
        return f"{clean(i.name)} ({shape_text(i.shape)}{' ' + clean(kind) if with_type else ''})"

    text = ", ".join(describe(i) for i in infos[:LISTED])
    return text + (f" and {len(infos) - LISTED} more" if len(infos) > LISTED else "") if text else "no variables"


def reason_text(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "error":  # zlib.error, struct.error
        name = f"{type(exc).__module__}.error"
    text = clean(f"{name}: {exc}" if str(exc) else name)
    return text if len(text) <= 200 else text[:197] + "..."


def check_choice(option, value, allowed):
    if value is not None and value not in allowed:
        raise ValueError(f"{option} must be one of {allowed} or None, got {value!r}")
