"""The demo of the web pages: a data dir of its own (`<data dir>/demo`, SQLite, no broker) that
trusts the demo CA, with demo accounts, the bundled samples uploaded by their units, their
verdicts, and an assessment round open for self-assessment today.

`kiemchung demo` prepares it and prints the address and the accounts; `kiemchung serve --demo`
serves it. Preparing twice adds nothing: what exists is kept.
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path

from kiemchung.api import campaigns as flow
from kiemchung.api import service
from kiemchung.api.store import Store, open_store
from kiemchung.api.store import campaigns as db
from kiemchung.api.store.tables import Phase
from kiemchung.api.store.users import create_user, list_users
from kiemchung.verifier.ruleset import load_ruleset
from kiemchung.verifier.settings import Settings, load_settings

DEMO_DIR = Path(str(resources.files("kiemchung.api.cli") / "demo"))
DEMO_PASSWORD = "kiemchung-demo"
DEMO_UNIT = "UBND huyện Phong Điền"
# user name → (role, unit, the name shown). Two of the district: a self-assessment counts when
# a second person of the unit approves it.
DEMO_USERS = {
    "donvi": ("unit", DEMO_UNIT, "Văn thư UBND huyện Phong Điền"),
    "donvi2": ("unit", DEMO_UNIT, "Chánh Văn phòng UBND huyện Phong Điền"),
    "thamdinh": ("appraiser", None, "Thẩm định viên Sở Khoa học và Công nghệ"),
    "kiemtra": ("auditor", None, "Kiểm tra viên"),
    "quantri": ("admin", None, "Quản trị hệ thống"),
}
CAMPAIGN_NAME = "Đánh giá DTI năm 2024 (bản trình diễn)"


def demo_settings() -> Settings:
    base = load_settings()
    return base.model_copy(update={"data_dir": base.data_dir / "demo", "database_url": None,
                                   "broker_url": None, "trust_roots": [DEMO_DIR / "trust"]})


def prepare_demo_site(settings: Settings) -> None:
    with open_store(settings) as store:
        _users(store)
        if not store.find_verdicts(only_flagged=False, limit=1):
            _verdicts(store, settings)
        if not db.list_campaigns(store):
            _campaign(store)


def _users(store: Store) -> None:
    existing = {user.username for user in list_users(store)}
    for username, (role, unit, shown) in DEMO_USERS.items():
        if username not in existing:
            create_user(store, username, DEMO_PASSWORD, role, unit, display_name=shown)


def _verdicts(store: Store, settings: Settings) -> None:
    """The demo manifest's checks, each file uploaded by the unit it is evidence for."""
    trust = service.load_trust_roots(settings)
    manifest = json.loads((DEMO_DIR / "verify.json").read_text(encoding="utf-8"))
    ruleset = load_ruleset(manifest["ruleset"])
    read_whole = service.read_whole_from_store(store, trust, settings.ocr_dpi)
    for item in manifest["checks"]:
        documents = [(store.put_document((DEMO_DIR / name).read_bytes(), name,
                                         unit=item["unit"]).sha256, name)
                     for name in item["files"]]
        evidence = service.inspect_stored(store, documents, trust, ocr_dpi=settings.ocr_dpi)
        verdict = service.verify(ruleset, item["criterion"], item["level"], item["unit"],
                                 item["year"], evidence, read_whole=read_whole)
        store.save_verdict(verdict, [sha for sha, _ in documents])


def _campaign(store: Store) -> None:
    """A round of hue-2024 over the demo district, its self-assessment open a month around
    today so that the pages can be tried at once."""
    campaign = flow.create_campaign(store, CAMPAIGN_NAME, "hue-2024", 2024)
    flow.add_unit(store, campaign.id, DEMO_UNIT, "huyen")
    today = flow.today()
    db.set_phase(store, campaign.id, Phase.SELF_ASSESSMENT, today - dt.timedelta(days=7),
                 today + dt.timedelta(days=30))
