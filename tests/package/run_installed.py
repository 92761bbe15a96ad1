# SPDX-License-Identifier: AGPL-3.0-or-later
"""The installed package against a real Synapse (tests/package/test-package.sh
runs it as root after `dpkg -i`): the packaged config is pointed at the
harness's Synapse, `passerelle -g` and `passerelle --check` run as the
passerelle user, then the unit's ExecStart runs as that user, in the unit's
WorkingDirectory, with no_new_privs (setpriv: there is no systemd as PID 1
here), and must answer the homeserver's appservice ping."""

import configparser
import os
import pwd
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402
from e2e import EncryptingSynapse  # noqa: E402

UNIT = "/lib/systemd/system/passerelle.service"
CONFIG = "/etc/passerelle/config.yaml"
REGISTRATION = "/etc/passerelle/registration.yaml"


def unit_service():
    """The [Service] section of the installed unit."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(UNIT)
    return parser["Service"]


def as_passerelle(service, argv, **kwargs):
    """argv as the unit's user and group, with no_new_privs, in its directory."""
    cmd = ["setpriv", "--reuid", service["User"], "--regid", service["Group"], "--init-groups",
           "--no-new-privs", "--"] + argv
    return subprocess.Popen(cmd, cwd=service["WorkingDirectory"], **kwargs)


def main():
    service = unit_service()
    workdir = tempfile.mkdtemp(prefix="passerelle-pkg-")
    synapse = EncryptingSynapse(workdir, REGISTRATION)
    as_port = harness.free_port()
    with open(CONFIG) as f:
        cfg = yaml.safe_load(f)
    cfg["homeserver"]["address"] = synapse.url
    cfg["appservice"]["address"] = "http://127.0.0.1:%d" % as_port
    cfg["appservice"]["port"] = as_port
    # The Olvid plugin is installed but no ministry enables it: the packaged config starts
    # without its settings (the plugin is set aside with a warning).
    with open(CONFIG, "w") as f:
        yaml.safe_dump(cfg, f)

    # The registration, written by the passerelle user as the docs say.
    p = as_passerelle(service, ["passerelle", "-g", "-c", CONFIG, "-r", REGISTRATION])
    assert p.wait(30) == 0, "passerelle -g failed"
    owner = pwd.getpwuid(os.stat(CONFIG).st_uid).pw_name
    assert owner == "passerelle" and os.stat(CONFIG).st_mode & 0o777 == 0o600, (
        owner, oct(os.stat(CONFIG).st_mode))
    with open(CONFIG) as f:
        as_token = yaml.safe_load(f)["appservice"]["as_token"]
    synapse.start()
    try:
        check = as_passerelle(service, ["passerelle", "--check", "-c", CONFIG],
                              stdout=subprocess.PIPE, text=True)
        out, _ = check.communicate(timeout=120)
        print(out, end="")
        assert check.returncode == 0, "passerelle --check failed"

        log_path = os.path.join(workdir, "passerelle.log")
        log = open(log_path, "wb")
        bridge = as_passerelle(service, shlex.split(service["ExecStart"]), stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)

        def logged(text):
            with open(log_path, "rb") as f:
                return text.encode() in f.read()
        try:
            harness.wait_until(lambda: logged("ready as") or bridge.poll() is not None,
                               timeout=120, what="the installed bridge to start")
            assert bridge.poll() is None, open(log_path).read()
            status, body = harness.http(
                "POST", synapse.url + "/_matrix/client/v1/appservice/passerelle/ping",
                {"transaction_id": "package-test"}, token=as_token)
            assert status == 200, (status, body)
            print("installed bridge answers the appservice ping in %d ms" % body["duration_ms"])
            uid = pwd.getpwnam("passerelle").pw_uid
            assert os.stat("/proc/%d" % bridge.pid).st_uid == uid
            with open("/proc/%d/status" % bridge.pid) as f:
                assert "NoNewPrivs:\t1" in f.read()
            state = service["WorkingDirectory"]
            assert os.stat(os.path.join(state, "passerelle.db")).st_uid == uid
            assert os.stat(os.path.join(state, "crypto.db")).st_mode & 0o777 == 0o600
            lsm = ""
            if os.path.exists("/sys/kernel/security/lsm"):
                with open("/sys/kernel/security/lsm") as f:
                    lsm = f.read()
            if "landlock" in lsm:
                assert not logged("NOT SANDBOXED"), open(log_path).read()
        finally:
            bridge.send_signal(signal.SIGTERM)
            try:
                code = bridge.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(bridge.pid, signal.SIGKILL)
                code = bridge.wait()
        assert code == 0, "the bridge exited %s on SIGTERM:\n%s" % (code, open(log_path).read())
        # KillMode=mixed leaves the workers to the bridge: none is left behind.
        time.sleep(0.5)
        left = subprocess.run(["pgrep", "-u", "passerelle"], capture_output=True, text=True)
        assert left.stdout.strip() == "", "processes left: " + left.stdout
        print("installed bridge stopped cleanly on SIGTERM")
    finally:
        synapse.stop()
        if not os.environ.get("PA_KEEP_TEST_DIRS"):
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
