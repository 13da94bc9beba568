"""The ZIP container of a DOCX, judged from its directory before a single byte is inflated.

A ZIP's central directory declares every entry's name and sizes. Everything that makes an archive
hostile is visible there (entry floods, ``../`` names, symlinks, sizes that add up to gigabytes,
ratios no XML reaches), so checking it first costs microseconds and turns a decompression bomb into
a clear refusal (ASVS 5.2.3; Python's zipfile "Decompression pitfalls"). ``zipfile`` then never
inflates more than an entry's declared size, so the declared numbers are binding.
"""

from __future__ import annotations

import stat
import struct
import zipfile
from io import BytesIO

from app.documents.kind import DocumentType
from app.documents.limits import MIB, Limits

REQUIRED_PARTS = ("[Content_Types].xml", "word/document.xml")
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_COUNT = 0xFFFF  # the real count is in the ZIP64 record; zipfile reads it
_MAX_COMMENT = 0xFFFF
_RATIO_FLOOR = MIB  # small entries may compress extremely well; only big ones can be bombs
_ENCRYPTED_FLAG = 0x1
_DTD_MARKERS = tuple(
    marker.encode(encoding)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
_PROLOG_BYTES = 64 * 1024


def open_docx_archive(data: bytes, limits: Limits) -> zipfile.ZipFile:
    """The DOCX's ZIP, after every check that needs no decompression.

    Raises ``UserError`` (via ``DocumentType.DOCX.unreadable``) when the archive is damaged,
    encrypted, not a Word document, or exceeds ``limits``.
    """
    declared = _declared_entry_count(data)
    if declared is not None and declared > limits.max_archive_entries:
        raise _too_many_entries(declared, limits)
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise DocumentType.DOCX.unreadable(
            "the file is damaged (it is not a complete ZIP archive). Save it again from Word and "
            "upload the new copy."
        ) from error
    try:
        check_entries(archive.infolist(), limits)
    except BaseException:
        archive.close()
        raise
    return archive


def check_entries(entries: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse an archive whose directory alone shows it is hostile or not a DOCX."""
    if len(entries) > limits.max_archive_entries:
        raise _too_many_entries(len(entries), limits)
    names = set()
    unpacked = 0
    for entry in entries:
        _check_name(entry)
        if entry.flag_bits & _ENCRYPTED_FLAG:
            raise DocumentType.DOCX.unreadable(
                "it is password-protected. Remove the password in Word and upload it again."
            )
        unpacked += entry.file_size
        if entry.file_size > _RATIO_FLOOR:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if ratio > limits.max_compression_ratio:
                raise DocumentType.DOCX.unreadable(
                    f"one of its parts expands {ratio:,.0f} times when unpacked, which only "
                    "deliberately crafted files do."
                )
        names.add(entry.filename)
    if unpacked > limits.max_unpacked_bytes:
        raise DocumentType.DOCX.unreadable(
            f"it would unpack to {unpacked / MIB:,.0f} MiB, more than the "
            f"{limits.max_unpacked_bytes / MIB:,.0f} MiB allowed. Remove large images and "
            "upload it again."
        )
    missing = [part for part in REQUIRED_PARTS if part not in names]
    if missing:
        raise DocumentType.DOCX.unreadable(
            "it is a ZIP archive but not a Word document. Save it as .docx from Word and upload "
            "it again."
        )


def refuse_dtds(archive: zipfile.ZipFile) -> None:
    """Refuse XML parts that declare a DTD; OPC (ECMA-376 Part 2) forbids them in packages.

    python-docx already parses with ``resolve_entities=False``, so entities are never expanded;
    this is the second wall, and it makes an XXE or billion-laughs file a clear refusal instead of
    a document with holes. Only the prolog is read: a DTD must come before the root element.
    """
    for entry in archive.infolist():
        if not entry.filename.endswith((".xml", ".rels")):
            continue
        with archive.open(entry) as part:
            prolog = part.read(_PROLOG_BYTES)
        if any(marker in prolog for marker in _DTD_MARKERS):
            raise DocumentType.DOCX.unreadable(
                "it contains XML declarations (a DTD) that Word never writes. Save it again from "
                "Word and upload the new copy."
            )


def _check_name(entry: zipfile.ZipInfo) -> None:
    name = entry.filename.replace("\\", "/")
    parts = name.split("/")
    absolute = name.startswith("/") or (len(name) > 1 and name[1] == ":")
    is_link = stat.S_ISLNK(entry.external_attr >> 16)
    if absolute or ".." in parts or "\x00" in name or is_link:
        raise DocumentType.DOCX.unreadable(
            "it contains unsafe file names, which only deliberately crafted files do."
        )


def _declared_entry_count(data: bytes) -> int | None:
    """The entry count from the end-of-directory record, read without building the directory.

    ``zipfile`` materialises one object per entry; an archive declaring millions of tiny entries
    would cost memory before ``check_entries`` could count them.
    """
    start = max(0, len(data) - _EOCD_SIZE - _MAX_COMMENT)
    position = data.rfind(_EOCD, start)
    if position < 0 or position + _EOCD_SIZE > len(data):
        return None
    (total,) = struct.unpack_from("<H", data, position + 10)
    return None if total == _ZIP64_COUNT else int(total)


def is_zip_archive(data: bytes) -> bool:
    """Whether ``data`` is also a readable ZIP archive (a PDF/ZIP polyglot, for instance)."""
    declared = _declared_entry_count(data)
    if not declared:
        return False
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return bool(archive.infolist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return False


def _too_many_entries(count: int, limits: Limits) -> Exception:
    return DocumentType.DOCX.unreadable(
        f"it contains {count:,} files, more than the {limits.max_archive_entries:,} a Word "
        "document can reasonably have."
    )
