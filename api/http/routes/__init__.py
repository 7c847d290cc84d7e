"""One router per resource, mounted under /v1 by `api.http.app.create_app`."""
