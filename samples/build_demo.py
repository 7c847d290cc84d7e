"""Regenerate the committed demo set in api/cli/demo/ (`make samples`), which `kiemchung demo`
reads from the installed package.

A handful of evidence files covering what `kiemchung demo` shows: a plan signed by the person
and the agency, an unsigned decision, a meeting-conclusion notice scanned at 300 dpi with its
seal, a training summons photographed as JPEG, and a report with a legacy TCVN3 text layer.
The demo CA that signed them is written to api/cli/demo/trust/.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path

from kiemchung.models.fields import DocType
from samples.content import make_spec
from samples.pki import DemoPKI
from samples.render import render_pdf, render_pdf_with_layout
from samples.scan import save_jpg, scan_pages, to_image_pdf
from samples.sign import sign_as_printed

DEMO_DIR = Path(__file__).resolve().parent.parent / "api" / "cli" / "demo"


def build(out: Path = DEMO_DIR) -> list[Path]:
    shutil.rmtree(out, ignore_errors=True)
    (out / "trust").mkdir(parents=True)
    pki = DemoPKI.create("kiemchung-demo")
    pki.write_trust_dir(out / "trust")
    written = []

    plan = make_spec(random.Random(1), DocType.KE_HOACH, level="huyen",
                     issue_date=dt.date(2024, 1, 15), subject="Thực hiện chuyển đổi số năm 2024")
    signed = sign_as_printed(render_pdf(plan), plan, pki)
    written.append(_write(out / "ke_hoach_signed.pdf", signed))
    late_plan = make_spec(random.Random(6), DocType.KE_HOACH, agency=plan.agency,
                          issue_date=dt.date(2024, 3, 20),
                          subject="Thực hiện chuyển đổi số năm 2024")
    written.append(_write(out / "ke_hoach_signed_march.pdf",
                          sign_as_printed(render_pdf(late_plan), late_plan, pki)))

    decision = make_spec(random.Random(2), DocType.QUYET_DINH, level="so")
    written.append(_write(out / "quyet_dinh_unsigned.pdf", render_pdf(decision)))

    notice = make_spec(random.Random(3), DocType.THONG_BAO, level="xa")
    pdf, layout = render_pdf_with_layout(notice)
    written.append(_write(out / "thong_bao_scan300.pdf",
                          to_image_pdf(scan_pages(pdf, layout, dpi=300, seed=3), 300)))

    summons = make_spec(random.Random(4), DocType.GIAY_TRIEU_TAP, level="so")
    pdf, layout = render_pdf_with_layout(summons)
    images = scan_pages(pdf, layout, dpi=200, seed=4)
    written += save_jpg(images[:1], out / "giay_trieu_tap_photo.jpg")

    report = make_spec(random.Random(5), DocType.BAO_CAO, level="huyen")
    written.append(_write(out / "bao_cao_tcvn3.pdf", render_pdf(report, tcvn3=True)))

    # What `kiemchung demo` verifies against hue-2024, as an appraiser would.
    checks = [
        {"files": ["ke_hoach_signed.pdf"], "criterion": "2.1", "level": "huyen",
         "unit": plan.agency.unit_name, "year": 2024},
        {"files": ["ke_hoach_signed_march.pdf"], "criterion": "2.1", "level": "huyen",
         "unit": plan.agency.unit_name, "year": 2024},
        {"files": ["thong_bao_scan300.pdf"], "criterion": "1.2", "level": "xa",
         "unit": notice.agency.unit_name, "year": notice.issue_date.year},
        {"files": ["giay_trieu_tap_photo.jpg"], "criterion": "4.5", "level": "so",
         "unit": summons.agency.unit_name, "year": summons.issue_date.year},
    ]
    manifest = out / "verify.json"
    manifest.write_text(json.dumps({"ruleset": "hue-2024", "checks": checks},
                                   ensure_ascii=False, indent=2), encoding="utf-8")
    return written + [manifest]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


if __name__ == "__main__":
    for path in build():
        print(f"{path.relative_to(DEMO_DIR.parents[2])}  {path.stat().st_size // 1024} KiB")
