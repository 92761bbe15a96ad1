# SPDX-License-Identifier: AGPL-3.0-or-later
"""Prometheus metrics (docs/metrics.md) against a real Synapse, with the
loopback plugin in a real worker: the counters equal the traffic sent, a
failure is counted by its code, a killed worker by its reason, logins by
state, the homeserver latency histogram sees the sends, the Grafana
dashboard names only metrics the bridge serves, and the listener is absent
when disabled and stops the bridge when its port is taken."""

import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from conftest import running
from harness import SOURCE_ROOT, Agent, Stack, free_port, http, open_management_room, wait_until
from test_core import dm_room, ghost, login, worker_of

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DASHBOARD = os.path.join(SOURCE_ROOT, "docs", "grafana-dashboard.json")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def set_metrics(bridge, section):
    """Every (re)write of the bridge's config gets `section` as metrics:
    (None: no metrics: key at all, the default)."""
    orig = getattr(bridge, "_metrics_orig_write", None) or bridge.write_config
    bridge._metrics_orig_write = orig

    def write_config(hs_url):
        orig(hs_url)
        with open(bridge.config) as f:
            cfg = yaml.safe_load(f)
        cfg.pop("metrics", None)
        if section is not None:
            cfg["metrics"] = section
        with open(bridge.config, "w") as f:
            yaml.safe_dump(cfg, f)

    bridge.write_config = write_config


class MetricsStack(Stack):
    def __init__(self):
        super().__init__()
        self.metrics_port = free_port()
        set_metrics(self.bridge, {"enabled": True, "bind": "127.0.0.1",
                                  "port": self.metrics_port})
        self.bridge.write_config(self.synapse.url)


@pytest.fixture(scope="module")
def stack():
    yield from running(MetricsStack())


@pytest.fixture(scope="module")
def alice(stack):
    a = Agent(stack, "alice")
    yield a
    a.close()


def scrape(port):
    """(text, {'name{labels}': value}, {family: type})"""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == CONTENT_TYPE
        text = r.read().decode()
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
        elif line and not line.startswith("#"):
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return text, samples, types


def key(name, **labels):
    if not labels:
        return name
    return name + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"


def value(port, name, **labels):
    return scrape(port)[1].get(key(name, **labels), 0.0)


def wait_value(port, want, name, **labels):
    wait_until(lambda: value(port, name, **labels) == want, 30,
               what="%s == %s (is %s)" % (key(name, **labels), want,
                                         value(port, name, **labels)))


BRIDGED = "passerelle_messages_bridged_total"
N_TO_MATRIX = 5
N_TO_LEGACY = 4


@pytest.fixture(scope="module")
def portal(stack, alice, net):
    net.add_user("alice-lb", "pw", "Alice Legacy")
    mgmt = open_management_room(alice)
    login(alice, mgmt, net, "alice-lb")
    net.wait_connected("alice-lb", 20)
    for i in range(N_TO_MATRIX):
        net.deliver("alice-lb", {"ev": "message", "id": "mx-%d" % i, "chat": "bob",
                                 "chat_kind": "dm", "from": "bob", "from_name": "Bob Legacy",
                                 "ts": 1700000000000 + i, "text": "to matrix %d" % i})
    room = dm_room(alice, "bob")
    alice.wait(lambda a: len([b for b in a.bodies(room, ghost("bob"))
                              if b.startswith("to matrix ")]) == N_TO_MATRIX,
               what="bob's messages")
    for i in range(N_TO_LEGACY):
        alice.text(room, "to legacy %d" % i)
    for i in range(N_TO_LEGACY):
        net.wait_sent("alice-lb", lambda op, i=i: op.get("op") == "send"
                      and op.get("text") == "to legacy %d" % i, 20)
    return room


# ----------------------------------------------------------------- tests


def test_only_get_metrics(stack):
    port = stack.metrics_port
    status, _ = http("GET", "http://127.0.0.1:%d/" % port)
    assert status == 404
    status, _ = http("POST", "http://127.0.0.1:%d/metrics" % port, {})
    assert status == 405
    # Not on the appservice port.
    status, _ = http("GET", stack.bridge.url + "/metrics")
    assert status != 200


def test_messages_counted_exactly(stack, portal):
    port = stack.metrics_port
    wait_value(port, N_TO_MATRIX, BRIDGED, plugin="loopback", direction="to_matrix")
    wait_value(port, N_TO_LEGACY, BRIDGED, plugin="loopback", direction="to_legacy")
    time.sleep(1.5)  # nothing counted twice later
    _, samples, _ = scrape(port)
    assert samples[key(BRIDGED, plugin="loopback", direction="to_matrix")] == N_TO_MATRIX
    assert samples[key(BRIDGED, plugin="loopback", direction="to_legacy")] == N_TO_LEGACY
    assert samples[key("passerelle_logins", plugin="loopback", state="connected")] == 1
    # Every message to Matrix was a /send/ the latency histogram saw.
    sends = samples[key("passerelle_homeserver_request_duration_seconds_count",
                        endpoint="send")]
    assert sends >= N_TO_MATRIX
    assert samples[key("passerelle_homeserver_request_duration_seconds_bucket",
                       endpoint="send", le="+Inf")] == sends
    for q in ("inbound", "remote_live", "remote_import", "outbound"):
        assert key("passerelle_queue_depth", queue=q) in samples
        assert samples[key("passerelle_queue_oldest_age_seconds", queue=q)] >= 0


def test_failure_counted_by_code(stack, alice, net, portal):
    port = stack.metrics_port
    net.fail_next("alice-lb", "send", "too large: 3 bytes over")
    alice.text(portal, "too big")
    wait_value(port, 1, "passerelle_to_legacy_failures_total", plugin="loopback",
               code="too_large")
    alice.text(portal, "fits")
    net.wait_sent("alice-lb", lambda op: op.get("op") == "send" and op.get("text") == "fits", 20)
    wait_value(port, N_TO_LEGACY + 1, BRIDGED, plugin="loopback", direction="to_legacy")


def test_quarantined_event_counted(stack, alice, net, portal):
    port = stack.metrics_port
    now = int(time.time() * 1000)
    bad = {"type": "m.room.message", "room_id": portal, "sender": alice.mxid,
           "event_id": "$poison-%s" % uuid.uuid4().hex, "origin_server_ts": now,
           "content": {"msgtype": "m.text", "body": 42}}
    good = {"type": "m.room.message", "room_id": portal, "sender": alice.mxid,
            "event_id": "$fine-%s" % uuid.uuid4().hex, "origin_server_ts": now,
            "content": {"msgtype": "m.text", "body": "after the poison"}}
    url = stack.bridge.url + "/_matrix/app/v1/transactions/poison-%s" % uuid.uuid4().hex
    for _ in range(2):  # a retried transaction is one event, counted once
        status, _ = http("PUT", url, {"events": [bad, good]}, token=stack.bridge.hs_token)
        assert status == 200
    net.wait_sent("alice-lb", lambda op: op.get("text") == "after the poison", 20)
    wait_value(port, 1, "passerelle_quarantined_events_total")
    wait_value(port, N_TO_LEGACY + 2, BRIDGED, plugin="loopback", direction="to_legacy")
    time.sleep(1)
    assert value(port, "passerelle_quarantined_events_total") == 1


def test_worker_kill_counted_as_restart(stack, alice, net, portal):
    port = stack.metrics_port
    assert value(port, "passerelle_worker_restarts_total", plugin="loopback",
                 reason="crash") == 0
    pid = worker_of(stack.bridge.worker_pids(), "alice-lb")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_value(port, 1, "passerelle_worker_restarts_total", plugin="loopback", reason="crash")
    # Back: a message from bob is bridged (and counted) again.
    net.deliver("alice-lb", {"ev": "message", "id": "after-kill", "chat": "bob", "from": "bob",
                             "ts": 1700000100000, "text": "after the kill"})
    alice.wait(lambda a: "after the kill" in a.bodies(portal, ghost("bob")), timeout=60,
               what="a message after the restart")
    wait_value(port, N_TO_MATRIX + 1, BRIDGED, plugin="loopback", direction="to_matrix")
    wait_value(port, 1, "passerelle_logins", plugin="loopback", state="connected")
    assert value(port, "passerelle_worker_restarts_total", plugin="loopback",
                 reason="watchdog") == 0


def test_import_counted_apart(stack, alice, portal, tmp_path):
    from test_import import loopback_export, run_import
    port = stack.metrics_port
    live = value(port, BRIDGED, plugin="loopback", direction="to_matrix")
    path = str(tmp_path / "history.json")
    loopback_export(path, "hist", "History", 12)
    p = run_import(stack, path)
    assert "Imported" in p.stdout, p.stdout
    wait_value(port, 12, "passerelle_imported_messages_total", plugin="loopback")
    wait_value(port, 1, "passerelle_import_jobs", plugin="loopback", state="done")
    assert value(port, BRIDGED, plugin="loopback", direction="to_matrix") == live
    assert value(port, "passerelle_queue_depth", queue="remote_import") == 0


def test_scrape_holds_nothing_secret(stack, alice, portal):
    text, _, _ = scrape(stack.metrics_port)
    for secret in (stack.bridge.as_token, stack.bridge.hs_token, alice.mxid, "alice-lb",
                   portal, "to matrix 0", "to legacy 0", "localhost"):
        assert secret not in text


def test_dashboard_names_only_served_metrics(stack, portal):
    with open(DASHBOARD) as f:
        dash = json.load(f)
    assert dash["schemaVersion"] >= 36
    assert [i["name"] for i in dash["__inputs"]] == ["DS_PROMETHEUS"]
    _, samples, types = scrape(stack.metrics_port)
    exprs = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            if p.get("type") != "row":
                assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
                assert p["targets"], p["title"]
            exprs.extend(t["expr"] for t in p.get("targets", []))

    walk(dash["panels"])
    exprs.extend(v["definition"] for v in dash["templating"]["list"] if v["type"] == "query")
    named = set()
    for e in exprs:
        for name in re.findall(r"\bpasserelle_[a-z_]+\b", e):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in types:
                assert types.get(base) == "histogram", "%s names %s, not served" % (e, name)
            named.add(base if name not in types else name)
    # Every metric the bridge serves has a panel.
    assert named == set(types), (named ^ set(types))
    for e in exprs:
        if "histogram_quantile" in e:
            assert "_bucket[" in e and "le" in e


# Last: these restart the bridge with other settings.


def test_port_taken_stops_the_bridge(stack):
    b = stack.bridge
    b.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        set_metrics(b, {"enabled": True, "bind": "127.0.0.1", "port": taken})
        b.write_config(stack.synapse.url)
        b.start(wait=False)
        wait_until(lambda: b.proc.poll() is not None, 60, what="the bridge to stop")
    assert b.proc.returncode == 1
    assert ("metrics: cannot listen on 127.0.0.1:%d (metrics.bind and metrics.port" % taken
            in b.tail()), b.tail()


def test_disabled_means_no_listener(stack, alice, net, portal):
    b = stack.bridge
    set_metrics(b, None)
    b.write_config(stack.synapse.url)
    b.start()
    with pytest.raises(urllib.error.URLError):
        scrape(stack.metrics_port)
    with open(b.log_path, "rb") as f:
        f.seek(b._log_start)
        assert b"metrics at" not in f.read()
    # The bridge works as before.
    alice.text(portal, "metrics off")
    net.wait_sent("alice-lb", lambda op: op.get("text") == "metrics off", 30)
