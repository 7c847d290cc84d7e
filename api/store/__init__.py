"""What the service keeps: the store's API over the database (`store`), the tables (`tables`),
the API keys (`keys`) and the schema's migrations (`migrations`)."""

from kiemchung.api.store.store import (
    BatchProgress,
    InvalidOverride,
    NewBatchItem,
    NotFound,
    Store,
    StoreError,
    open_store,
    verdict_flags,
)

__all__ = ["BatchProgress", "InvalidOverride", "NewBatchItem", "NotFound", "Store", "StoreError",
           "open_store", "verdict_flags"]
