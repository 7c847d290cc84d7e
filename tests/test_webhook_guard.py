"""The webhook guard (issue 12): the server never becomes a way into its own network.

Real HTTP servers on 127.0.0.1 stand for the portal and for what must stay out of reach; the
host is allowed explicitly (as `KIEMCHUNG_WEBHOOK_HOSTS` does), so only the redirect can lead
elsewhere. The one stand-in is a rebinding DNS answer (a resolver that changes its mind between
the check and the connection), since no real name server here does that on demand.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from typing import Any

import pytest

from kiemchung.api.jobs.webhooks import (
    WebhookRefused,
    check_webhook_url,
    notify_batch_finished,
    send_webhook,
)
from kiemchung.api.store import open_store
from kiemchung.verifier.settings import Settings
from tests.helpers import UNIT, Service, assert_problem, finished_batch, service_settings


class Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the server's `status` (and `location`), keeping what came."""

    def do_POST(self):  # noqa: N802 - the http.server name
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append((self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST  # noqa: N815

    def log_message(self, *_args):
        pass


@pytest.fixture
def start_server():
    servers = []

    def start(status: int = 200, location: str | None = None, host: str = "127.0.0.1"):
        server: Any = http.server.ThreadingHTTPServer((host, 0), Recorder)  # + three fields
        server.status, server.location, server.received = status, location, []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def pki():
    from samples.pki import DemoPKI

    return DemoPKI.create("webhook-tests")


# -- redirects -------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed(start_server, status, caplog):
    target = start_server()                    # the internal service the redirect points at
    for place in (f"http://localhost:{target.server_port}/steal",
                  f"http://127.0.0.1:{target.server_port}/steal"):
        hook = start_server(status, location=place)
        url = f"http://127.0.0.1:{hook.server_port}/hook"
        pauses = []
        assert send_webhook(url, {"event": "x"}, "k", allowed_hosts=["127.0.0.1"],
                            attempts=3, sleep=pauses.append) is False
        assert len(hook.received) == 1 and pauses == []   # asked once: a redirect is not retried
        assert target.received == []            # and never followed, even to an allowed host
    assert "redirect" in caplog.text and "never followed" in caplog.text


def test_a_batch_webhook_answered_with_a_redirect_reaches_only_the_allowed_host(
        start_server, tmp_path, pki):
    """The whole path: a batch submitted over the API, finished by the local pool, its
    webhook sent to the allowed portal, which redirects to the metadata address."""
    target = start_server()
    hook = start_server(302, location=f"http://localhost:{target.server_port}/latest/meta-data")
    running = Service(service_settings(tmp_path, pki, webhook_hosts=["127.0.0.1"],
                                       webhook_secret="s3cret"))
    try:
        with running.client:
            accepted = running.client.post("/v1/batches", headers=running.auth("portal"), json={
                "ruleset": "hue-2024", "year": 2024,
                "webhook_url": f"http://127.0.0.1:{hook.server_port}/hook",
                "items": [{"unit": UNIT, "level": "huyen", "criterion": "1.1"}]})
            assert accepted.status_code == 202, accepted.text
            batch_id = accepted.json()["batch_id"]
            finished_batch(running, batch_id)
            deadline = time.monotonic() + 60
            while not (log := _webhook_log(running, batch_id)) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert log and log[0]["details"]["delivered"] is False
            assert len(hook.received) == 1 and "X-Kiemchung-Signature" in hook.received[0][1]
            assert target.received == []
    finally:
        running.store.close()


def _webhook_log(running, batch_id):
    return running.client.get("/v1/audit", headers=running.auth("admin"), params={
        "subject": f"batch:{batch_id}", "action": "batch.webhook"}).json()


# -- the address checked is the address called ---------------------------------------------------

def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_called(start_server,
                                                                       monkeypatch, tmp_path):
    local = start_server()
    real = socket.getaddrinfo
    answers = []

    def rebinding(host, port, *args, **kwargs):
        if host != "hook.rebind.test":
            return real(host, port, *args, **kwargs)
        # Public when the batch is submitted and when the webhook is about to be sent;
        # loopback from then on: the lookup a connection of its own would make.
        address = "93.184.215.14" if len(answers) < 2 else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hook.rebind.test:{local.server_port}/hook"
    check_webhook_url(url)                           # public when submitted
    with open_store(Settings(_env_file=None, data_dir=tmp_path, database_url=None)) as store:
        batch = store.create_batch(None, "hue-2024", 2024, webhook_url=url)
        assert notify_batch_finished(store, batch, "k") is False
    assert local.received == []                      # the loopback answer was checked too
    assert answers[-1] == "127.0.0.1"


def test_the_connection_uses_the_checked_address_and_the_host_name(start_server, monkeypatch):
    server = start_server()
    real = socket.getaddrinfo
    looked_up = []

    def resolver(host, port, *args, **kwargs):
        if host == "portal.test":
            looked_up.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    url = f"http://portal.test:{server.server_port}/hook?batch=1"
    assert send_webhook(url, {"event": "x"}, "k", allowed_hosts=["portal.test"]) is True
    assert looked_up == ["portal.test"]              # one lookup: the one checked
    path, headers, _ = server.received[0]
    assert path == "/hook?batch=1" and headers["Host"] == f"portal.test:{server.server_port}"


# -- loopback in disguise, bad ports ---------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://[64:ff9b::7f00:1]/hook",              # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/latest",         # NAT64 of 169.254.169.254
    "http://[64:ff9b:1::a00:1]/hook",             # local-use NAT64
    "http://[2002:7f00:1::]/hook",                # 6to4 of 127.0.0.1
    "http://[2002:a00:1::1]/hook",                # 6to4 of 10.0.0.1
    "http://[::ffff:127.0.0.1]/hook",             # IPv4-mapped
    "http://[::127.0.0.1]/hook",                  # IPv4-compatible
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook"])   # Teredo, client 127.0.0.1
def test_loopback_and_private_addresses_in_ipv6_forms_are_refused(url):
    with pytest.raises(WebhookRefused, match="private or local address"):
        check_webhook_url(url)


@pytest.mark.parametrize("url", ["http://[64:ff9b::808:808]/hook", "http://[2002:808:808::]/"])
def test_public_ipv4_in_ipv6_forms_is_accepted(url):
    check_webhook_url(url)


@pytest.fixture(scope="module")
def service(tmp_path_factory, pki):
    running = Service(service_settings(tmp_path_factory.mktemp("webhook-api"), pki))
    with running.client:
        yield running
    running.store.close()


@pytest.mark.parametrize("url, mentions", [
    ("http://[64:ff9b::7f00:1]/hook", "private or local"),
    ("http://[2002:7f00:1::]/hook", "private or local"),
    ("https://dti.example:99999/hook", "not valid"),
    ("http://[::1/hook", "not valid"),
    ("http://dti.example\x00.evil/hook", "control characters")])
def test_a_batch_with_such_a_webhook_is_a_422(service, url, mentions):
    response = service.client.post("/v1/batches", headers=service.auth("portal"), json={
        "ruleset": "hue-2024", "year": 2024, "webhook_url": url,
        "items": [{"unit": UNIT, "level": "huyen", "criterion": "1.1"}]})
    assert_problem(response, 422, mentions=mentions)


def test_no_webhook_log_line_is_lost(caplog):
    """A refused URL is logged as not delivered, with the reason."""
    caplog.set_level(logging.INFO)
    assert send_webhook("http://127.0.0.1:9/nowhere", {"event": "x"}, "k") is False
    assert "not delivered" in caplog.text and "private or local" in caplog.text
