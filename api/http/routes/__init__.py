"""One router per resource, mounted under /v1 by `api.main.create_app`."""
