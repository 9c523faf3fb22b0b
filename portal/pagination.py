"""Pages of a list: one COUNT and one SELECT whatever the number of rows, and the GOV.UK pagination component."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from portal.extensions import db


@dataclass(frozen=True)
class Page:
    """One page of a list: the rows, how many there are in all, and where this page sits."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.items) - 1 if self.items else 0


def paginate(statement: sa.Select, *, page: int, per_page: int, rows: bool = False) -> Page:
    """Run an ordered SELECT a page at a time. A page number out of range gives the nearest real page. The items are
    the first column's objects, or whole rows when ``rows`` (a SELECT of several columns)."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())) or 0
    page = min(max(1, page), max(1, -(-total // per_page)))
    limited = statement.limit(per_page).offset((page - 1) * per_page)
    found = (db.session.execute(limited) if rows else db.session.scalars(limited)).unique().all()
    return Page(items=list(found), total=total, page=page, per_page=per_page)


def govuk_pagination(page: int, pages: int, url_for_page: Callable[[int], str], label: str | None = None) -> dict | None:
    """Previous and next links and numbered pages: the first, the last, and the current one with its neighbours,
    with an ellipsis for each gap (as the GOV.UK Design System shows it). None when there is only one page."""
    if pages <= 1:
        return None
    shown = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    items: list[dict] = []
    previous_number = 0
    for number in shown:
        if number - previous_number > 1:
            items.append({"ellipsis": True})
        items.append({"number": number, "href": url_for_page(number), "current": number == page})
        previous_number = number
    params: dict = {"items": items}
    if page > 1:
        params["previous"] = {"href": url_for_page(page - 1)}
    if page < pages:
        params["next"] = {"href": url_for_page(page + 1)}
    if label:
        params["landmarkLabel"] = label
    return params
