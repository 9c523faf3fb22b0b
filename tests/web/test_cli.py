"""flask users create and flask seed demo."""

import pytest
import sqlalchemy as sa

from portal.clock import london_today
from portal.extensions import db
from portal.models import Application, ApplicationStatus, Arrangement, CouncilService, Lot, Provider, Regime, Role, User
from portal.services import demo
from portal.services.eligibility import eligible_providers
from portal.services.passwords import verify_password
from tests.factories import CouncilServiceFactory, ProviderFactory

PASSWORD = "a long enough password"


def _user(app, email):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.email == email))


def test_create_an_officer_with_password_from_stdin(app, runner):
    with app.app_context():
        CouncilServiceFactory(name="SEND")
    result = runner.invoke(
        args=["users", "create", "Sam@Council.example", "--name", "Sam Send", "--role", "officer", "--service", "SEND",
              "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created officer sam@council.example (SEND)" in result.output
    user = _user(app, "sam@council.example")
    assert user.role is Role.OFFICER
    assert verify_password(user.password_hash, PASSWORD)


def test_password_prompt_is_hidden_and_confirmed(app, runner):
    with app.app_context():
        ProviderFactory(name="Acme Tutors")
    result = runner.invoke(
        args=["users", "create", "p@acme.example", "--name", "Pat", "--role", "provider", "--provider", "Acme Tutors"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # never echoed
    assert "Repeat for confirmation" in result.output
    assert _user(app, "p@acme.example").provider.name == "Acme Tutors"


@pytest.mark.parametrize(
    "args, message",
    [
        (["dup@example.org", "--name", "D", "--role", "manager"], "already exists"),
        (["x@example.org", "--name", "X", "--role", "wizard"], "unknown role 'wizard'"),
        (["x@example.org", "--name", "X", "--role", "officer", "--service", "Nowhere"], "No council service"),
        (["x@example.org", "--name", "X", "--role", "provider", "--provider", "Nobody"], "No provider"),
        (["not-an-email", "--name", "X", "--role", "manager"], "correct format"),
    ],
    ids=["duplicate", "unknown-role", "unknown-service", "unknown-provider", "bad-email"],
)
def test_mistakes_exit_with_status_2_and_a_clear_error(app, runner, user_factory, args, message):
    user_factory(Role.MANAGER, email="dup@example.org")
    result = runner.invoke(args=["users", "create", *args, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.startswith("Error: ")


def test_a_short_password_is_refused(app, runner):
    result = runner.invoke(
        args=["users", "create", "m@example.org", "--name", "M", "--role", "manager", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code == 2
    assert "12 characters or more" in result.output
    assert _user(app, "m@example.org") is None


def _counts(app):
    with app.app_context():
        return {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Arrangement, Lot, CouncilService, Provider, User)
        }


def test_seed_demo_is_refused_outside_development(app, runner):
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 2
    assert "PORTAL_ENV=development" in result.output
    assert _counts(app)["User"] == 0


def test_seed_demo_creates_the_demo_once(app, runner):
    first = runner.invoke(args=["seed", "demo", "--force"])
    assert first.exit_code == 0, first.output
    assert _counts(app) == {"Arrangement": 1, "Lot": 4, "CouncilService": 6, "Provider": 8, "User": 12}
    second = runner.invoke(args=["seed", "demo", "--force"])
    assert second.exit_code == 0
    assert _counts(app) == {"Arrangement": 1, "Lot": 4, "CouncilService": 6, "Provider": 8, "User": 12}
    assert first.output == second.output
    assert demo.DEMO_PASSWORD in first.output
    assert "manager@council.example" in first.output and "provider8@provider.example" in first.output

    with app.app_context():
        arrangement = db.session.scalar(sa.select(Arrangement))
        assert arrangement.regime is Regime.PCR2015_DPS
        assert (arrangement.start_date.isoformat(), arrangement.end_date.isoformat()) == ("2024-04-01", "2031-03-31")
        assert arrangement.legal_end_date.isoformat() == "2029-02-23"
        assert [lot.title for lot in arrangement.lots] == [title for _, title in demo.LOTS]
        officers = db.session.scalars(sa.select(User).where(User.role == Role.OFFICER)).all()
        assert len({o.service_id for o in officers}) == 3
        statuses = db.session.execute(
            sa.select(Application.status, sa.func.count()).group_by(Application.status)
        ).all()
        assert dict(statuses) == {
            ApplicationStatus.DECIDED: 5, ApplicationStatus.SUBMITTED: 2, ApplicationStatus.DRAFT: 1
        }
        today = london_today()
        overdue = db.session.scalars(
            sa.select(Application).where(
                Application.status == ApplicationStatus.SUBMITTED, Application.decision_due_on < today
            )
        ).all()
        assert len(overdue) == 1
        # Four providers may be invited to a lot 2 call-off today, less the one whose safeguarding policy expired.
        lot_2 = db.session.scalar(sa.select(Lot).where(Lot.number == 2))
        assert [p.name for p in eligible_providers(lot_2, today)] == [
            "Brookfield Learning Centre", "Colne Valley Tutors", "Pinewood Therapeutic Education"
        ]


def test_demo_sign_ins_work(app, runner, client):
    result = runner.invoke(args=["seed", "demo", "--force"])
    assert demo.DEMO_TOTP_SECRET in result.output
    from tests.helpers import sign_in

    assert sign_in(client, "send.officer@council.example", demo.DEMO_PASSWORD).headers["Location"] == "/officer/"
    manager = app.test_client()
    response = sign_in(manager, "manager@council.example", demo.DEMO_PASSWORD, totp_secret=demo.DEMO_TOTP_SECRET)
    assert response.headers["Location"] == "/manager/"


def test_demo_code_is_refused_outside_development(runner):
    result = runner.invoke(args=["seed", "code"])
    assert result.exit_code == 2 and "PORTAL_ENV=development" in result.output


def test_demo_code_prints_the_current_code(app, runner, monkeypatch):
    import pyotp

    monkeypatch.setitem(app.config, "PORTAL_ENV", "development")
    result = runner.invoke(args=["seed", "code"])
    assert result.exit_code == 0
    assert pyotp.TOTP(demo.DEMO_TOTP_SECRET).verify(result.output.strip(), valid_window=1)
