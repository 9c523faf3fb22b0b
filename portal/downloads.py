"""The one place a download's Content-Disposition header is made (compliance documents, CSV exports, award notices,
the subject access export).

The name offered to the browser never breaks the header and never carries a folder, a control character or a
right-to-left override: `attachment; filename="<ascii fallback>"` for every browser, followed by
`filename*=UTF-8''<percent-encoded>` (RFC 6266 and RFC 8187) when the real name says more than the fallback can.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_CHARS = 150
# Outside these, a character has no business in a quoted header value or a saved file name on any system.
_NOT_FALLBACK_SAFE = re.compile(r"[^A-Za-z0-9 ._()+-]+")
# Windows refuses these as file names whatever the extension.
_RESERVED_ON_WINDOWS = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)", re.IGNORECASE)


def _clean(name: str, default: str) -> str:
    """The name without folders, control or format characters (CR, LF, NUL, U+202E ...), or characters that
    Windows refuses in a file name; at most MAX_NAME_CHARS characters, keeping the extension."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:MAX_NAME_CHARS].rstrip(" .")
    name = name or default
    if _RESERVED_ON_WINDOWS.match(name):
        name = "_" + name
    return name


def _ascii_fallback(name: str, default: str) -> str:
    """The name in plain ASCII for browsers that ignore filename*: accents dropped (é becomes e), anything else
    that could break or trick the quoted header value becomes an underscore."""
    unaccented = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    ascii_name = _NOT_FALLBACK_SAFE.sub("_", unaccented).strip(" .")
    stem = ascii_name.rsplit(".", 1)[0] if "." in ascii_name else ascii_name
    if not stem.strip("_ "):
        # Nothing readable survived (a name all in Arabic, say): the default, keeping the extension.
        extension = ascii_name.rsplit(".", 1)[1] if "." in ascii_name else ""
        ascii_name = f"{default}.{extension}" if extension else default
    return ascii_name


def content_disposition(filename: str, *, default: str = "download") -> str:
    """The Content-Disposition value for downloading `filename` as an attachment."""
    name = _clean(filename, default)
    fallback = _ascii_fallback(name, default)
    value = f'attachment; filename="{fallback}"'
    if fallback != name:
        # Everything but letters, digits and "-._~" percent-encoded: nothing in it can end the parameter.
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value
