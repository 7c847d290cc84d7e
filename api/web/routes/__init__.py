"""One module per area of the pages; `ROUTERS` is what `api.web.install` adds.

| module      | pages                                                                   |
|-------------|-------------------------------------------------------------------------|
| account     | /login, /logout, /, /account, /lang/{vi,en}                             |
| documents   | /documents/{sha256} (the document view), its page images                |
| check       | /check: a unit checks one file before sending it                        |
| verdicts    | /verdicts/{id}: a verdict and its reasons, override                     |
| lists       | /verdicts (filtered lists, saved views, exports)                        |
| batches     | /batches/new, /batches/{id}: a batch upload and its live progress       |
| campaigns   | /campaigns/...: self-assessment, the appraisal matrix, rounds, phases   |
| audit       | /flagged, /samples/..., /audit                                          |
| admin       | /admin/...: users, keys, trust roots, rule sets                         |
"""

from kiemchung.api.web.routes import (
    account,
    admin,
    audit,
    batches,
    campaigns,
    check,
    documents,
    lists,
    verdicts,
)

# lists before verdicts: /verdicts/export.csv is not the verdict of the id "export.csv".
ROUTERS = [account.router, documents.router, check.router, lists.router, verdicts.router,
           batches.router, campaigns.router, audit.router, admin.router]
