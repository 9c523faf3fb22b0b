"""Every text column has a maximum length, and every form that writes one refuses a longer value with a message next
to the field (issue 10, point 3).

The maximum is String(n)'s length, or, for a Text column, ``info={"max_length": n}`` on the column. Text stays Text
in the database: SQLite ignores a VARCHAR's length anyway, so only the form (or the service behind it, whose message
the form shows next to the field) can enforce the limit on both databases, and turning Text into VARCHAR(n) on
PostgreSQL would rewrite the biggest tables under an exclusive lock for no protection the forms do not already give.
The proof is behavioural: every text field of every form a role can reach is sent a value longer than any maximum;
the answer names that field's error (or the value is not stored), never a 500, and afterwards no column anywhere holds
a value longer than its maximum.
"""

from __future__ import annotations

from tests.fuzz.conftest import PEOPLE, signed_in
from tests.fuzz.hostile import LONG
from tests.fuzz.pages import TOKEN_FIELDS, crawl, endpoint_of, local_path, over_long_values, parse, text_limits

# Sending these would end the session the check runs in.
ENDS_THE_SESSION = ("/sign-out",)


def test_every_text_column_has_a_maximum_length(app):
    limits = text_limits()
    assert len(limits) > 100  # guards against enumerating nothing
    unbounded = sorted(f"{table}.{column}" for (table, column), limit in limits.items() if not limit)
    assert not unbounded, f"text columns with no maximum (String(n), or Text with info max_length): {unbounded}"
    assert all(limit <= LONG - 1 for limit in limits.values()), "the hostile value must be longer than every maximum"


def _field_error_shown(body: str, name: str) -> bool:
    # A GOV.UK error message sits next to its field (id "<field>-error"), and the summary links to the field.
    return f'{name}-error"' in body or f'href="#{name}' in body


def test_an_over_long_value_in_any_text_field_is_refused_next_to_the_field(demo_world):
    app = demo_world
    problems = []
    checked = 0
    seen = set()
    for who in PEOPLE:
        client = signed_in(app, who)
        result = crawl(app, client, ["/"], check_writes=False)
        for form in result.forms:
            # One form of each kind: the same fields sent to the same route (another record's) check nothing new.
            key = (endpoint_of(app, local_path(form.action), form.method.upper()), tuple(sorted(form.fields)))
            if form.method != "post" or key in seen or form.action.endswith(ENDS_THE_SESSION):
                continue
            seen.add(key)
            for text_field in form.text_fields:
                if text_field.name in TOKEN_FIELDS or text_field.kind == "hidden":
                    continue
                page = client.get(local_path(form.page))
                fresh = [f for f in parse(form.page, page.get_data(as_text=True)).forms if f.action == form.action]
                if page.status_code != 200 or not fresh:
                    break
                data = fresh[0].default_data()
                data.setlist(text_field.name, ["x" * LONG])
                response = client.post(local_path(form.action), data=data, buffered=True)
                body = response.get_data(as_text=True)
                where = f"{who}: {form.action} field {text_field.name!r}"
                checked += 1
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                elif over_long_values(app):
                    problems.append(f"{where}: stored {over_long_values(app)}")
                    break
                elif response.status_code in (200, 409, 422) and not _field_error_shown(body, text_field.name):
                    # Accepted without storing it (a search box, a password checked and dropped) is fine; a refusal
                    # for another reason must still say this field is too long.
                    if "govuk-error-summary" in body or "govuk-error-message" in body:
                        problems.append(f"{where}: refused without a message next to the field")
    assert checked >= 50
    assert not problems, "\n".join(problems)
    assert not over_long_values(app)
