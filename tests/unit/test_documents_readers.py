"""The PDF and DOCX readers in-process, on generated friendly and hostile files.

These call the readers directly (what the parser child runs); the sandbox around them is tested in
tests/integration/test_documents.py.
"""

from __future__ import annotations

import io
import socket
import stat
import time
import zipfile
from collections.abc import Iterator

import docx
import pytest

from app.documents import DocumentType, Limits
from app.documents.archive import open_docx_archive
from app.documents.pdf import read_pdf
from app.documents.word import read_docx
from app.errors import UserError
from tests.fixtures.documents import (
    LAUGHS_PROLOG,
    MAIN,
    SIDEBAR,
    XXE_PROLOG,
    deflated,
    document_xml,
    docx_bomb,
    encrypted_pdf,
    many_pages_pdf,
    raw_pdf,
    raw_zip,
    resume_docx,
    resume_pdf,
    rezip,
    two_column_pdf,
)

LIMITS = Limits()
PASSWD_MARKERS = ("root:", "/bin/", "nologin")


def test_pdf_text_keeps_lines_bullets_and_accents() -> None:
    """A single-column PDF yields its lines in order, with bullets and non-ASCII intact."""
    document = read_pdf(resume_pdf(), LIMITS)
    lines = [line for line in document.text.splitlines() if line]
    assert lines == [
        "Jane Doe",
        "jane@example.com | +49 30 1234567",
        "EXPERIENCE",
        "• Shipped the résumé parser — twice as fast",
        "SKILLS",
        "Python, SQL",
    ]
    assert document.kind is DocumentType.PDF
    assert document.pages == 1
    assert document.warnings == ()


@pytest.mark.parametrize("interleaved", [False, True], ids=["column-wise", "row-interleaved"])
def test_two_column_pdf_keeps_each_column_together(interleaved: bool) -> None:
    """Sidebar and main column come out as two contiguous runs, however the PDF was written."""
    text = read_pdf(two_column_pdf(interleaved=interleaved), LIMITS).text
    lines = [line for line in text.splitlines() if line]
    assert lines in (SIDEBAR + MAIN, MAIN + SIDEBAR)


def test_only_the_first_pages_are_read() -> None:
    """U5: A long PDF is read up to max_pages, and the warning says how many pages were skipped."""
    document = read_pdf(many_pages_pdf(10), Limits(max_pages=3))
    assert document.pages == 3
    assert "Page marker 3" in document.text
    assert "Page marker 4" not in document.text
    assert document.text.count("\f") == 2
    assert document.warnings == ("Only the first 3 of 10 pages were read.",)


def test_encrypted_pdf_asks_for_a_copy_without_password() -> None:
    """U5: A PDF that needs a password is refused with what to do."""
    with pytest.raises(UserError, match="password-protected"):
        read_pdf(encrypted_pdf(), LIMITS)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_pdf_is_refused_as_damaged(keep: float) -> None:
    """U5: A PDF cut short is refused as damaged rather than half-read."""
    data = many_pages_pdf(3)
    with pytest.raises(UserError, match="damaged or incomplete"):
        read_pdf(data[: int(len(data) * keep)], LIMITS)


def test_pdf_without_text_is_refused_as_a_scan() -> None:
    """A PDF with only drawings (like a scan) is refused with advice."""
    with pytest.raises(UserError, match="no selectable text"):
        read_pdf(raw_pdf(b"0 0 m 100 100 l S"), LIMITS)


def test_pdf_zip_polyglot_is_refused() -> None:
    """U2: A PDF that is also a valid ZIP archive is refused."""
    polyglot = resume_pdf() + resume_docx()
    with pytest.raises(UserError, match="both a PDF and a ZIP"):
        read_pdf(polyglot, LIMITS)


def test_zip_pdf_polyglot_named_docx_is_refused() -> None:
    """U2: A DOCX whose first kilobyte holds a PDF header is refused."""
    polyglot = rezip(resume_docx(), add=[("a.txt", b"%PDF-1.7 pretend")])
    reordered = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(polyglot)) as source,
        zipfile.ZipFile(reordered, "w", zipfile.ZIP_STORED) as target,
    ):
        target.writestr("a.txt", b"%PDF-1.7 pretend")
        for entry in source.infolist():
            if entry.filename != "a.txt":
                target.writestr(entry.filename, source.read(entry))
    with pytest.raises(UserError, match="both a ZIP archive and a PDF"):
        read_docx(reordered.getvalue(), LIMITS)


def test_docx_keeps_header_body_table_and_footer_in_order() -> None:
    """Header contact, title, headings, bullets, table rows, later sections and footer appear."""
    document = read_docx(resume_docx(), LIMITS)
    assert document.text.splitlines() == [
        "Jane Doe · jane@example.com · +49 30 1234567",
        "# Jane Doe",
        "## Experience",
        "Senior Engineer, Acme Corp, 2020 \u2013 Present",
        "- Built the billing pipeline",
        "## Skills",
        "Python | SQL",
        "Kubernetes | Terraform",
        "## Education",
        "BSc Computer Science, TU Berlin",
        "References available on request",
    ]
    assert document.kind is DocumentType.DOCX
    assert document.pages is None


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def with_body(body: str, *, prolog: str = "") -> bytes:
    return rezip(resume_docx(), replace={"word/document.xml": document_xml(body, prolog=prolog)})


def test_docx_content_controls_text_boxes_and_tracked_changes() -> None:
    """Text inside content controls and text boxes is kept once; deleted revisions are not."""
    body = (
        "<w:sdt><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>In a control</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>"
        "<w:p><w:r><w:t>Kept </w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del>"
        "<w:ins><w:r><w:t>inserted</w:t></w:r></w:ins></w:p>"
        '<w:p><w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/'
        'markup-compatibility/2006"><mc:Choice Requires="wps"><w:drawing><w:txbxContent>'
        "<w:p><w:r><w:t>In a box</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice>"
        "<mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>In a box</w:t></w:r></w:p>"
        "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    text = read_docx(with_body(body), LIMITS).text
    lines = text.splitlines()
    assert "In a control" in lines
    assert "Kept inserted" in lines
    assert lines.count("In a box") == 1
    assert "gone" not in text


def test_docx_layout_table_keeps_cells_as_columns() -> None:
    """A table cell holding several paragraphs (a sidebar) is kept as lines, not squashed."""
    body = (
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>SKILLS</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Python</w:t></w:r></w:p></w:tc>"
        "<w:tc><w:p><w:r><w:t>EXPERIENCE</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Acme</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    )
    lines = read_docx(with_body(body), LIMITS).text.splitlines()
    assert lines == ["SKILLS", "Python", "EXPERIENCE", "Acme"]


def test_python_docx_does_not_expand_external_entities() -> None:
    """U4: python-docx itself leaves an XXE entity unresolved: /etc/passwd never enters the text."""
    body = "<w:p><w:r><w:t>Before &xxe; After</w:t></w:r></w:p>"
    document = docx.Document(io.BytesIO(with_body(body, prolog=XXE_PROLOG)))
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "Before" in text
    assert not any(marker in text for marker in PASSWD_MARKERS)


@pytest.fixture
def trap() -> Iterator[socket.socket]:
    """A listening loopback socket that must never receive a connection."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        yield listener
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_python_docx_does_not_fetch_network_entities(trap: socket.socket) -> None:
    """U4: An external entity pointing at a loopback listener is never fetched."""
    port = trap.getsockname()[1]
    prolog = f'<!DOCTYPE w:document [<!ENTITY net SYSTEM "http://127.0.0.1:{port}/x">]>'
    body = "<w:p><w:r><w:t>A &net; B</w:t></w:r></w:p>"
    docx.Document(io.BytesIO(with_body(body, prolog=prolog)))


def test_python_docx_stops_billion_laughs_quickly() -> None:
    """U4: Nested entities are refused by libxml2's amplification guard instead of expanding."""
    body = "<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"
    started = time.process_time()
    with pytest.raises(SyntaxError, match="amplification"):
        docx.Document(io.BytesIO(with_body(body, prolog=LAUGHS_PROLOG)))
    assert time.process_time() - started < 5


@pytest.mark.parametrize("prolog", [XXE_PROLOG, LAUGHS_PROLOG], ids=["xxe", "billion-laughs"])
def test_docx_with_a_dtd_is_refused_before_parsing(prolog: str) -> None:
    """U4: Our reader refuses any DTD in package XML, which OPC forbids and Word never writes."""
    body = "<w:p><w:r><w:t>Hello</w:t></w:r></w:p>"
    with pytest.raises(UserError, match="DTD") as caught:
        read_docx(with_body(body, prolog=prolog), LIMITS)
    assert not any(marker in str(caught.value) for marker in PASSWD_MARKERS)


def test_docx_bomb_is_refused_from_its_directory() -> None:
    """U3: A 1 MB archive declaring 1 GiB is refused by ratio before any inflation."""
    bomb = docx_bomb()
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(UserError, match="expands 1,011 times"):
        read_docx(bomb, LIMITS)


def test_docx_unpacked_total_is_capped() -> None:
    """U3: Many moderately compressible parts that add up past max_unpacked_bytes are refused."""
    image = bytes(range(256)) * 4096  # 1 MiB that compresses only modestly
    archive = raw_zip(
        [
            deflated("[Content_Types].xml", b"<Types/>"),
            deflated("word/document.xml", b"<w:document/>"),
            *(deflated(f"word/media/image{i}.bin", image) for i in range(3)),
        ]
    )
    with pytest.raises(UserError, match="would unpack to 3 MiB"):
        read_docx(archive, Limits(max_unpacked_bytes=2 * 1024 * 1024))


def test_docx_with_too_many_entries_is_refused() -> None:
    """U3: An archive with more than 1,000 entries is refused from the end record alone."""
    extra = [(f"word/media/{i}.txt", b"") for i in range(1001)]
    with pytest.raises(UserError, match="contains 1,020 files"):
        read_docx(rezip(resume_docx(), add=extra), LIMITS)


@pytest.mark.parametrize(
    "name", ["../evil.xml", "word/../../evil.xml", "/etc/cron.d/evil", "C:\\evil.xml", "a\\..\\b"]
)
def test_docx_with_escaping_names_is_refused(name: str) -> None:
    """U3: Entry names that climb out of the archive or are absolute are refused."""
    with pytest.raises(UserError, match="unsafe file names"):
        read_docx(rezip(resume_docx(), add=[(name, b"x")]), LIMITS)


def test_docx_with_a_symlink_entry_is_refused() -> None:
    """U3: An entry marked as a symbolic link is refused."""
    link = deflated("word/link.xml", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16)
    types = deflated("[Content_Types].xml", b"<Types/>")
    document = deflated("word/document.xml", b"<w:document/>")
    with pytest.raises(UserError, match="unsafe file names"):
        read_docx(raw_zip([types, document, link]), LIMITS)


def test_encrypted_zip_entries_are_refused() -> None:
    """ZIP entries flagged as encrypted are refused as password-protected."""
    data = bytearray(resume_docx())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        first = archive.infolist()[0]
    offset = data.find(b"PK\x01\x02")  # the first central-directory record
    flags = int.from_bytes(data[offset + 8 : offset + 10], "little") | 0x1
    data[offset + 8 : offset + 10] = flags.to_bytes(2, "little")
    assert first.filename
    with pytest.raises(UserError, match="password-protected"):
        read_docx(bytes(data), LIMITS)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04" + b"\x00" * 100, "damaged"),
        (resume_docx()[:2000], "damaged"),
        (rezip(resume_docx(), replace={"word/document.xml": b"<w:document"}), "damaged"),
    ],
    ids=["garbage", "truncated", "broken-xml"],
)
def test_damaged_docx_is_refused(data: bytes, message: str) -> None:
    """Archives that are cut short or hold broken XML are refused as damaged."""
    with pytest.raises(UserError, match=message):
        read_docx(data, LIMITS)


def test_zip_that_is_not_a_word_document_is_refused() -> None:
    """A ZIP without the Word parts (an .xlsx or plain archive renamed) is refused."""
    plain = raw_zip([deflated("notes.txt", b"hello")])
    with pytest.raises(UserError, match="not a Word document"):
        read_docx(plain, LIMITS)


def test_archive_checks_pass_a_real_docx() -> None:
    """A python-docx file passes every archive check untouched."""
    with open_docx_archive(resume_docx(), LIMITS) as archive:
        assert "word/document.xml" in archive.namelist()
