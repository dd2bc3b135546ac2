"""Property tests of the import endpoints: the directory import and the Volet 1 import
pages of the admin, and the API's list filters: no input gives a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from audits.importers.columns import AD_COLUMNS, EXPOSURE_COLUMNS
from establishments.importers import COLUMNS as DIRECTORY_COLUMNS

from ..api.conftest import token_client
from .strategies import FAST, PAGES, any_text, assert_handled, field_value


def csv_of(header: list[str], rows: list[list[str]], separator: str) -> str:
    return "\n".join(separator.join(cells) for cells in [header, *rows])


@st.composite
def csv_files(draw, columns: list[str]) -> bytes:
    """A CSV whose header is the real one (or part of it, or junk) and whose cells are
    anything; sometimes random bytes instead."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=2048))
    header = draw(
        st.one_of(
            st.just(columns),
            st.lists(st.sampled_from(columns), max_size=len(columns)),
            st.lists(any_text, max_size=5),
        )
    )
    cell = st.one_of(field_value, st.sampled_from(["69", "84", "2025-01-13", "oui", "0"]))
    rows = draw(st.lists(st.lists(cell, max_size=len(header) + 2), max_size=6))
    separator = draw(st.sampled_from([";", ",", "\t"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return csv_of(header, rows, separator).encode(encoding, errors="replace")


json_files = st.one_of(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), any_text),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(any_text, children, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda value: __import__("json").dumps(value).encode()),
)

upload_names = st.one_of(
    st.sampled_from(["annuaire.csv", "scans.csv", "audits.json", "rapport.xml", "lot.zip"]),
    st.text(min_size=1, max_size=60),
)


@PAGES
@given(content=csv_files([column.name for column in DIRECTORY_COLUMNS]), name=upload_names)
def test_directory_import_page_never_fails(client, ministry_user, content, name):
    client.force_login(ministry_user)
    response = client.post(
        reverse("admin:establishments_legalentity_import"),
        {"file": SimpleUploadedFile(name, content)},
    )
    assert_handled(response)


@pytest.mark.parametrize("kind", ["exposure", "ad"])
@PAGES
@given(data=st.data())
def test_volet1_import_page_never_fails(
    client, ministry_user, hospital, django_capture_on_commit_callbacks, kind, data
):
    client.force_login(ministry_user)
    columns = EXPOSURE_COLUMNS if kind == "exposure" else AD_COLUMNS
    content = data.draw(st.one_of(csv_files([column.name for column in columns]), json_files))
    post = {
        "kind": data.draw(st.one_of(st.just(kind), field_value)),
        "file": SimpleUploadedFile(data.draw(upload_names), content),
    }
    if data.draw(st.booleans()):
        post["legal_entity"] = data.draw(st.one_of(st.just(str(hospital.pk)), field_value))
    with django_capture_on_commit_callbacks(execute=True):  # the batch runs, eagerly
        response = client.post(reverse("admin:audits_auditimport_add"), post)
    assert_handled(response)
    if response.status_code == 302:
        assert_handled(client.get(response["Location"]))


API_FILTERS = {
    "api:legal-entity-list": [
        "region",
        "department",
        "statistics_group",
        "volet1",
        "call",
        "applied",
        "eligible",
        "page",
        "page_size",
        "format",
    ],
    "api:application-list": ["call", "status", "region", "department", "page", "format"],
    "api:participation": ["region", "call", "format"],
}


@pytest.mark.parametrize("route", sorted(API_FILTERS))
@FAST
@given(data=st.data())
def test_api_lists_never_fail(ministry_user, route, data):
    client = token_client(ministry_user)
    params = data.draw(
        st.dictionaries(
            st.one_of(st.sampled_from(API_FILTERS[route]), any_text),
            st.one_of(field_value, st.sampled_from(["84", "69", "true", "0", "D2-2025"])),
            max_size=4,
        )
    )
    response = client.get(reverse(route), params)
    assert_handled(response)
    if response.status_code == 400:
        assert response.json()  # the fields at fault, in words
