"""What the hostile-input tests need to act like a browser: the forms and links of a page (html.parser), a crawl of
everything a signed-in person can reach, and the row count of every table (to prove a request wrote nothing).

The crawl is how the tests find real ids: they follow the links of the demo's pages rather than guess URLs, so a route
is exercised on a record the person may really use.
"""

from __future__ import annotations

import copy
import functools
import json
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import sqlalchemy as sa
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from portal.extensions import db

# Fields the browser sends untouched: the CSRF token and the single-use token of a create form are what make a
# request acceptable at all; the fuzz sends the page's real ones (a refused token is tested elsewhere).
TOKEN_FIELDS = {"csrf_token", "submission_token"}
TEXT_TYPES = {"text", "email", "tel", "number", "password", "search", "url", "date", None, ""}


@dataclass
class FormField:
    kind: str  # text-like input type, "textarea", "select", "radio", "checkbox", "hidden", "file", "submit"
    name: str
    values: list[str] = field(default_factory=list)  # the choices (select, radio, checkbox, submit buttons)
    default: list[str] = field(default_factory=list)  # what the page would send as it is


@dataclass
class Form:
    method: str
    action: str  # path (and query) the form sends to
    enctype: str
    page: str  # the page it was found on
    fields: dict[str, FormField] = field(default_factory=dict)
    submit_names: set[str] = field(default_factory=set)
    # Headers the page's script adds to the request (an htmx control: app.js sends the CSRF token as X-CSRFToken).
    headers: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, name: str, value: str, selected: bool) -> None:
        existing = self.fields.get(name)
        if existing is None:
            existing = self.fields[name] = FormField(kind, name)
        if kind in {"select", "radio", "checkbox", "submit"}:
            existing.values.append(value)
            if selected:
                existing.default.append(value)
        else:
            existing.default.append(value)  # a date input's day, month and year share one name

    def default_data(self) -> MultiDict:
        """What a browser sends when the form is submitted as the page shows it (the first named submit button)."""
        data = MultiDict()
        pressed = False
        for f in self.fields.values():
            if f.kind == "submit":
                if f.values and not pressed:
                    data.add(f.name, f.values[0])
                    pressed = True
                continue
            if f.kind == "select" and not f.default and f.values:
                data.add(f.name, f.values[0])
                continue
            if f.kind == "file":
                continue
            for value in f.default:
                data.add(f.name, value)
        return data

    @property
    def text_fields(self) -> list[FormField]:
        return [f for f in self.fields.values() if f.kind == "textarea" or f.kind in TEXT_TYPES]


class PageParser(HTMLParser):
    """The links and forms of a page, as a browser sends them: a control belongs to the form that encloses it, or to
    the one its ``form`` attribute names (before or after it in the page); a disabled control is not sent; a submit
    button with ``formaction`` sends the form to that address instead (a form of its own here); and a control with
    ``hx-post`` (a select htmx sends as it changes) is a form of its own too, sending what htmx sends: the values of
    its enclosing form, its own, its ``hx-vals``, and the page's CSRF token as the X-CSRFToken header (app.js).
    ``hx-include`` and ``js:`` values are not read (no template uses them)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.csrf_meta = ""
        self._form: Form | None = None
        self._by_id: dict[str, Form] = {}
        # Forms named by a control's form attribute before the form itself comes in the page.
        self._named_ahead: dict[str, Form] = {}
        self._formaction_buttons: list[tuple[Form, dict[str, str]]] = []
        self._hx_controls: list[tuple[Form | None, str, dict[str, str]]] = []
        self._select: str | None = None
        self._select_form: Form | None = None
        self._option: tuple[str, bool] | None = None
        self._option_text = ""
        self._textarea: str | None = None
        self._textarea_form: Form | None = None
        self._textarea_text = ""

    def _owner(self, a: dict[str, str]) -> Form | None:
        """The form a control belongs to: the one its form attribute names, else the one around it."""
        named = a.get("form")
        if not named:
            return self._form
        if named in self._by_id:
            return self._by_id[named]
        return self._named_ahead.setdefault(named, Form(method="get", action=self.page, enctype="", page=self.page))

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "meta" and a.get("name") == "csrf-token":
            self.csrf_meta = a.get("content", "")
        if tag == "a" and a.get("href"):
            self.links.append(urljoin(self.page, a["href"]))
        for attr in ("hx-get",):
            if a.get(attr):
                self.links.append(urljoin(self.page, a[attr]))
        if tag == "form":
            form = self._named_ahead.pop(a.get("id", ""), None) or Form(method="", action="", enctype="", page="")
            form.method = a.get("method", "get").lower()
            form.action = urljoin(self.page, a.get("action") or self.page)
            form.enctype = a.get("enctype", "")
            form.page = self.page
            if a.get("id"):
                self._by_id[a["id"]] = form
            self.forms.append(form)
            self._form = form
            return
        if tag == "option":
            if self._select:
                self._option = (a.get("value"), "selected" in a)
                self._option_text = ""
            return
        if tag not in {"input", "button", "select", "textarea"}:
            return
        form = self._owner(a)
        if "disabled" in a:
            return
        if a.get("hx-post"):
            self._hx_controls.append((self._form, tag, a))  # htmx sends the form around it, whatever form= says
        if form is None:
            return
        name = a.get("name")
        kind = a.get("type", "text" if tag == "input" else "submit").lower()
        if tag in {"input", "button"} and kind in {"submit", "image"} and (a.get("formaction") or a.get("formmethod")):
            self._formaction_buttons.append((form, a))
        elif tag == "input" and name:
            if kind in {"radio", "checkbox"}:
                form.add(kind, name, a.get("value", "on"), "checked" in a)
            elif kind in {"submit", "image", "button"}:
                form.add("submit", name, a.get("value", ""), False)
            else:
                form.add(kind, name, a.get("value", ""), True)
        elif tag == "button" and name and kind == "submit":
            form.add("submit", name, a.get("value", ""), False)
        elif tag == "select" and name:
            self._select, self._select_form = name, form
            form.fields.setdefault(name, FormField("select", name))
        elif tag == "textarea" and name:
            self._textarea, self._textarea_form = name, form
            self._textarea_text = ""

    def handle_data(self, data):
        if self._textarea:
            self._textarea_text += data
        if self._option is not None:
            self._option_text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = self._select_form = None
        elif tag == "option" and self._option is not None and self._select_form is not None and self._select:
            value, selected = self._option
            self._select_form.add(
                "select", self._select, value if value is not None else self._option_text.strip(), selected
            )
            self._option = None
        elif tag == "textarea" and self._textarea and self._textarea_form is not None:
            # A textarea's first newline is not part of its value.
            self._textarea_form.add("textarea", self._textarea, self._textarea_text.removeprefix("\n"), True)
            self._textarea = self._textarea_form = None

    def close(self):
        super().close()
        # Known only once the whole page is read: every field of a form, wherever its controls are.
        placed = {id(form) for form in self.forms}
        for form, a in self._formaction_buttons:
            if id(form) not in placed:
                continue  # its form attribute names no form of the page: a browser sends nothing
            sent = Form(
                method=(a.get("formmethod") or form.method).lower(),
                action=urljoin(self.page, a["formaction"]) if a.get("formaction") else form.action,
                enctype=a.get("formenctype") or form.enctype,
                page=self.page,
                fields={name: copy.deepcopy(f) for name, f in form.fields.items() if f.kind != "submit"},
            )
            if a.get("name"):
                sent.add("submit", a["name"], a.get("value", ""), False)
            self.forms.append(sent)
        for form, tag, a in self._hx_controls:
            enclosing = form if form is not None and id(form) in placed else None
            sent = Form(
                method="post",
                action=urljoin(self.page, a["hx-post"]),
                enctype="",
                page=self.page,
                headers={"X-CSRFToken": self.csrf_meta} if self.csrf_meta else {},
            )
            if enclosing is not None:  # htmx sends the enclosing form's values with any request but a GET
                sent.fields = {name: copy.deepcopy(f) for name, f in enclosing.fields.items() if f.kind != "submit"}
            if a.get("name") and a["name"] not in sent.fields and tag in {"input", "button"}:
                sent.add("hidden", a["name"], a.get("value", ""), True)
            try:
                values = json.loads(a.get("hx-vals") or "{}")
            except ValueError:
                values = {}
            for name, value in values.items() if isinstance(values, dict) else ():
                sent.fields[name] = FormField("hidden", name, default=[str(value)])
            self.forms.append(sent)


def parse(page: str, html: str) -> PageParser:
    parser = PageParser(page)
    parser.feed(html)
    parser.close()
    return parser


def local_path(url: str) -> str | None:
    """The path and query of a link to this site, or None for another site, a fragment-only or a mailto: link."""
    parts = urlsplit(url)
    if parts.scheme not in {"", "http"} or parts.netloc not in {"", "localhost"}:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def endpoint_of(app, path: str, method: str = "GET") -> str | None:
    return _endpoint(app.url_map, urlsplit(path).path, method)


@functools.cache  # a crawl asks for the same few hundred paths hundreds of thousands of times
def _endpoint(url_map, path: str, method: str) -> str | None:
    try:
        endpoint, _ = url_map.bind("localhost").match(path, method=method)
    except HTTPException:
        return None
    return endpoint


# ---- Row counts ------------------------------------------------------------------------------------------------


def row_counts(app) -> dict[str, int]:
    """The number of rows of every table, in one statement."""
    with app.app_context():
        with db.engine.connect() as conn:
            return {name: count for name, count in conn.execute(_row_counts_sql(db.engine.dialect))}


@functools.cache  # compiled once: building the union of every table cost more than running it
def _row_counts_sql(dialect) -> sa.TextClause:
    query = sa.union_all(
        *(sa.select(sa.literal(t.name, sa.String).label("t"), sa.select(sa.func.count()).select_from(t).scalar_subquery())
          for t in db.metadata.sorted_tables)
    )
    return sa.text(str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))


def changed_tables(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {t: (before[t], after[t]) for t in before if before[t] != after[t]}


# Audit events a read may write: the portal records who read a child's data, downloaded a document or an export, and
# who was refused a page. Any other new row from a GET or a refused POST is a change that should not have happened.
READ_EVENTS = {
    "access refused",
    "child record viewed",
    "child records listed",
    "compliance document downloaded",
    "award notices exported",
    "subject access export",
}


def new_audit_events(app, after_id: int) -> list[str]:
    from portal.models import AuditEvent

    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.event).where(AuditEvent.id > after_id)))


def last_audit_id(app) -> int:
    from portal.models import AuditEvent

    with app.app_context():
        return db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(AuditEvent.id), 0)))


class Snapshot:
    """Row counts (and the last audit event) before a request, to compare with after it."""

    def __init__(self, app):
        self.app = app
        self.counts = row_counts(app)
        self.audit_id = last_audit_id(app)

    def unexpected_changes(self, tables: frozenset[str] = frozenset(), events: frozenset[str] = frozenset()) -> dict:
        """Tables whose row count changed, but for audit events that only record a read or a refusal (and the
        ``tables`` and audit ``events`` a refusal is meant to record, such as a failed sign-in)."""
        changes = changed_tables(self.counts, row_counts(self.app))
        # The audit chain's one head row is made with the first event ever: part of the event, checked below.
        for table in {*tables, "audit_chain_head"}:
            changes.pop(table, None)
        if "audit_events" in changes:
            unexpected = set(new_audit_events(self.app, self.audit_id)) - READ_EVENTS - events
            if unexpected:
                changes["audit_events"] = sorted(unexpected)
            else:
                del changes["audit_events"]
        return changes


# ---- The crawl -----------------------------------------------------------------------------------------------------

# Never followed: signing out ends the crawl's session; static files are not routes with data.
SKIP_PREFIXES = ("/static/", "/sign-out")


@dataclass
class Crawl:
    pages: dict[str, int] = field(default_factory=dict)  # path -> status
    endpoints: dict[str, list[str]] = field(default_factory=dict)  # GET endpoint -> paths visited
    forms: list[Form] = field(default_factory=list)
    writes: list[tuple[str, dict]] = field(default_factory=list)  # GETs that changed the database

    def forms_by_endpoint(self, app) -> dict[str, list[Form]]:
        found: dict[str, list[Form]] = {}
        for form in self.forms:
            path = local_path(form.action)
            endpoint = endpoint_of(app, path, form.method.upper()) if path else None
            if endpoint:
                found.setdefault(endpoint, []).append(form)
        return found


def crawl(app, client, start: list[str], *, per_endpoint: int = 6, max_pages: int = 300, check_writes=True) -> Crawl:
    """Follow the links of every page from ``start`` (breadth first), visiting at most ``per_endpoint`` addresses of
    each route, and keep every form found. With ``check_writes``, compare the row counts around every GET."""
    result = Crawl()
    queue = deque(start)
    seen: set[str] = set()
    while queue and len(result.pages) < max_pages:
        # A route not seen yet first, so every route is reached before the page budget goes on more of the same.
        fresh = next((i for i, p in enumerate(queue) if endpoint_of(app, p) not in result.endpoints), 0)
        path = queue[fresh]
        del queue[fresh]
        if path in seen or path.startswith(SKIP_PREFIXES):
            continue
        seen.add(path)
        endpoint = endpoint_of(app, path)
        if endpoint is None or endpoint == "static":
            continue
        visited = result.endpoints.setdefault(endpoint, [])
        if len(visited) >= per_endpoint:
            continue
        visited.append(path)
        before = Snapshot(app) if check_writes else None
        response = client.get(path, buffered=True)
        result.pages[path] = response.status_code
        if before is not None:
            changes = before.unexpected_changes()
            if changes:
                result.writes.append((path, changes))
        if response.status_code in (301, 302, 303) and local_path(response.headers["Location"]):
            queue.append(local_path(response.headers["Location"]))
            continue
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        parsed = parse(path, response.get_data(as_text=True))
        result.forms.extend(parsed.forms)
        # A GET form (a filter, a choice of year) is followed as sent with what it shows, as a link would be.
        followed = [f"{local_path(form.action).split('?')[0]}?{urlencode(list(form.default_data().items(multi=True)))}"
                    for form in parsed.forms if form.method == "get" and local_path(form.action)]
        for link in parsed.links + followed:
            local = local_path(link)
            if local and local not in seen:
                queue.append(local)
    return result


# ---- Text limits ----------------------------------------------------------------------------------------------------


def text_limits() -> dict[tuple[str, str], int | None]:
    """Every text column and its maximum length: String(n)'s n, or a Text column's declared info["max_length"]
    (None when it has neither)."""
    limits = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, sa.String) or isinstance(column.type, sa.Enum):
                continue
            if isinstance(column.type, sa.Text):
                limits[(table.name, column.name)] = column.info.get("max_length")
            else:
                limits[(table.name, column.name)] = column.type.length
    return limits


def over_long_values(app) -> dict[str, int]:
    """Columns holding a value longer than their maximum (PostgreSQL refuses these in a String(n), SQLite does not,
    and nothing stops a Text column but the forms): column -> how many rows."""
    with app.app_context():
        checks = [
            sa.select(sa.literal(f"{table}.{column}").label("c"), sa.func.count().label("n"))
            .select_from(sa.table(table, sa.column(column)))
            .where(sa.func.length(sa.column(column)) > limit)
            for (table, column), limit in text_limits().items()
            if limit
        ]
        with db.engine.connect() as conn:
            return {name: n for name, n in conn.execute(sa.union_all(*checks)) if n}
