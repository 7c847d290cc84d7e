"""The document view: the page images with the fields read from them boxed, the text as read
per page and where it came from, and the signatures in plain words; and the page images."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from kiemchung.api import service
from kiemchung.api.access import visible_document
from kiemchung.api.http.deps import StoreDep, TrustDep
from kiemchung.api.http.routes.documents import Sha256Path
from kiemchung.api.web.auth import Person
from kiemchung.api.web.page_images import page_image
from kiemchung.api.web.render import page
from kiemchung.models.document import BBox
from kiemchung.models.fields import Signer
from kiemchung.models.inspection import Inspection
from kiemchung.models.signatures import SignatureReport

router = APIRouter()

FIRST_PAGES = 20            # a long document shows these at first, the rest on request
LOW_CONFIDENCE = 0.6
MAX_COORDINATE = 100_000    # points: no page is larger; a bigger box in a query is garbage

SIGNING_TIME_SOURCE = {
    "timestamp": "dấu thời gian của tổ chức cung cấp dịch vụ",
    "signed_attribute": "thời điểm người ký khai trong chữ ký (không có dấu thời gian)",
    "M": "thời điểm ghi trong tệp PDF (không có dấu thời gian)",
}


@dataclass
class Box:
    kind: str               # the rect's class: field, signature, changed, highlight
    bbox: BBox
    title: str = ""
    field: str | None = None    # the field a "field" box shows (its label is the template's)

    @property
    def svg(self) -> dict[str, float]:
        return {"x": round(self.bbox.x0, 1), "y": round(self.bbox.y0, 1),
                "width": round(self.bbox.x1 - self.bbox.x0, 1),
                "height": round(self.bbox.y1 - self.bbox.y0, 1)}


@dataclass
class PageView:
    number: int
    width: float
    height: float
    source: str
    text_layer: str
    error: str | None
    text: str
    boxes: list[Box] = field(default_factory=list)


def box_query(page_text: str | None, box_text: str | None, pages: int
              ) -> tuple[int, BBox] | None:
    """`?page=N&box=x0,y0,x1,y1`, when both are sound numbers; anything else is ignored."""
    try:
        number = int(page_text or "")
        values = [float(v) for v in (box_text or "").split(",")]
    except ValueError:
        return None
    if not 1 <= number <= pages or len(values) != 4 or not all(
            math.isfinite(v) and 0 <= v <= MAX_COORDINATE for v in values):
        return None
    x0, y0, x1, y1 = values
    return (number, BBox(x0, y0, x1, y1)) if x0 < x1 and y0 < y1 else None


def shown_value(value: Any) -> str:
    if isinstance(value, Signer):
        return " ".join(part for part in (value.authority, value.title, value.name) if part)
    if isinstance(value, tuple | list):
        return "; ".join(str(v) for v in value)
    return str(getattr(value, "value", value))


def field_rows(inspection: Inspection) -> list[dict]:
    rows = []
    fields = inspection.fields
    for name in fields.__dataclass_fields__:
        found = getattr(fields, name)
        if found is None:
            continue
        where = found.provenance
        rows.append({"name": name, "value": found.value, "text": shown_value(found.value),
                     "confidence": found.confidence,
                     "low": found.confidence < LOW_CONFIDENCE, "page": where.page,
                     "bbox": where.bbox, "source": where.source,
                     "link": box_link(inspection.text.sha256, where.page, where.bbox)})
    return rows


def signature_warnings(signature: SignatureReport) -> list[str]:
    """What a reader should know beside the status, in plain words."""
    found = []
    if signature.digest_rejected:
        found.append("Thuật toán băm (SHA-1) bị chính sách từ chối: chưa kết luận được.")
    elif signature.weak_digest:
        found.append("Dùng thuật toán băm cũ (SHA-1), dễ bị làm giả; chính sách hiện vẫn chấp "
                     "nhận.")
    if signature.key_usage_rejected:
        found.append("Mục đích sử dụng của chứng thư bị chính sách từ chối.")
    if not signature.revocation_checked and not (signature.malformed or signature.unsupported):
        found.append("Chưa kiểm tra được chứng thư có bị thu hồi hay không.")
    if signature.timestamp_untrusted:
        found.append("Dấu thời gian không thuộc tổ chức tin cậy đã cấu hình.")
    if signature.rewritten:
        found.append("Tệp đã được lưu lại sau khi ký: không còn đúng bản đã ký.")
    if signature.lenient_parse:
        found.append("Tệp PDF bị lỗi cấu trúc, chỉ đọc được ở chế độ dễ dãi.")
    if signature.expired:
        found.append("Chứng thư số không còn hiệu lực tại thời điểm ký.")
    if signature.fields_added_after_certification:
        found.append("Có ô chữ ký được thêm sau chữ ký chứng nhận.")
    return found


def signature_rows(inspection: Inspection) -> list[dict]:
    rows = []
    for signature in inspection.signatures:
        changes = signature.changes
        rows.append({
            "s": signature, "status": signature.status.value,
            "time_source": SIGNING_TIME_SOURCE.get(
                str(getattr(signature.signing_time_source, "value", "")), ""),
            "warnings": signature_warnings(signature),
            "changes": changes,
            "changed_words": len(changes.changed_words) if changes else 0,
            "link": widget_link(signature, inspection.text.sha256)})
    return rows


def box_link(sha256: str, number: int | None, box: BBox | list[float] | None) -> str | None:
    """The document view at a page, with `box` highlighted when there is one."""
    if number is None:
        return None
    if box is None:
        return f"/documents/{sha256}#page-{number}"
    values = box.as_list() if isinstance(box, BBox) else box
    return (f"/documents/{sha256}?page={number}&box={','.join(f'{v:g}' for v in values)}"
            f"#page-{number}")


def widget_link(signature: SignatureReport, sha256: str) -> str | None:
    """The document view with the signature's widget highlighted, if it is drawn."""
    if signature.page is None or signature.box is None:
        return None
    return box_link(sha256, signature.page, signature.box)


def page_views(inspection: Inspection, fields: list[dict],
               highlight: tuple[int, BBox] | None) -> list[PageView]:
    views = {p.number: PageView(p.number, p.width, p.height, str(p.source),
                                p.text_layer_verdict, p.error, p.text)
             for p in inspection.text.pages}

    def add(number: int | None, box: Box) -> None:
        if number in views:
            views[number].boxes.append(box)

    for row in fields:
        if row["bbox"] is not None:
            add(row["page"], Box("field", row["bbox"], row["text"], row["name"]))
    for signature in inspection.signatures:
        if signature.box is not None:
            add(signature.page, Box("signature", signature.box, signature.signer_name))
        for word in signature.changes.changed_words if signature.changes else ():
            add(word.page, Box("changed", word.bbox, word.text))
    if highlight is not None:
        add(highlight[0], Box("highlight", highlight[1]))
    return [views[n] for n in sorted(views)]


@router.get("/documents/{sha256}")
def document_view(request: Request, sha256: Sha256Path, person: Person, store: StoreDep,
                  trust: TrustDep):
    visible_document(store, person.key, sha256)
    settings = request.app.state.settings
    inspection = service.inspect_document(store, sha256, trust,
                                          name=service.document_name(store, person.key, sha256),
                                          ocr_dpi=settings.ocr_dpi)
    # Read by hand: a bad number is ignored, not refused.
    query = request.query_params
    highlight = box_query(query.get("page"), query.get("box"), len(inspection.text.pages))
    fields = field_rows(inspection)
    pages = page_views(inspection, fields, highlight)
    everything = "all" in query or (highlight is not None and highlight[0] > FIRST_PAGES)
    return page(request, "document.html", person, sha256=sha256, inspection=inspection,
                fields=fields, signatures=signature_rows(inspection),
                pages=pages if everything else pages[:FIRST_PAGES],
                hidden_pages=0 if everything else max(0, len(pages) - FIRST_PAGES),
                highlight=highlight)


@router.get("/documents/{sha256}/pages/{number:int}.png")
def document_page_image(sha256: Sha256Path, number: int, person: Person, store: StoreDep):
    visible_document(store, person.key, sha256)
    return Response(page_image(store, sha256, number), media_type="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})
