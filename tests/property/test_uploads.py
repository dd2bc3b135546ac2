"""Property tests of the evidence upload: random bytes under random names, posted to the
upload URL by the candidate's user, are refused with a message or stored; never a 500."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from applications.drafting import application_start
from applications.models import Evidence

from ..factories import FundingCallFactory, RequirementFactory
from .strategies import PAGES, assert_handled

EXTENSIONS = ["pdf", "png", "jpg", "jpeg", "docx", "xlsx", "odt", "ods", "csv", "txt", "zip", "exe"]

names = st.one_of(
    st.text(min_size=1, max_size=120),
    st.builds(
        lambda stem, ext: f"{stem}.{ext}",
        st.text(max_size=60),
        st.sampled_from(EXTENSIONS),
    ),
)
# Random bytes, and random bytes behind the magic numbers the upload checks look at.
MAGIC = [b"", b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"PK\x03\x04", b"MZ"]
contents = st.builds(
    lambda magic, rest: magic + rest, st.sampled_from(MAGIC), st.binary(max_size=2048)
)


@pytest.fixture
def draft(db, hospital, hospital_user):
    call = FundingCallFactory(code="D2-2025")
    RequirementFactory(call=call, identifier="D2.P1", kind="prerequisite")
    return application_start(call=call, candidate=hospital, by=hospital_user)


@PAGES
@given(
    name=names,
    content=contents,
    answer_choice=st.sampled_from(["own", "own", "own", "junk", "none"]),
)
def test_any_file_is_stored_or_refused_with_a_message(
    client, draft, hospital_user, name, content, answer_choice
):
    client.force_login(hospital_user)
    answer = draft.answers.get()
    data = {"file": SimpleUploadedFile(name, content)}
    if answer_choice == "own":
        data["answer"] = str(answer.pk)
    elif answer_choice == "junk":
        data["answer"] = name
    before = Evidence.objects.count()
    response = client.post(reverse("applications:evidence-upload", args=[draft.public_id]), data)
    assert_handled(response)
    if response.status_code == 302:
        assert Evidence.objects.count() == before + 1
        notes = [str(message) for message in get_messages(response.wsgi_request)]
        assert any("ajoutée" in note for note in notes), notes
    else:
        assert Evidence.objects.count() == before  # nothing half-written
    if response.status_code == 400:
        html = response.content.decode()
        assert "fr-error-text" in html or "fr-alert" in html, html[:300]
