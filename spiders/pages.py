"""Telling a store's document from junk that answered 200: an empty body, an HTML page where JSON, markdown or
XML was expected, JSON that does not parse.

Each check raises the exception its caller passes: `MalformedListing` for a listing (the run is suspect),
`UnreadablePage` for a model page (the model is kept and counted as an error).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from storage.json_decode import decode_json

if TYPE_CHECKING:  # Scrapy stays unimported for callers that read bytes, not responses (githistory/)
    from scrapy.http import Response

# An HTML document starts with a doctype or an <html>, <head> or <body> tag, perhaps after a BOM and comments.
_HTML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE | re.DOTALL)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def is_html_document(body: bytes, content_type: str | None = None) -> bool:
    """True for an HTML document, or for markup (a body starting with `<`, not `<?xml`) the server calls text/html.

    The header alone never condemns a body: JSON, markdown or XML stays what it is whatever the server says.
    """
    if _HTML_START.match(body[:4096]):
        return True
    declared = (content_type or "").split(";")[0].strip().lower()
    start = body.lstrip()[:5]
    return declared in _HTML_TYPES and start[:1] == b"<" and start != b"<?xml"


def body_text(response: Response) -> str:
    """The body as text; a response Scrapy did not type as text (no Content-Type, say) is read as UTF-8."""
    from scrapy.http import TextResponse

    if isinstance(response, TextResponse):
        return response.text
    return response.body.decode("utf-8", errors="replace")


def readable_text(response: Response, expected: str, junk: type[Exception]) -> str:
    """The body as text; `junk` when it is empty, or an HTML page where `expected` (not "HTML") was asked for."""
    check_readable(response.body, expected, junk, response.headers.get(b"Content-Type", b"").decode("latin-1"))
    return body_text(response)


def check_readable(body: bytes, expected: str, junk: type[Exception], content_type: str | None = None) -> None:
    """`junk` when the body is empty, or an HTML page where `expected` (not "HTML") was asked for."""
    if not body.strip():
        raise junk(f"empty body where {expected} was expected")
    if expected != "HTML" and is_html_document(body, content_type):
        raise junk(f"an HTML page where {expected} was expected")


def readable_json(response: Response, junk: type[Exception]) -> Any:
    """The body's JSON; `junk` when it is empty, an HTML page, or not JSON (cut short, say)."""
    text = readable_text(response, "JSON", junk)
    try:
        return decode_json(text)  # a 1,000-model Hub page (1.6 MB) in 6 ms, json.loads takes 13
    except ValueError as error:
        raise junk(f"not JSON: {error}") from None


_DOCUMENT_END = re.compile(r"</html\s*>", re.IGNORECASE)


def is_whole_document(html: str) -> bool:
    """The HTML page reaches its closing </html>. A page cut short (the archive keeps some such captures; a
    server may serve a cut file whole) still parses, as a page with fewer models or fields: it is junk."""
    return _DOCUMENT_END.search(html) is not None
