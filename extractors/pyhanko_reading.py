"""pyHanko's PDF reader, without the work it repeats.

Validating a signature that later revisions follow, pyHanko reads every object of the signed
revision (its difference analysis maps each object to the paths that reach it), parsing in
pure Python. Three costs dominate; they are cut here without changing any object pyHanko
builds (an array of numbers as first read is of a subclass of `ArrayObject`, its revisions'
views are `ArrayObject`s as pyHanko makes them):

- **Arrays of plain numbers.** Embedded fonts' width tables (`/W`, `/Widths`) are thousands of
  numbers, read one at a time through the stream. An array holding nothing but numbers and
  nested arrays of numbers is read here in one regular-expression pass, into the very objects
  pyHanko builds (`NumberObject`, `FloatObject`, `ArrayObject`, each with its container
  reference); any other array, or a token pyHanko would reject, goes to pyHanko's reader.
  Revision by revision, pyHanko then copies each object into its historical view, element by
  element (`_subsume_object`); an array of numbers is copied here in one pass, the numbers
  shared as pyHanko shares them.
- **Hexadecimal strings.** A signature's `/Contents` (tens of kilobytes of hex) is read a
  character at a time, each time a revision's view of the signature dictionary is read. A hex
  string of hex digits and white space only is decoded here in one pass (`binascii`, then
  pyHanko's `pdf_string`); one with a comment or a stray byte goes to pyHanko's reader.
- **Object-stream headers.** For each object taken from an object stream, pyHanko parses the
  stream's header (`objnum offset` pairs) from the start until it meets the object: quadratic
  in the objects per stream, and e-office files pack a few hundred in each. The header is
  parsed here once per stream and reader, by pyHanko's own number reader in the same order,
  a failure kept at the pair where it happened; the object is then read as pyHanko reads it.
- **Paths to references.** The difference analysis maps every reference of the signed
  revision to the paths that reach it, walking the whole object graph and calling itself once
  for each number of every width table. The walk here is pyHanko's own (0.38), except that it
  does not step into a value that can hold no reference (a number, a name, a string): the
  same map, without the calls that add nothing to it; nor does it read an indirect object
  whose bytes in the file are one array of well-formed numbers (a width table), as pyHanko
  would read it without fail. For another pyHanko version, its own walk runs.

`install()` is called by the signature reader; `uninstall()` restores pyHanko's own code (the
tests compare every object of real and generated files both ways).
"""

from __future__ import annotations

import binascii
import logging
import re
from collections import defaultdict
from importlib.metadata import version
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader, RawPdfPath

log = logging.getLogger("pyhanko.pdf_utils.reader")

# -- arrays of numbers -------------------------------------------------------------------------

# Only bytes that can stand in an array of numbers: PDF white space, digits, signs, points and
# brackets. Anything else (a name, a reference's `R`, a string, a comment) means pyHanko reads.
_NUMERIC = re.compile(rb"[ \n\r\t\f\x000-9.+\-\[\]]*")
_TOKEN = re.compile(rb"\[|\]|[+\-.0-9]+")
# The numbers pyHanko accepts: an integer, or a decimal with one point (`.5`, `5.`, `-1.25`).
_INTEGER = re.compile(rb"[+-]?[0-9]+")
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_FIRST_READ = 512
_LONGEST = 1 << 20        # a longer array is left to pyHanko

_pyhanko_read_array = generic.ArrayObject.read_from_stream
_pyhanko_object_from_stream = PdfFileReader._get_object_from_stream
_pyhanko_read_hex = generic.read_hex_string_from_stream
_pyhanko_subsume = HistoricalResolver._subsume_object
_pyhanko_paths_to_refs = HistoricalResolver._load_reverse_xref_cache


def _peek_run(stream, allowed: re.Pattern) -> tuple[int, bytes, int]:
    """The stream's position, the bytes from there (the stream left where it was), and where
    the run of `allowed` bytes at their start ends."""
    start = stream.tell()
    size = _FIRST_READ
    while True:
        chunk = stream.read(size)
        stream.seek(start)
        found = allowed.match(chunk)
        end = found.end() if found else 0
        if end < len(chunk) or len(chunk) < size or size >= _LONGEST:
            return start, chunk, end
        size *= 4


class _NumberArray(generic.ArrayObject):
    """An array `_numeric_array` read: numbers and arrays of numbers only."""


def _numeric_array(stream, container_ref) -> generic.ArrayObject | None:
    """The array at the stream's position if it holds only numbers, the stream left after
    it; None (the stream where it was) otherwise."""
    start, chunk, numeric_end = _peek_run(stream, _NUMERIC)
    if not chunk.startswith(b"["):
        return None
    stack: list[generic.ArrayObject] = []
    for token in _TOKEN.finditer(chunk, 0, numeric_end):
        text = token.group()
        if text == b"[":
            stack.append(_NumberArray())
        elif text == b"]":
            done = stack.pop()
            if not stack:
                stream.seek(start + token.end())
                return done
            done.container_ref = container_ref
            stack[-1].append(done)
        else:
            if _INTEGER.fullmatch(text):
                number: generic.PdfObject = generic.NumberObject(text.decode("ascii"))
            elif _DECIMAL.fullmatch(text):
                number = generic.FloatObject(text.decode("ascii"))
            else:
                return None
            number.container_ref = container_ref
            stack[-1].append(number)
    return None


def _read_array(stream, container_ref,
                in_content_stream: generic.ContentOpReading = generic.ContentOpReading.NO):
    if in_content_stream == generic.ContentOpReading.NO:
        array = _numeric_array(stream, container_ref)
        if array is not None:
            return array
    return _pyhanko_read_array(stream, container_ref, in_content_stream=in_content_stream)


def _subsume(self: HistoricalResolver, obj):
    if type(obj) is _NumberArray:
        return _subsumed_numbers(self, obj)
    return _pyhanko_subsume(self, obj)


def _subsumed_numbers(resolver: HistoricalResolver, array: _NumberArray) -> generic.ArrayObject:
    """What pyHanko's `_subsume_object` makes of an array of numbers: a plain copy whose
    container reference points into `resolver`, its numbers shared (pyHanko never copies
    primitives), nested arrays copied in turn."""
    ref: Any = array.get_container_ref()    # a Reference, as pyHanko assumes too
    copy = generic.ArrayObject(_subsumed_numbers(resolver, item) if type(item) is _NumberArray
                               else item for item in array)
    copy.container_ref = generic.Reference(idnum=ref.idnum, generation=ref.generation,
                                           pdf=resolver)
    return copy


# -- hexadecimal strings ----------------------------------------------------------------------

_HEX_RUN = re.compile(rb"<[0-9a-fA-F \n\r\t\f\x00]*")
_WHITE = re.compile(rb"[ \n\r\t\f\x00]+")


def _read_hex_string(stream):
    start, chunk, end = _peek_run(stream, _HEX_RUN)
    if chunk[end:end + 1] != b">":
        return _pyhanko_read_hex(stream)
    digits = _WHITE.sub(b"", chunk[1:end])
    stream.seek(start + end + 1)
    return generic.pdf_string(binascii.unhexlify(digits + b"0" * (len(digits) % 2)))


# -- object streams ----------------------------------------------------------------------------

class _Header:
    """An object stream's header as pyHanko reads it: the pairs up to the first that fails,
    and that failure (raised again wherever pyHanko would meet it)."""

    def __init__(self, data: bytes, count: int) -> None:
        self.data = data            # the decoded stream it was read from
        self.pairs: list[tuple[generic.NumberObject, generic.NumberObject]] = []
        self.failure: BaseException | None = None
        stream = BytesIO(data)
        try:
            for _ in range(count):
                misc.read_non_whitespace(stream, seek_back=True)
                objnum = generic.NumberObject.read_from_stream(stream)
                misc.read_non_whitespace(stream, seek_back=True)
                offset = generic.NumberObject.read_from_stream(stream)
                misc.read_non_whitespace(stream, seek_back=True)
                self.pairs.append((objnum, offset))
        except Exception as exc:   # noqa: BLE001 — kept, to be raised where pyHanko raises it
            self.failure = exc


def _header(reader: PdfFileReader, stmnum: int, stream: generic.StreamObject,
            data: bytes) -> _Header:
    """The header of object stream `stmnum`, read once per reader (and again should its
    decoded data be another)."""
    headers = reader.__dict__.setdefault("_kiemchung_objstm_headers", {})
    header = headers.get(stmnum)
    if header is None or header.data is not data:
        header = headers[stmnum] = _Header(data, stream["/N"])
    return header


def _object_from_stream(self: PdfFileReader, idnum, stmnum, idx):
    """pyHanko's `PdfFileReader._get_object_from_stream`, the header parsed once."""
    stream_ref = generic.Reference(stmnum, 0, self)
    stream = stream_ref.get_object()
    assert isinstance(stream, generic.StreamObject)
    assert stream["/Type"] == "/ObjStm"
    if not (0 <= idx < stream["/N"]):
        if self.strict:
            raise PdfStrictReadError("Object stream does not contain index")
        return generic.NullObject()
    data = stream.read_data(DecodePurpose.OBJECT_STREAM)
    header = _header(self, stmnum, stream, data)
    first_object = stream["/First"]
    for i, (objnum, offset) in enumerate(header.pairs):
        if objnum != idnum:
            continue
        if self.strict and idx != i:
            raise PdfStrictReadError("Object is in wrong index.")
        stream_data = BytesIO(data)
        stream_data.seek(first_object + offset)
        try:
            obj = generic.read_object(stream_data, generic.Reference(idnum, 0, self))
        except (misc.PdfStreamError, misc.PdfReadError) as e:
            log.warning(f"Invalid stream (index {i}) within object {idnum} 0: {e}")
            if self.strict:
                raise PdfStrictReadError(f"Can't read object stream: {e}") from e
            obj = generic.NullObject()
        if isinstance(obj, (generic.StreamObject, generic.IndirectObject)):
            if self.strict:
                raise PdfStrictReadError("Encountered forbidden object type in object stream")
            return obj
        generic.read_non_whitespace(stream_data, seek_back=True, allow_eof=True)
        return obj
    if header.failure is not None:
        if not isinstance(header.failure, ValueError):
            raise header.failure
        if self.strict:
            raise PdfStrictReadError("Object stream header possibly corrupted")
        return generic.NullObject()
    if self.strict:
        raise PdfStrictReadError(
            "Object not found in stream, this is a fatal error in strict mode")
    return generic.NullObject()


# -- paths to references -----------------------------------------------------------------------

_WALK_COPIED_FROM = "0.38."      # the pyHanko release whose walk _load_paths_to_refs repeats
# What can lead to a reference: anything else is a leaf the walk has nothing to record in.
_CAN_REACH = (generic.IndirectObject, generic.DictionaryObject, generic.ArrayObject)

# An indirect object that is one array of the numbers pyHanko accepts (`_DECIMAL`, `_INTEGER`;
# none followed by a "," or another point: those it reads otherwise or refuses), then `endobj`.
_NUMBERS_OBJECT = re.compile(
    rb"%(w)s*(\d+)%(w)s+(\d+)%(w)s+obj%(w)s*(\[(?:%(w)s*(?:\[|\]|(?:%(decimal)s|%(integer)s)"
    rb"(?![0-9.+\-,])))*)%(w)s*endobj"
    % {b"w": _WHITE.pattern[:-1], b"decimal": _DECIMAL.pattern, b"integer": _INTEGER.pattern})
_BRACKETS = re.compile(rb"[\[\]]")
_PEEK = 1 << 15           # a longer object is read by pyHanko


def _numbers_only(resolver: HistoricalResolver, ref: generic.Reference) -> bool:
    """Whether `ref` in this revision is a plain (uncompressed, unencrypted) object holding one
    array of numbers and nested arrays of numbers, read from its bytes without parsing it."""
    reader = resolver.reader
    if ref in resolver.cache or reader.encrypted:
        return False
    marker = reader.xrefs.get_historical_ref(ref, resolver.revision)
    if type(marker) is not int:
        return False
    stream = reader.stream
    position = stream.tell()
    stream.seek(marker)
    chunk = stream.read(_PEEK)
    stream.seek(position)
    found = _NUMBERS_OBJECT.match(chunk)
    if not found or (int(found[1]), int(found[2])) != (ref.idnum, ref.generation):
        return False
    brackets = _BRACKETS.findall(found[3])
    depth = 0
    for bracket in brackets[:-1]:
        depth += 1 if bracket == b"[" else -1
        if depth <= 0:            # closed before its last bracket: not one array
            return False
    return depth == 1 and brackets[-1] == b"]"


def _load_paths_to_refs(self: HistoricalResolver) -> None:
    """pyHanko's `HistoricalResolver._load_reverse_xref_cache`, its walk stepping over leaves
    (the page tree entered only by its canonical path, the structure tree's back links and
    every /Parent left out, as there)."""
    if self._indirect_object_access_cache is not None:
        return
    collected: defaultdict = defaultdict(set)

    def walk(obj, path, seen, page_tree: dict, in_struct_tree: bool, struct_tree: set) -> None:
        if isinstance(obj, generic.IndirectObject):
            ref = obj.reference
            if ref in seen:
                return
            collected[ref].add(path)
            if _numbers_only(self, ref):
                return
            seen = seen.cons(ref)
            obj = self(ref)
            if page_tree.get(ref, path) != path:
                return
            if not in_struct_tree and ref in struct_tree:
                return
        if isinstance(obj, generic.DictionaryObject):
            for key, value in obj.items():
                if key == "/Parent" or (in_struct_tree and key == "/P") or \
                        not isinstance(value, _CAN_REACH):
                    continue
                walk(value, path.cons(key), seen, page_tree,
                     in_struct_tree or (path.head == "/StructTreeRoot" and key == "/K"
                                        and path.tail == misc.ConsList.sing("/Root")),
                     struct_tree)
        elif isinstance(obj, generic.ArrayObject):
            for index, value in enumerate(obj):
                if isinstance(value, _CAN_REACH):
                    walk(value, path.cons(index), seen, page_tree, in_struct_tree, struct_tree)

    def page_tree_refs(pages, path):
        for index, kid in enumerate(pages["/Kids"]):
            kid_path = path.cons("/Kids").cons(index)
            if isinstance(kid, generic.IndirectObject):
                yield kid.reference, kid_path
            kid = kid.get_object()
            if kid.get("/Type", None) == "/Pages":
                yield from page_tree_refs(kid, kid_path)

    def struct_tree_refs(element):
        try:
            children = element["/K"]
        except KeyError:
            return
        if not isinstance(children, generic.ArrayObject):
            children = (children,)
        for child in children:
            child_ref = None
            if isinstance(child, generic.IndirectObject):
                child_ref = child.reference
                child = child.get_object()
            if not isinstance(child, generic.DictionaryObject):
                continue
            try:
                if child["/Type"] != "/StructElem":
                    continue
            except KeyError:
                pass
            if child_ref is not None:
                yield child_ref
            yield from struct_tree_refs(child)

    pages_ref = self.root.raw_get("/Pages")
    pages_path = misc.ConsList.sing("/Root").cons("/Pages")
    page_tree = {}
    if isinstance(pages_ref, generic.IndirectObject):
        page_tree[pages_ref.reference] = pages_path
    for ref, path in page_tree_refs(pages_ref.get_object(), pages_path):
        if ref in page_tree:
            raise misc.PdfReadError("Circular reference in page tree in mapping stage")
        page_tree[ref] = path
    struct_tree = set()
    try:
        struct_root = self.root.raw_get("/StructTreeRoot").get_object()
        for ref in struct_tree_refs(struct_root):
            if ref in struct_tree:
                raise misc.PdfReadError("Circular reference in structure tree in mapping stage")
            struct_tree.add(ref)
    except KeyError:
        pass
    walk(self.trailer_view, misc.ConsList.empty(), misc.ConsList.empty(), page_tree, False,
         struct_tree)
    self._indirect_object_access_cache = {
        ref: {RawPdfPath(*reversed(list(p))) for p in paths} for ref, paths in collected.items()}


# -- switching ---------------------------------------------------------------------------------

def install() -> None:
    """Route pyHanko's reading of arrays, hex strings and object streams through this module
    (idempotent)."""
    generic.ArrayObject.read_from_stream = staticmethod(_read_array)  # type: ignore[method-assign]
    generic.read_hex_string_from_stream = _read_hex_string
    HistoricalResolver._subsume_object = _subsume                     # type: ignore[method-assign]
    PdfFileReader._get_object_from_stream = _object_from_stream       # type: ignore[method-assign]
    if version("pyhanko").startswith(_WALK_COPIED_FROM):
        HistoricalResolver._load_reverse_xref_cache = _load_paths_to_refs  # type: ignore[method-assign]


def uninstall() -> None:
    """pyHanko's own reading again (for comparing the two)."""
    generic.ArrayObject.read_from_stream = staticmethod(  # type: ignore[method-assign]
        _pyhanko_read_array)
    generic.read_hex_string_from_stream = _pyhanko_read_hex
    HistoricalResolver._subsume_object = _pyhanko_subsume             # type: ignore[method-assign]
    PdfFileReader._get_object_from_stream = _pyhanko_object_from_stream  # type: ignore[method-assign]
    HistoricalResolver._load_reverse_xref_cache = _pyhanko_paths_to_refs  # type: ignore[method-assign]


__all__ = ["install", "uninstall"]
