"""Evidence uploads: every malicious case refused or neutralised, downloads hardened."""

import hashlib
import io
import re
import struct
import time
import zipfile
import zlib

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.http import Http404
from pikepdf import Array, Dictionary, Name, String

from applications.downloads import evidence_response
from applications.evidence import (
    EvidenceRejected,
    InspectedFile,
    check_application_quota,
    inspect_upload,
    safe_filename,
    storage_name,
    store_upload,
)
from applications.models import Evidence

from ..factories import ApplicationFactory

MB = 1024 * 1024


def inspect(data: bytes, name: str) -> InspectedFile:
    return inspect_upload(io.BytesIO(data), name=name)


def rejected(data: bytes, name: str) -> str:
    with pytest.raises(EvidenceRejected) as caught:
        inspect(data, name)
    return caught.value.message


# Builders: real files, made in memory -------------------------------------------------


def pdf_bytes(build=None, **save_options) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if build:
        build(pdf)
    buffer = io.BytesIO()
    pdf.save(buffer, **save_options)
    return buffer.getvalue()


def with_open_action_javascript(pdf):
    pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=String("app.alert('pwned')"))


def with_launch_link(pdf):
    action = Dictionary(S=Name.Launch, F=String("C:\\Windows\\System32\\calc.exe"))
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([0, 0, 100, 100]), A=action)
    pdf.pages[0].obj.Annots = pdf.make_indirect(Array([pdf.make_indirect(link)]))


def with_attachment(pdf):
    pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00")


def with_page_additional_action(pdf):
    pdf.pages[0].obj.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("x()")))


def with_javascript_names_tree(pdf):
    script = pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String("x()")))
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("a"), script])))


def with_xfa_form(pdf):
    xfa = pdf.make_stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>")
    pdf.Root.AcroForm = Dictionary(Fields=Array([]), XFA=xfa)


def handmade_pdf(catalog_extra: bytes) -> bytes:
    """A PDF written by hand, to feed the parser what no library would write."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


CONTENT_TYPES_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/{main}" ContentType="{main_type}"/>{extra}
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="{main}"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>
</Relationships>"""
DOCX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN_TYPE = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
VBA_TYPE = "application/vnd.ms-office.vbaProject"


def zip_bytes(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def ooxml_members(kind: str, *, main_type: str | None = None, extra_types: str = ""):
    main = {"docx": "word/document.xml", "xlsx": "xl/workbook.xml"}[kind]
    main_type = main_type or {"docx": DOCX_MAIN_TYPE, "xlsx": XLSX_MAIN_TYPE}[kind]
    body = {
        "docx": b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/'
        b'2006/main"><w:body><w:p><w:r><w:t>PCA</w:t></w:r></w:p></w:body></w:document>',
        "xlsx": b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
        b'main"><sheets/></workbook>',
    }[kind]
    return {
        "[Content_Types].xml": CONTENT_TYPES_XML.format(
            main=main, main_type=main_type, extra=extra_types
        ).encode(),
        "_rels/.rels": ROOT_RELS.format(main=main).encode(),
        main: body,
    }


ODT_TYPE = "application/vnd.oasis.opendocument.text"
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
ODF_CONTENT = (
    b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    b' office:version="1.3"><office:body><office:text/></office:body>'
    b"</office:document-content>"
)


def odf_bytes(mimetype: str = ODT_TYPE, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # ODF 1.3 part 2, 3.3: "mimetype" first and stored.
        archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", ODF_CONTENT, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(
            "META-INF/manifest.xml",
            b'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
            b'manifest:1.0"/>',
            compress_type=zipfile.ZIP_DEFLATED,
        )
        for name, data in (extra or {}).items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes(width: int = 1, height: int = 1) -> bytes:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = b"\xff\xe1" + struct.pack(">H", 2 + 300) + b"Exif\x00\x00" + b"\x00" * 294
    sof0 = b"\xff\xc0\x00\x0b\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00"
    sos = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x12\x34"
    return b"\xff\xd8" + app0 + exif + sof0 + sos + b"\xff\xd9"


# File names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Windows\\System32\\evil.pdf", "evil.pdf"),
        ("..\\..\\boot.ini.txt", "boot.ini.txt"),
        ("facture\u202efdp.exe", "facturefdp.exe"),
        ("rapport\u202egnp.pdf", "rapportgnp.pdf"),
        ("a\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069b.pdf", "ab.pdf"),
        ("\x00\x1b[31mrouge\x07.pdf", "[31mrouge.pdf"),
        ("", "piece-jointe"),
        (".pdf", "piece-jointe.pdf"),
        ("...   .PDF", "piece-jointe.pdf"),
        ("  ..bashrc", "piece-jointe.bashrc"),
        ('plan "PCA"; v2.pdf', "plan _PCA__ v2.pdf"),
        ("l'audit <final>|?*:.pdf", "l_audit _final_____.pdf"),
        ("Rapport   d’audit\tété\n2024.PDF", "Rapport d’audit été 2024.pdf"),
        ("Proce\u0300s-verbal.pdf", "Procès-verbal.pdf"),
        ("CON.txt", "_CON.txt"),
        ("rapport.PDF. . ", "rapport.pdf"),
    ],
)
def test_safe_filename_neutralises_malicious_names(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_truncates_long_names_keeping_the_extension():
    name = safe_filename("a" * 400 + ".PDF")
    assert len(name) == 150
    assert name.endswith("aaa.pdf")


def test_safe_filename_leaves_no_control_or_bidi_character():
    hostile = "".join(chr(c) for c in range(0x20)) + "\x7f\x85\u202e\u2066\ufeffx.pdf"
    assert safe_filename(hostile) == "x.pdf"


def test_storage_name_is_generated_by_the_server():
    first, second = storage_name("pdf"), storage_name("pdf")
    assert re.fullmatch(r"evidence/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", first)
    assert first != second


# Types by extension and content ---------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["setup.exe", "page.html", "logo.svg", "script.js", "budget.docm", "a.xlsm", "noext"]
)
def test_refuses_extensions_outside_the_list(name):
    message = rejected(b"anything", name)
    assert "ce type de fichier n'est pas accepté" in message


def test_accepts_a_valid_pdf_and_records_its_digest():
    data = pdf_bytes()
    inspected = inspect(data, "../Plan de continuité.PDF")
    assert inspected.safe_name == "Plan de continuité.pdf"
    assert inspected.extension == "pdf"
    assert inspected.content_type == "application/pdf"
    assert inspected.size == len(data)
    assert inspected.sha256 == hashlib.sha256(data).hexdigest()


def test_accepts_django_uploaded_files_in_memory_and_on_disk():
    data = pdf_bytes()
    in_memory = SimpleUploadedFile("pca.pdf", data, content_type="text/html")
    assert inspect_upload(in_memory, name=in_memory.name).content_type == "application/pdf"
    on_disk = TemporaryUploadedFile("pca.pdf", "application/pdf", len(data), None)
    on_disk.write(data)
    try:
        assert inspect_upload(on_disk, name=on_disk.name).size == len(data)
        assert on_disk.tell() == 0
    finally:
        on_disk.close()


def test_refuses_a_pdf_renamed_docx():
    assert "ne correspond pas à un fichier DOCX" in rejected(pdf_bytes(), "rapport.docx")


def test_refuses_an_executable_renamed_pdf():
    executable = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200 + b"This program cannot be run"
    assert "ne correspond pas à un fichier PDF" in rejected(executable, "facture.pdf")


def test_refuses_a_html_page_renamed_png():
    assert "ne correspond pas" in rejected(b"<html><script>x()</script></html>", "a.png")


def test_refuses_an_empty_file():
    assert "vide" in rejected(b"", "rien.txt")


# PDF active content --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (with_open_action_javascript, "JavaScript"),
        (with_page_additional_action, "JavaScript"),
        (with_javascript_names_tree, "JavaScript"),
        (with_launch_link, "lance un programme"),
        (with_attachment, "fichiers incorporés"),
        (with_xfa_form, "XFA"),
    ],
)
@pytest.mark.parametrize("object_streams", [False, True])
def test_refuses_pdfs_with_active_content(build, reason, object_streams):
    # Compressed object streams hide the dictionaries from a byte scan: qpdf reads them.
    mode = pikepdf.ObjectStreamMode.generate if object_streams else None
    options = {"object_stream_mode": mode} if mode else {}
    message = rejected(pdf_bytes(build, **options), "dossier.pdf")
    assert "« dossier.pdf »" in message
    assert reason in message


def test_refuses_javascript_hidden_behind_name_escapes():
    data = handmade_pdf(b"/OpenAction << /S /J#61vaScript /J#53 (app.alert(1)) >>")
    assert "JavaScript" in rejected(data, "escaped.pdf")


def test_accepts_a_handmade_pdf_with_harmless_actions():
    data = handmade_pdf(b"/OpenAction [3 0 R /Fit] /URI << /Base (https://sante.gouv.fr) >>")
    assert inspect(data, "ok.pdf").content_type == "application/pdf"


def test_refuses_a_pdf_protected_by_a_password():
    encryption = pikepdf.Encryption(user="secret", owner="secret")
    message = rejected(pdf_bytes(encryption=encryption), "chiffre.pdf")
    assert "mot de passe" in message


def test_accepts_a_pdf_with_permissions_only_once_checked():
    # No user password: qpdf decrypts it, so its content is checked like any other.
    encryption = pikepdf.Encryption(user="", owner="owner")
    assert inspect(pdf_bytes(encryption=encryption), "attestation.pdf").size > 0
    scripted = pdf_bytes(with_open_action_javascript, encryption=encryption)
    assert "JavaScript" in rejected(scripted, "attestation.pdf")


VALID_PDF = pdf_bytes()


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + b"garbage " * 400 + b"\n%%EOF\n",
        b"%PDF-1.4\n%%EOF",
        VALID_PDF[: len(VALID_PDF) // 2],
    ],
    ids=["garbage", "no-objects", "truncated"],
)
def test_refuses_unreadable_or_truncated_pdfs(data):
    assert "fichier PDF illisible ou endommagé" in rejected(data, "casse.pdf")


# Office documents -----------------------------------------------------------------------


def test_accepts_a_minimal_docx_and_xlsx():
    docx = inspect(zip_bytes(ooxml_members("docx")), "PCA.docx")
    assert docx.content_type.endswith("wordprocessingml.document")
    xlsx = inspect(zip_bytes(ooxml_members("xlsx")), "budget.XLSX")
    assert xlsx.content_type.endswith("spreadsheetml.sheet")


def test_refuses_a_docx_carrying_a_vba_project():
    members = ooxml_members("docx") | {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 60}
    assert "macros" in rejected(zip_bytes(members), "PCA.docx")


def test_refuses_a_docx_with_a_renamed_vba_part_declared_in_content_types():
    extra = f'\n<Override PartName="/word/innocent.bin" ContentType="{VBA_TYPE}"/>'
    members = ooxml_members("docx", extra_types=extra) | {"word/innocent.bin": b"\0" * 64}
    assert "macros" in rejected(zip_bytes(members), "PCA.docx")


def test_refuses_a_macro_content_type_written_with_character_references():
    extra = '\n<Default Extension="bin" ContentType="application/vnd.ms-office.&#118;baProject"/>'
    members = ooxml_members("docx", extra_types=extra)
    assert "macros" in rejected(zip_bytes(members), "PCA.docx")


def test_refuses_an_xlsx_with_a_macro_enabled_content_type():
    members = ooxml_members("xlsx", main_type=XLSM_MAIN_TYPE)
    assert "macros" in rejected(zip_bytes(members), "budget.xlsx")


def test_refuses_an_xlsx_pointing_to_a_vba_project_by_relationship():
    rels = (
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId9" Target="data.dat" Type="http://schemas.microsoft.com/'
        b'office/2006/relationships/vbaProject"/></Relationships>'
    )
    members = ooxml_members("xlsx") | {"xl/_rels/workbook.xml.rels": rels}
    assert "macros" in rejected(zip_bytes(members), "budget.xlsx")


def test_refuses_an_xlsx_without_its_workbook():
    members = ooxml_members("docx")
    assert "ne correspond pas à un fichier XLSX" in rejected(zip_bytes(members), "budget.xlsx")


def test_refuses_archive_members_escaping_the_archive():
    for evil in ("../../.bashrc", "/etc/cron.d/x", "C:/evil.bat", "word\\..\\..\\x"):
        members = ooxml_members("docx") | {evil: b"x"}
        assert "chemin interdit" in rejected(zip_bytes(members), "PCA.docx"), evil


def test_refuses_an_archive_with_too_many_members():
    members = ooxml_members("docx") | {f"word/media/{i}.xml": b"" for i in range(2001)}
    assert "trop d'éléments" in rejected(zip_bytes(members), "PCA.docx")


def test_refuses_a_zip_bomb_disguised_as_xlsx_without_inflating_it():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in ooxml_members("xlsx").items():
            archive.writestr(name, data)
        zeros = bytes(MB)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(150):
                member.write(zeros)
    data = buffer.getvalue()
    assert len(data) < 1 * MB
    started = time.perf_counter()
    message = rejected(data, "budget.xlsx")
    assert time.perf_counter() - started < 0.5
    assert "bombe de décompression" in message


def test_refuses_a_single_member_with_an_absurd_ratio():
    members = ooxml_members("xlsx") | {"xl/sharedStrings.xml": bytes(5 * MB)}
    assert "bombe de décompression" in rejected(zip_bytes(members), "budget.xlsx")


def test_refuses_a_zip_that_is_not_one():
    assert "illisible" in rejected(b"PK\x03\x04" + b"\x00" * 100, "PCA.docx")


def test_accepts_an_odt_and_an_ods():
    assert inspect(odf_bytes(), "plan.odt").content_type == ODT_TYPE
    assert inspect(odf_bytes(ODS_TYPE), "budget.ods").content_type == ODS_TYPE


def test_refuses_an_odf_whose_mimetype_does_not_match():
    assert "ne correspond pas à un fichier ODT" in rejected(odf_bytes(ODS_TYPE), "plan.odt")
    without = zip_bytes({"content.xml": ODF_CONTENT})
    assert "ne correspond pas" in rejected(without, "plan.odt")


@pytest.mark.parametrize(
    "extra",
    [
        {
            "Basic/script-lc.xml": b"<library:libraries/>",
            "Basic/Standard/script-xlb.xml": b"<library:library/>",
            "Basic/Standard/Module1.xml": b'<script:module>Sub Main\nShell("calc")\nEnd Sub',
        },
        {"Scripts/python/evil.py": b"import os; os.system('calc')"},
        {"Object 1/Basic/Standard/Module1.xml": b"Sub Main\nEnd Sub"},
    ],
    ids=["basic", "python", "embedded-object"],
)
def test_refuses_an_odt_with_macros(extra):
    assert "macros" in rejected(odf_bytes(extra=extra), "plan.odt")


def test_accepts_an_odt_with_an_empty_basic_library_index():
    assert inspect(odf_bytes(extra={"Basic/script-lc.xml": b"<libraries/>"}), "plan.odt")


def test_refuses_an_ods_binding_a_macro_to_an_event():
    content = ODF_CONTENT.replace(
        b"<office:body>",
        b'<office:scripts><office:event-listeners><script:event-listener script:language="ooo'
        b':script" script:event-name="dom:load" xlink:href="vnd.sun.star.script:Tools.Misc.'
        b'Main?language=Basic&amp;location=application"/></office:event-listeners>'
        b"</office:scripts><office:body>",
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ODS_TYPE)
        archive.writestr("content.xml", content)
    assert "macros" in rejected(buffer.getvalue(), "budget.ods")


# Images and text -----------------------------------------------------------------------


def test_accepts_png_and_jpeg():
    assert inspect(png_bytes(), "capture.png").content_type == "image/png"
    assert inspect(jpeg_bytes(640, 480), "photo.JPG").content_type == "image/jpeg"
    assert inspect(jpeg_bytes(), "photo.jpeg").extension == "jpeg"


def test_refuses_images_with_absurd_dimensions():
    assert "dimensions" in rejected(png_bytes(100_000, 100_000), "capture.png")
    assert "dimensions" in rejected(jpeg_bytes(65_000, 65_000), "photo.jpg")


def test_refuses_a_png_renamed_jpeg_and_a_broken_jpeg():
    assert "ne correspond pas" in rejected(png_bytes(), "photo.jpg")
    assert "JPEG illisible" in rejected(b"\xff\xd8\xff\xe0\x00", "photo.jpg")


def test_accepts_text_in_utf8_with_or_without_bom_and_in_latin1():
    text = "Exercice de crise : été 2024, coût 12 000 €\r\n"
    assert inspect(text.encode(), "cr.txt").content_type == "text/plain; charset=utf-8"
    with_bom = ("\ufeff" + text).encode()
    assert inspect(with_bom, "cr.csv").content_type == "text/csv; charset=utf-8"
    latin = "site;coût\nLyon;12\n".encode("latin-1")
    assert inspect(latin, "sites.csv").content_type == "text/csv; charset=windows-1252"


def test_refuses_text_with_nul_bytes():
    assert "caractères binaires" in rejected(b"abc\x00def", "notes.txt")
    assert "caractères binaires" in rejected("UTF-16 text".encode("utf-16"), "notes.csv")


# Sizes ----------------------------------------------------------------------------------


def test_refuses_a_file_over_the_size_limit(settings):
    settings.EVIDENCE_MAX_FILE_SIZE = 1024
    assert "taille maximale" in rejected(b"a" * 1025, "notes.txt")
    upload = SimpleUploadedFile("notes.txt", b"a" * 2048)
    with pytest.raises(EvidenceRejected, match="taille maximale"):
        inspect_upload(upload, name=upload.name)
    assert inspect(b"a" * 1024, "notes.txt").size == 1024


def make_evidence(application, size: int, name: str = "piece.pdf") -> Evidence:
    return Evidence.objects.create(
        application=application,
        file="evidence/2025/01/dummy.pdf",
        original_name=name,
        content_type="application/pdf",
        size=size,
        sha256="0" * 64,
    )


def test_refuses_an_upload_over_the_application_quota(db, django_assert_num_queries):
    application = ApplicationFactory()
    make_evidence(application, 150 * MB)
    make_evidence(application, 40 * MB)
    make_evidence(ApplicationFactory(), 150 * MB)  # another application's does not count
    with django_assert_num_queries(1):
        check_application_quota(application, 10 * MB)
    with pytest.raises(EvidenceRejected) as caught:
        check_application_quota(application, 10 * MB + 1, name="pca.pdf")
    assert "« pca.pdf »" in caught.value.message
    assert "200" in caught.value.message


def test_quota_is_configurable(db, settings):
    settings.EVIDENCE_MAX_APPLICATION_SIZE = 1000
    application = ApplicationFactory()
    make_evidence(application, 600)
    check_application_quota(application, 400)
    with pytest.raises(EvidenceRejected):
        check_application_quota(application, 401)


# Storage and downloads ------------------------------------------------------------------


@pytest.fixture
def private_storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_evidence(data: bytes, name: str) -> Evidence:
    inspected = inspect(data, name)
    path = store_upload(io.BytesIO(data), inspected)
    return Evidence.objects.create(
        application=ApplicationFactory(),
        file=path,
        original_name=inspected.safe_name,
        content_type=inspected.content_type,
        size=inspected.size,
        sha256=inspected.sha256,
    )


def read_and_close(response) -> bytes:
    # Not response.close(): its request_finished signal would close the test's connection.
    body = b"".join(response.streaming_content)
    response.file_to_stream.close()
    return body


def test_store_upload_uses_a_generated_name_in_private_storage(db, private_storage):
    # Built once: qpdf's /ID depends on the time, so two builds may differ.
    content = pdf_bytes()
    evidence = stored_evidence(content, "../../../var/www/html/shell.pdf")
    assert re.fullmatch(r"evidence/\d{4}/\d{2}/[0-9a-f]{32}\.pdf", evidence.file.name)
    assert (private_storage / evidence.file.name).read_bytes() == content
    assert "shell" not in evidence.file.name


def test_download_is_an_attachment_that_cannot_be_sniffed_or_cached(db, private_storage):
    data = pdf_bytes()
    evidence = stored_evidence(data, "Plan PCA.pdf")
    response = evidence_response(evidence)
    assert response["Content-Disposition"] == 'attachment; filename="Plan PCA.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Length"] == str(len(data))
    assert read_and_close(response) == data


def test_download_encodes_non_ascii_names_and_neutralises_stored_ones(db, private_storage):
    evidence = stored_evidence("Procès-verbal été.txt".encode(), "Procès-verbal été.txt")
    response = evidence_response(evidence)
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Proc%C3%A8s-verbal%20%C3%A9t%C3%A9.txt"
    )
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    read_and_close(response)
    # A name stored before these checks existed is neutralised on the way out.
    Evidence.objects.filter(pk=evidence.pk).update(
        original_name='x"; filename=evil.html\r\n.txt', content_type="text/html"
    )
    evidence.refresh_from_db()
    response = evidence_response(evidence)
    assert response["Content-Disposition"] == 'attachment; filename="x__ filename=evil.html.txt"'
    assert response["Content-Type"] == "application/octet-stream"
    read_and_close(response)


def test_download_of_a_missing_file_is_a_404(db, private_storage):
    evidence = make_evidence(ApplicationFactory(), 10)
    with pytest.raises(Http404):
        evidence_response(evidence)


def test_evidence_and_dossiers_are_sent_by_one_private_file_response(
    db, private_storage, monkeypatch
):
    from applications import downloads
    from applications.models import Dossier

    data = pdf_bytes()
    evidence = stored_evidence(data, "Plan PCA.pdf")
    response = downloads.private_file_response(
        evidence.file, filename='x"; filename=evil.html\r\n.pdf', content_type="application/pdf"
    )
    assert response["Content-Disposition"] == 'attachment; filename="x__ filename=evil.html.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert read_and_close(response) == data
    # No file, or a file gone from storage: 404.
    dossier = Dossier.objects.create(application=evidence.application, kind="dossier", version=1)
    with pytest.raises(Http404):
        downloads.private_file_response(
            dossier.file, filename="d.pdf", content_type="application/pdf"
        )
    dossier.file.name = "dossiers/2025/01/missing.pdf"
    with pytest.raises(Http404):
        downloads.dossier_response(dossier)
    # Both downloads go through it.
    sent = []
    monkeypatch.setattr(
        downloads, "private_file_response", lambda field_file, **kwargs: sent.append(kwargs)
    )
    downloads.evidence_response(evidence)
    downloads.dossier_response(dossier)
    reference = evidence.application.reference
    assert sent == [
        {"filename": "Plan PCA.pdf", "content_type": "application/pdf"},
        {"filename": f"{reference}-dossier-v1.pdf", "content_type": "application/pdf"},
    ]
