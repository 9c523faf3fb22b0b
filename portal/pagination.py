"""The parameters of the GOV.UK pagination component for a list page (govukPagination)."""

from __future__ import annotations

from collections.abc import Callable


def govuk_pagination(page: int, pages: int, url_for_page: Callable[[int], str]) -> dict | None:
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
    return params
