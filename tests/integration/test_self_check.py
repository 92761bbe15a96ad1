# SPDX-License-Identifier: AGPL-3.0-or-later
"""The start-up self-check against real Synapse: each missing piece of the
homeserver's setup gives its exact sentence, in the bridge's log and in
`passerelle --check`, and a good setup passes clean."""

import os
import subprocess
import tempfile

import pytest
import yaml

import harness
from e2e import EncryptedBridge, EncryptingSynapse

MSC2409_MISSING = (
    "to-device messages do not reach us (MSC2409; the probe did not come back within 15 s): "
    "no room key can arrive, so messages from encrypted rooms cannot be decrypted; set "
    "experimental_features: msc2409_to_device_messages_enabled: true (and "
    "msc3202_transaction_extensions: true) in homeserver.yaml, keep receive_ephemeral: true and "
    "de.sorunome.msc2409.push_ephemeral: true in the registration, and restart Synapse")
MSC3202_MISSING = (
    "transactions carry no device lists or one-time key counts (MSC3202): the bot does not see "
    "agents' new devices nor its keys running out; set experimental_features: "
    "msc3202_transaction_extensions: true in homeserver.yaml, keep org.matrix.msc3202: true in "
    "the registration, and restart Synapse")
NOT_LOADED = (
    "the homeserver does not know our as_token (M_UNKNOWN_TOKEN (401): Invalid access token "
    "passed.): Synapse has not loaded our registration; list the registration file under "
    "app_service_config_files in homeserver.yaml and restart Synapse (write it with "
    "passerelle -g -c {cfg} -r registration.yaml; its as_token must be appservice.as_token of "
    "{cfg})")
GOOD = [
    "ok: homeserver {hs} reachable (Matrix ",
    "ok: registration loaded: the homeserver takes our as_token for @passerelle:localhost",
    "ok: appservice ping: the homeserver reached us at {asurl} in ",
    "ok: appservice device management (MSC4190): the homeserver makes our devices",
    "ok: device masquerading (MSC3202): our requests act as our devices",
    "ok: to-device messages reach us in transactions (MSC2409)",
    "ok: device lists and one-time key counts reach us in transactions (MSC3202)",
    "self-check passed",
]


class Setup:
    """A Synapse (of `synapse_cls`, maybe without our registration) and an
    encrypting bridge's config, in one throwaway directory."""

    def __init__(self, synapse_cls, encryption=None, load_registration=True):
        self.workdir = tempfile.mkdtemp(prefix="passerelle-selfcheck-")
        self.bridge = EncryptedBridge(self.workdir)
        self.bridge.encryption_extra = dict(encryption or {})
        self.bridge.write_config("http://127.0.0.1:1")
        self.synapse = synapse_cls(self.workdir, self.bridge.registration)
        if not load_registration:
            with open(self.synapse.config) as f:
                cfg = yaml.safe_load(f)
            cfg["app_service_config_files"] = []
            with open(self.synapse.config, "w") as f:
                yaml.safe_dump(cfg, f)
        self.bridge.write_config(self.synapse.url)
        self.bridge.generate_registration()
        self.synapse.start()

    def check(self):
        """`passerelle --check`: (exit status, lines of standard output)."""
        p = subprocess.run([harness.PASSERELLE, "--check", "-c", self.bridge.config],
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout.splitlines()

    def start_bridge(self):
        """Starts the bridge; returns its exit status if it stopped by itself, else None."""
        self.bridge.start(wait=False)
        harness.wait_until(lambda: self.bridge._log_contains("ready as") or self.bridge._dead(),
                           timeout=120, what="passerelle to start or stop")
        return self.bridge.proc.returncode if self.bridge._dead() else None

    def log(self):
        with open(self.bridge.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        self.bridge.stop()
        self.synapse.stop()
        if not os.environ.get("PA_KEEP_TEST_DIRS"):
            import shutil
            shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def setup_factory():
    made = []

    def make(*args, **kwargs):
        s = Setup(*args, **kwargs)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def test_good_setup_passes_clean(setup_factory):
    s = setup_factory(EncryptingSynapse)
    status, lines = s.check()
    expected = [g.format(hs=s.synapse.url, asurl=s.bridge.url) for g in GOOD]
    assert status == 0, lines
    assert len(lines) == len(expected), lines
    for line, want in zip(lines, expected):
        assert line.startswith(want), (line, want)
    # The probe device is gone again.
    st, devices = harness.http("GET", s.synapse.url + "/_matrix/client/v3/devices?user_id="
                               "@passerelle:localhost", token=s.bridge.as_token)
    assert st == 200 and [d["device_id"] for d in devices["devices"]] == [], devices
    assert s.start_bridge() is None, s.bridge.tail()
    # The to-device probe's findings may come after "ready as".
    last = "self-check: " + expected[-2][len("ok: "):]
    harness.wait_until(lambda: last in s.log(), timeout=40, what="the probe's findings")
    log = s.log()
    for want in expected[:-1]:
        assert "self-check: " + want[len("ok: "):] in log, want
    assert "self-check" not in "\n".join(l for l in log.splitlines() if "WARNING" in l), log


def test_without_msc_features_warns_and_runs(setup_factory):
    # Plain Synapse, as installed: no experimental_features at all.
    s = setup_factory(harness.Synapse)
    status, lines = s.check()
    assert status == 1, lines
    assert "warning: " + MSC2409_MISSING in lines, lines
    assert "self-check found problems" in lines
    # The bridge is ready at once; the finding follows once the probe's time is out.
    assert s.start_bridge() is None, s.bridge.tail()
    harness.wait_until(lambda: "self-check: " + MSC2409_MISSING in s.log(), timeout=40,
                       what="the MSC2409 warning")


def test_without_msc3202_warns(setup_factory):
    class OnlyToDevice(harness.Synapse):
        def _write_config(self):
            super()._write_config()
            with open(self.config) as f:
                cfg = yaml.safe_load(f)
            cfg["experimental_features"] = {"msc2409_to_device_messages_enabled": True}
            with open(self.config, "w") as f:
                yaml.safe_dump(cfg, f)
    s = setup_factory(OnlyToDevice)
    status, lines = s.check()
    assert status == 1, lines
    assert "ok: to-device messages reach us in transactions (MSC2409)" in lines, lines
    assert "warning: " + MSC3202_MISSING in lines, lines


def test_require_without_msc2409_refuses(setup_factory):
    s = setup_factory(harness.Synapse, encryption={"require": True})
    assert s.start_bridge() == 1, s.bridge.tail()
    assert ("passerelle: " + MSC2409_MISSING
            + " (encryption.require is on: the bridge does not start without it)") in s.log()


def test_registration_not_loaded_refuses(setup_factory):
    s = setup_factory(EncryptingSynapse, load_registration=False)
    want = NOT_LOADED.format(cfg=s.bridge.config)
    status, lines = s.check()
    assert status == 1 and "error: " + want in lines, lines
    assert s.start_bridge() == 1, s.bridge.tail()
    assert "passerelle: " + want in s.log()


def test_wrong_url_warns(setup_factory):
    s = setup_factory(EncryptingSynapse)
    s.synapse.stop()
    with open(s.bridge.registration) as f:
        reg = yaml.safe_load(f)
    reg["url"] = "http://127.0.0.1:%d" % harness.free_port()
    with open(s.bridge.registration, "w") as f:
        yaml.safe_dump(reg, f)
    s.synapse.start()
    status, lines = s.check()
    assert status == 1, lines
    bad = [l for l in lines if l.startswith("warning: the homeserver cannot reach us (")]
    assert len(bad) == 1, lines
    assert bad[0].endswith(
        "): the registration's url must be %s (appservice.address), reachable from Synapse, and "
        "we listen on 127.0.0.1:%d (appservice.bind, appservice.port); check firewalls and "
        "proxies between them" % (s.bridge.url, s.bridge.as_port)), bad[0]
