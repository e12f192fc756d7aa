"""Turn untrusted HTML and Markdown into markup that is safe to show."""

import bleach
import markdown
from bleach.css_sanitizer import CSSSanitizer

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span",
        "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": ["title", "style"],
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "cid"})
_CSS = CSSSanitizer(
    allowed_css_properties=[
        "color", "background-color", "font-weight", "font-style", "text-align",
        "text-decoration", "margin", "padding", "border", "width",
    ]
)  # fmt: skip


def _link_attrs(attrs, new=False):
    href_key = (None, "href")
    if href_key in attrs:
        attrs[(None, "rel")] = "nofollow noopener noreferrer"
        attrs[(None, "target")] = "_blank"
    return attrs


def sanitize_html(html: str, strip: bool = True) -> str:
    """Keep formatting, drop scripts, event handlers, forms and unknown protocols.

    With `strip=False` a disallowed tag is shown as text instead of removed.
    """
    cleaned = bleach.clean(
        html or "",
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        css_sanitizer=_CSS,
        strip=strip,
        strip_comments=True,
    )
    return bleach.linkify(cleaned, callbacks=[_link_attrs], skip_tags={"pre", "code"})


def markdown_to_html(text: str) -> str:
    """Render a customer's or agent's Markdown; HTML typed into it is shown as text."""
    rendered = markdown.markdown(text or "", extensions=["fenced_code", "sane_lists", "nl2br"])
    return sanitize_html(rendered, strip=False)
