"""Compliance documents through the test client: the list with statuses, uploading (bad files and dates refused next
to the field, the rest of the form kept, a file just over 10 MB gets the message rather than the 413 page), and
downloads only for the owning provider's users, officers and the manager."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import AuditEvent, ComplianceDocument, Provider, Role
from portal.security import DOWNLOAD_CSP
from portal.services.audit import Events
from tests.factories_dps import add_document, document_type
from tests.helpers import count_queries, csrf_token, sign_in, start_session

PDF = b"%PDF-1.4\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
NEXT_YEAR = date.today() + timedelta(days=365)


@pytest.fixture
def provider_client(app, user_factory):
    user = user_factory(Role.PROVIDER)
    client = app.test_client()
    start_session(client, user.email)
    client.provider_id = user.provider_id
    return client


def _type_id(app, code) -> int:
    with app.app_context():
        return document_type(code).id


def _upload(client, type_id, data: bytes | None, filename="file.pdf", expires: date | tuple | None = None, query=""):
    path = f"/provider/documents/{type_id}{query}"
    form = {"csrf_token": csrf_token(client, "/provider/documents")}
    if data is not None:
        form["file"] = (io.BytesIO(data), filename)
    if expires is not None:
        parts = (expires.day, expires.month, expires.year) if isinstance(expires, date) else expires
        form["expires_on"] = [str(p) for p in parts]
    return client.post(path, data=form, content_type="multipart/form-data")


def _documents(app, provider_id) -> list[ComplianceDocument]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(ComplianceDocument).where(ComplianceDocument.provider_id == provider_id)
        ).all()
        db.session.expunge_all()
        return rows


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_list_shows_every_type_and_an_upload_changes_its_status(app, provider_client):
    page = _text(provider_client.get("/provider/documents"))
    assert "Public liability insurance" in page and "Financial statement" in page
    assert page.count(">Missing<") == 11

    type_id = _type_id(app, "public-liability")
    response = _upload(provider_client, type_id, PDF, "Cover note.pdf", NEXT_YEAR)
    assert response.status_code == 302 and response.headers["Location"] == "/provider/documents"
    page = _text(provider_client.get("/provider/documents"))
    assert page.count(">Missing<") == 10 and ">Valid<" in page and "Cover note.pdf" in page
    [document] = _documents(app, provider_client.provider_id)
    assert f'href="/documents/{document.id}"' in page
    assert document.expires_on == NEXT_YEAR


def test_expiring_soon_and_expired_are_shown(app, provider_client):
    with app.app_context():
        provider = db.session.get(Provider, provider_client.provider_id)
        add_document(provider, "public-liability", expires_on=date.today() + timedelta(days=10))
        add_document(provider, "employers-liability", expires_on=date.today() - timedelta(days=1))
    page = _text(provider_client.get("/provider/documents"))
    assert ">Expires soon<" in page and ">Expired<" in page


def test_after_an_upload_from_the_application_the_provider_goes_back_there(app, provider_client):
    type_id = _type_id(app, "complaints")
    response = _upload(provider_client, type_id, PDF, query="?from=application")
    assert response.headers["Location"] == "/provider/application/documents"
    response = _upload(provider_client, type_id, PDF, query="?from=https://evil.example")
    assert response.headers["Location"] == "/provider/documents"  # only known places


def test_a_file_just_over_10_mb_gets_the_message_next_to_the_field_and_the_date_is_kept(app, provider_client):
    type_id = _type_id(app, "public-liability")
    response = _upload(provider_client, type_id, b"%PDF-" + b"0" * (10 * 1024 * 1024 - 4), expires=(31, 3, 2099))
    page = _text(response)
    assert response.status_code == 200
    assert "The selected file must be smaller than 10 MB" in page and 'href="#file"' in page
    assert 'value="31"' in page and 'value="2099"' in page
    assert _documents(app, provider_client.provider_id) == []


def test_a_file_far_over_the_limit_gets_the_upload_page_with_the_message(app, provider_client):
    type_id = _type_id(app, "complaints")
    response = _upload(provider_client, type_id, b"%PDF-" + b"0" * (12 * 1024 * 1024))
    page = _text(response)
    assert response.status_code == 413
    assert "The selected file must be smaller than 10 MB" in page and "Complaints policy" in page


def test_a_file_whose_content_is_not_what_its_name_says_is_refused(app, provider_client):
    type_id = _type_id(app, "public-liability")
    response = _upload(provider_client, type_id, b"just text, not a PDF", "policy.pdf", (1, 4, 2099))
    page = _text(response)
    assert "The selected file must be a PDF, Word document (DOCX), PNG or JPEG" in page
    assert 'value="2099"' in page and 'value="4"' in page
    assert _documents(app, provider_client.provider_id) == []
    # A real PNG with a .pdf name is accepted as the PNG it is.
    assert _upload(provider_client, type_id, PNG, "scan.pdf", NEXT_YEAR).status_code == 302
    [document] = _documents(app, provider_client.provider_id)
    assert document.content_type == "image/png" and document.filename == "scan.png"


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ((1, 1, 2020), "The expiry date must be today or in the future"),
        ((31, 2, 2099), "Expiry date must be a real date"),
        (("", "", ""), "Enter the date the document expires"),
        ((1, 1, 99), "Year must include 4 numbers"),
    ],
    ids=["past", "not-a-date", "blank", "two-digit-year"],
)
def test_a_bad_expiry_date_is_refused_and_the_file_is_asked_for_again(app, provider_client, expires, message):
    type_id = _type_id(app, "public-liability")
    page = _text(_upload(provider_client, type_id, PDF, "cover.pdf", expires))
    assert message in page and 'href="#expires_on"' in page
    assert "Select the file again" in page
    if expires[2]:
        assert f'value="{expires[2]}"' in page
    assert _documents(app, provider_client.provider_id) == []


def test_no_file_chosen(app, provider_client):
    page = _text(_upload(provider_client, _type_id(app, "complaints"), None))
    assert "Select a file" in page


def test_a_type_without_expiry_has_no_date_input(app, provider_client):
    page = _text(provider_client.get(f"/provider/documents/{_type_id(app, 'complaints')}"))
    assert "expires_on" not in page and 'enctype="multipart/form-data"' in page
    assert provider_client.get("/provider/documents/99999").status_code == 404


def test_the_list_runs_the_same_statements_however_many_documents(app, provider_client):
    with app.app_context():
        engine = db.engine

    def statements():
        with count_queries(engine) as counter:
            assert provider_client.get("/provider/documents").status_code == 200
        return counter.count

    few = statements()
    with app.app_context():
        provider = db.session.get(Provider, provider_client.provider_id)
        for code in ("public-liability", "complaints", "data-protection", "safeguarding-policy"):
            for _ in range(3):
                add_document(provider, code, expires_on=NEXT_YEAR)
    assert statements() == few


# ---- Downloading ----------------------------------------------------------------------------------------------------


def _their_document(app, provider_id, content=PDF, filename='policy "final".pdf'):
    with app.app_context():
        document = add_document(db.session.get(Provider, provider_id), "complaints", content=content, filename=filename)
        return document.id


def test_the_owning_provider_downloads_an_attachment(app, provider_client):
    document_id = _their_document(app, provider_client.provider_id)
    response = provider_client.get(f"/documents/{document_id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "policy" in disposition and '"final"' not in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_another_provider_gets_not_found_for_every_way_in(app, provider_client, user_factory):
    other = user_factory(Role.PROVIDER)
    document_id = _their_document(app, other.provider_id)
    assert provider_client.get(f"/documents/{document_id}").status_code == 404
    assert provider_client.get("/documents/999999").status_code == 404
    assert f'href="/documents/{document_id}"' not in _text(provider_client.get("/provider/documents"))
    with app.app_context():
        assert not db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.DOCUMENT_DOWNLOADED)).all()


@pytest.mark.parametrize("role", [Role.OFFICER, Role.MANAGER])
def test_officers_and_the_manager_download_and_it_is_audited(app, user_factory, role):
    owner = user_factory(Role.PROVIDER)
    document_id = _their_document(app, owner.provider_id)
    reader = user_factory(role)
    client = app.test_client()
    sign_in(client, reader.email)
    response = client.get(f"/documents/{document_id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"] == DOWNLOAD_CSP
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == Events.DOCUMENT_DOWNLOADED)).all()
        assert event.actor_id == reader.id and event.subject_id == document_id


def test_anonymous_users_are_sent_to_sign_in(app, user_factory, client):
    owner = user_factory(Role.PROVIDER)
    document_id = _their_document(app, owner.provider_id)
    response = client.get(f"/documents/{document_id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_a_provider_uploads_only_for_its_own_organisation(app, provider_client, user_factory):
    other = user_factory(Role.PROVIDER)
    _upload(provider_client, _type_id(app, "complaints"), PDF)
    assert len(_documents(app, provider_client.provider_id)) == 1
    assert _documents(app, other.provider_id) == []
    assert re.search(r"/provider/documents/\d+", _text(provider_client.get("/provider/documents")))
