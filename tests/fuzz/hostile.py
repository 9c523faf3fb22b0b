"""Hostile values for form fields (hypothesis strategies) and the checks every response to them must pass."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests.fuzz.pages import TOKEN_FIELDS, Form, Snapshot, local_path, parse

# Longer than any text column's maximum (the longest is 100,000 characters, an email body), shorter than a request.
LONG = 100_001

SAMPLES = [
    "",
    " ",
    "\t\n",
    "x" * LONG,
    "é" * 5001,
    "\U0001f600\U0001d54f" * 2000,  # astral: emoji and mathematical letters, 2 UTF-16 units each
    "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",  # RTL override, Hebrew, Arabic
    "e" + "\u0301" * 300,  # one letter and 300 combining accents
    "a\x00b",  # NUL, which PostgreSQL cannot store in text
    "\x00",
    "\x01\x07\x1b[31m\x7f",  # control characters
    "line\r\nSet-Cookie: x=1",  # CRLF
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "../../etc/passwd",
    "-1",
    "0",
    "1e309",
    "NaN",
    "99999999999999999999999",
    "12.345",
    "2026-02-31",
    "31",
    "\ufeff1",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes
    "\u00b2",  # superscript two: isdigit() yes, int() no
    "None",
    "[]",
    "{}",
    "true",
]

hostile_text = st.one_of(
    st.sampled_from(SAMPLES),
    st.text(max_size=40),  # any code point but surrogates: NUL, controls, astral, combining
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)

KEEP = object()  # send what the page would
MISSING = object()  # leave the field out


def field_value(choices: list[str]):
    options = [st.just(KEEP), st.just(MISSING), hostile_text, st.lists(hostile_text, min_size=2, max_size=3)]
    if choices:
        options.append(st.sampled_from(choices))
    return st.one_of(*options)


@st.composite
def hostile_choices(draw, form: Form) -> tuple[dict, dict]:
    """For each field of ``form`` (but the tokens): kept, left out, or replaced (one value or several); and extra
    fields."""
    choices = {}
    for name in sorted(n for n in form.fields if n not in TOKEN_FIELDS):
        choices[name] = draw(field_value(form.fields[name].values), label=name)
    extras = draw(st.dictionaries(st.text(min_size=1, max_size=12), hostile_text, max_size=2), label="extra fields")
    return choices, {name: value for name, value in extras.items() if name not in TOKEN_FIELDS}


def apply_choices(drawn: tuple[dict, dict], fresh_defaults: MultiDict) -> MultiDict:
    """The submission: the page's own tokens, each field as chosen, then the extra fields."""
    choices, extras = drawn
    data = MultiDict()
    for name in TOKEN_FIELDS & set(fresh_defaults):
        for value in fresh_defaults.getlist(name):
            data.add(name, value)
    for name, choice in choices.items():
        if choice is KEEP:
            for value in fresh_defaults.getlist(name):
                data.add(name, value)
        elif choice is MISSING:
            continue
        elif isinstance(choice, list):
            for value in choice:
                data.add(name, value)
        else:
            data.add(name, choice)
    for name, value in extras.items():
        data.add(name, value)
    return data


def examples_per_form() -> int:
    """Few by default, so the module keeps to about a minute per database; FUZZ_EXAMPLES=200 for a deeper run."""
    return int(os.environ.get("FUZZ_EXAMPLES", "6"))


def refused(response) -> bool:
    """A response that says the request was not done: a 4xx, or the form again with its errors."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code == 200 and response.mimetype.startswith("text/html"):
        body = response.get_data(as_text=True)
        return "govuk-error-summary" in body or "govuk-error-message" in body
    return False


def says_something(response) -> bool:
    """A refusal the person can read: an error page, a message in the page or fragment."""
    return len(response.get_data(as_text=True).strip()) > 0


def send(client, form: Form, data, htmx: bool):
    path = local_path(form.action)
    headers = {**form.headers, **({"HX-Request": "true"} if htmx else {})}
    if form.method == "get":
        return client.get(path.split("?")[0], query_string=data, headers=headers, buffered=True)
    return client.post(path, data=data, headers=headers, buffered=True)


def fuzz_form(
    app, client, who: str, endpoint: str, form: Form, *, records=frozenset(), events=frozenset(), renew=None
) -> dict:
    """Send ``form`` hostile submissions. A refusal may write only the ``records`` (tables) and audit ``events`` it
    is meant to (a failed sign-in is counted), besides the audit of reads.

    ``renew``, for a form whose accepted submission ends the state that offers it (an award, a decision, a site
    removed): called when the form is no longer offered, it makes the next record in that state and returns that
    record's form, so every example is sent (``tally["renewed"]`` counts the records it made). Without it, the
    examples after such a success are skipped."""
    current = [form]
    unchanged: list[Form | None] = [None]  # the form as last drawn, while nothing has been written since

    def offered() -> Form | None:
        """The form as the page shows it now, or None once the page or the form is gone."""
        if unchanged[0] is not None:
            return unchanged[0]
        target = current[0]
        page = client.get(local_path(target.page), buffered=True)
        if page.status_code != 200:
            return None  # an earlier example changed the record so the page is gone (e.g. a referral published)
        fresh = [f for f in parse(target.page, page.get_data(as_text=True)).forms
                 if f.action == target.action and f.method == target.method]
        return fresh[0] if fresh else None  # none: the record moved on

    @settings(
        max_examples=examples_per_form(),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data):
        # Drawn from the form as first found (hypothesis needs the same draws whatever the database holds now)...
        choices = data.draw(hostile_choices(form), label="submission")
        htmx = data.draw(st.booleans(), label="htmx")
        tally["examples"] += 1
        # ... and sent with the tokens and kept values of the page as it is now.
        fresh = offered()
        unchanged[0] = None
        if fresh is None and renew is not None:
            current[0] = renew()
            tally["renewed"] += 1
            fresh = offered()
            assert fresh is not None, f"{who}: the renewed record offers no {endpoint} form on {current[0].page}"
        if fresh is None:
            return
        submission = apply_choices(choices, fresh.default_data())
        tally["sent"] += 1
        before = Snapshot(app)
        response = send(client, fresh, submission, htmx)
        where = f"{who}: {fresh.method.upper()} {fresh.action} ({endpoint})"
        assert response.status_code < 500, f"{where} answered {response.status_code}"
        if refused(response):
            tally["refused"] += 1
            assert says_something(response), f"{where} refused with an empty {response.status_code}"
            changes = before.unexpected_changes(records, events)
            assert not changes, f"{where} refused ({response.status_code}) but wrote rows: {changes}"
            if not records and not events:
                # Nothing was written (an audit of a read at most), so the page would draw the same form and its
                # single-use token is unclaimed: the next example sends that without fetching the page again.
                unchanged[0] = fresh

    tally = {"examples": 0, "sent": 0, "refused": 0, "renewed": 0}
    run()
    return tally
