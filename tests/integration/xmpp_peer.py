# SPDX-License-Identifier: AGPL-3.0-or-later
"""Real legacy servers and independent clients for the purple plugin's tests:
prosody (XMPP) and ngircd (IRC) in throwaway directories on loopback, an
XMPP client on slixmpp running in its own thread, and a plain-socket IRC
client.  Nothing here is mocked."""

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time

from harness import free_port, wait_until


def have(*programs):
    return all(shutil.which(p) for p in programs)


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Prosody:
    """A prosody with c2s on a free port, no TLS, internal_plain accounts."""

    def __init__(self, workdir, domain="localhost"):
        self.dir = os.path.join(workdir, "prosody")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.domain = domain
        self.muc = "conference." + domain
        self.port = free_port()
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.proc = None
        with open(self.config, "w") as f:
            f.write("""
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}"
daemonize = false
run_as_root = true
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {port} }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "offline"; "vcard_legacy";
                    "posix" }}
modules_disabled = {{ "s2s" }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
storage = "internal"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{d}/prosody.log" }} }}
VirtualHost "{domain}"
Component "{muc}" "muc"
  muc_room_locking = false
  muc_room_default_history_length = 20
""".format(d=self.dir, port=self.port, domain=domain, muc=self.muc))

    def register(self, user, password):
        subprocess.run(["prosodyctl", "--config", self.config, "register", user, self.domain,
                        password], check=True, capture_output=True, timeout=30)

    def start(self):
        self.log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(["prosody", "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: self.proc.poll() is not None or _port_open(self.port), timeout=30,
                   what="prosody to listen")
        assert self.proc.poll() is None, "prosody exited, see " + self.dir

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class XmppPeer:
    """An independent XMPP client (slixmpp) on its own thread and event loop."""

    def __init__(self, jid, password, port, nick=None, files=False):
        """files: also vCard avatars (XEP-0054/0153) and SI file transfer
        over in-band bytestreams (XEP-0095/0096/0047)."""
        import slixmpp
        self.jid = jid
        self.nick = nick
        self.lock = threading.Lock()
        self.messages = []     # {"from", "type", "body", "html", "delayed"}
        self.chatstates = []   # (from, state)
        self.muc_presence = []  # (room, nick, type)
        self.received_files = []  # {"from", "name", "size", "data"}
        self.decline_files = False
        self.online = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.xmpp = slixmpp.ClientXMPP(jid, password, plugin_config={
            "feature_mechanisms": {"unencrypted_plain": True, "unencrypted_scram": True}})
        self.xmpp.enable_starttls = False
        self.xmpp.enable_direct_tls = False
        self.xmpp.enable_plaintext = True
        for p in ("xep_0030", "xep_0045", "xep_0085", "xep_0199", "xep_0203", "xep_0071",
                  "xep_0172"):
            self.xmpp.register_plugin(p)
        if files:
            for p in ("xep_0054", "xep_0153", "xep_0047", "xep_0095", "xep_0096"):
                self.xmpp.register_plugin(p)
            # SOCKS5 bytestreams (needed by slixmpp's SI) are not offered:
            # in-band bytestreams work on any network.
            si = self.xmpp.plugin["xep_0095"]
            si.unregister_method("http://jabber.org/protocol/bytestreams")
            # slixmpp registers its coroutine SI handler as a plain callback
            # (never awaited): register it properly.
            from slixmpp.xmlstream.handler import CoroutineCallback
            from slixmpp.xmlstream.matcher import StanzaPath
            self.xmpp.remove_handler("SI Request")
            self.xmpp.register_handler(CoroutineCallback(
                "SI Request", StanzaPath("iq@type=set/si"), si._handle_request))
            self.xmpp.add_event_handler("si_request", self._si_request)
        self.xmpp.auto_authorize = True
        self.xmpp.auto_subscribe = True
        self.xmpp.add_event_handler("session_start", self._start)
        self.xmpp.add_event_handler("message", self._message)
        self.xmpp.add_event_handler("groupchat_message", self._message)
        for st in ("active", "composing", "paused", "inactive", "gone"):
            self.xmpp.add_event_handler("chatstate_" + st,
                                        lambda m, st=st: self._chatstate(m, st))
        self.xmpp.add_event_handler("groupchat_presence", self._muc_presence)
        self.port = port
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.online.wait(30), "the XMPP peer could not log in"

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.xmpp.loop = self.loop
        self.xmpp.connect("127.0.0.1", self.port)
        self.loop.run_forever()

    async def _start(self, _event):
        self.xmpp.send_presence()
        try:
            await self.xmpp.get_roster()
        except Exception:  # noqa: BLE001 — the roster is not needed to chat
            pass
        self.online.set()

    def _message(self, msg):
        if msg["type"] == "error" or not msg["body"]:
            return
        html = None
        try:
            html = str(msg["html"]["body"]) if msg["html"]["body"] is not None else None
        except Exception:  # noqa: BLE001
            html = None
        with self.lock:
            self.messages.append({"from": str(msg["from"]), "type": msg["type"],
                                  "body": msg["body"], "html": html,
                                  "delayed": bool(msg["delay"]["stamp"]), "t": time.time()})

    def _chatstate(self, msg, state):
        with self.lock:
            self.chatstates.append((str(msg["from"].bare), state))

    def _muc_presence(self, pres):
        with self.lock:
            self.muc_presence.append((str(pres["from"].bare), pres["from"].resource,
                                      pres["type"]))

    def call(self, fn, *args, **kwargs):
        """Run fn on the client's loop and wait for it."""
        done = threading.Event()
        box = {}

        def run():
            try:
                box["r"] = fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 — re-raised in the caller
                box["e"] = e
            done.set()
        self.loop.call_soon_threadsafe(run)
        assert done.wait(10)
        if "e" in box:
            raise box["e"]
        return box.get("r")

    def send(self, to, body, mtype="chat", chatstate="active", html=None):
        def go():
            m = self.xmpp.make_message(mto=to, mbody=body, mtype=mtype)
            if chatstate:
                m["chat_state"] = chatstate
            if html:
                m["html"]["body"] = html
            m.send()
        self.call(go)

    def chatstate(self, to, state):
        def go():
            m = self.xmpp.make_message(mto=to, mtype="chat")
            m["chat_state"] = state
            m.send()
        self.call(go)

    def subscribe(self, to, nick=None):
        def go():
            p = self.xmpp.make_presence(pto=to, ptype="subscribe")
            if nick:
                from slixmpp.xmlstream import ET
                el = ET.Element("{http://jabber.org/protocol/nick}nick")
                el.text = nick
                p.xml.append(el)
            p.send()
        self.call(go)

    def join(self, room, nick):
        self.call(lambda: self.xmpp.plugin["xep_0045"].join_muc(room, nick))

    def leave(self, room, nick):
        self.call(lambda: self.xmpp.plugin["xep_0045"].leave_muc(room, nick))

    def set_presence(self, show=None, status=None):
        """Broadcast an available presence ("away", "xa", "dnd", None)."""
        self.call(lambda: self.xmpp.send_presence(pshow=show, pstatus=status))

    def set_avatar(self, data, mimetype):
        """Publish a vCard-temp photo; the next presences carry its hash."""
        box = {}
        done = threading.Event()

        def go():
            fut = self.xmpp.plugin["xep_0153"].set_avatar(avatar=data, mtype=mimetype)
            fut.add_done_callback(lambda f: (box.setdefault("e", f.exception()), done.set()))
        self.call(go)
        assert done.wait(20), "the vCard was not published"
        if box.get("e"):
            raise box["e"]

    def invite(self, room, jid, reason=""):
        """A mediated MUC invitation (XEP-0045 §7.8.2) through the room."""
        self.call(lambda: self.xmpp.plugin["xep_0045"].invite(room, jid, reason))

    def send_file(self, to, name, data, timeout=60):
        """Offer a file with SI (XEP-0096) and send it in-band (XEP-0047).
        `to` is a full JID.  Returns once the stream is closed."""
        import uuid

        from slixmpp.exceptions import IqError, IqTimeout

        async def go():
            sid = uuid.uuid4().hex
            await self.xmpp.plugin["xep_0096"].request_file_transfer(
                to, sid=sid, name=name, size=len(data), mime_type="application/octet-stream",
                # (slixmpp's default list of bare strings is not a valid form option)
                methods=[{"value": "http://jabber.org/protocol/ibb"}], timeout=timeout)
            stream = await self.xmpp.plugin["xep_0047"].open_stream(to, sid=sid,
                                                                    timeout=timeout)
            await stream.sendall(data, timeout=timeout)
            try:
                await stream.close(timeout=5)
            except (IqError, IqTimeout):
                pass  # libpurple 2.x never answers the <close/> it acts on
        fut = asyncio.run_coroutine_threadsafe(go(), self.loop)
        fut.result(timeout + 10)

    async def _si_request(self, iq):
        sender, sid = iq["from"], iq["si"]["id"]
        name, size = iq["si"]["file"]["name"], int(iq["si"]["file"]["size"] or 0)
        si = self.xmpp.plugin["xep_0095"]
        if self.decline_files:
            await si.decline(sender, sid, ifrom=iq["to"])
            return
        chunks = []

        def on_data(stream):
            if stream.sid == sid:
                while not stream.recv_queue.empty():
                    chunks.append(stream.recv_queue.get_nowait())

        def on_end(stream):
            if stream.sid != sid:
                return
            on_data(stream)
            self.xmpp.del_event_handler("ibb_stream_data", on_data)
            self.xmpp.del_event_handler("ibb_stream_end", on_end)
            with self.lock:
                self.received_files.append({"from": str(sender), "name": name, "size": size,
                                            "data": b"".join(chunks)})
        self.xmpp.add_event_handler("ibb_stream_data", on_data)
        self.xmpp.add_event_handler("ibb_stream_end", on_end)
        await si.accept(sender, sid, ifrom=iq["to"])

    def wait_file(self, pred, timeout=60):
        def look():
            with self.lock:
                return [f for f in self.received_files if pred(f)]
        return wait_until(look, timeout=timeout, what="a file over XMPP")[0]

    def got(self, pred):
        with self.lock:
            return [m for m in self.messages if pred(m)]

    def wait_message(self, pred, timeout=30):
        return wait_until(lambda: self.got(pred), timeout=timeout, what="an XMPP message")[0]

    def close(self):
        try:
            self.call(lambda: self.xmpp.disconnect())
        except (AssertionError, RuntimeError):
            pass
        time.sleep(0.3)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Ngircd:
    """An ngircd on a free loopback port, no TLS, no ident/DNS lookups."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "ngircd")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.config = os.path.join(self.dir, "ngircd.conf")
        self.motd = os.path.join(self.dir, "motd")
        with open(self.motd, "w") as f:
            f.write("test server\n")
        with open(self.config, "w") as f:
            f.write("""[Global]
Name = irc.test
Info = Passerelle test server
Listen = 127.0.0.1
Ports = {port}
MotdFile = {motd}
PidFile = {d}/ngircd.pid
[Limits]
ConnectRetry = 5
MaxConnectionsIP = 0
[Options]
Ident = no
DNS = no
PAM = no
SyslogFacility = local1
[SSL]
""".format(port=self.port, motd=self.motd, d=self.dir))
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(["ngircd", "--nodaemon", "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_until(lambda: self.proc.poll() is not None or _port_open(self.port), timeout=30,
                   what="ngircd to listen")
        assert self.proc.poll() is None, "ngircd exited, see " + self.dir

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class IrcPeer:
    """A plain-socket IRC client; a reader thread collects PRIVMSGs."""

    def __init__(self, port, nick):
        self.nick = nick
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.lock = threading.Lock()
        self.lines = []
        self.privmsgs = []  # (from nick, target, text)
        self.welcome = threading.Event()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.raw("NICK " + nick)
        self.raw("USER %s 0 * :%s" % (nick, nick))
        assert self.welcome.wait(20), "no IRC welcome"

    def raw(self, line):
        self.sock.sendall((line + "\r\n").encode())

    def _read(self):
        buf = b""
        self.sock.settimeout(None)
        while not self.closed:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\r\n" in buf:
                line, buf = buf.split(b"\r\n", 1)
                text = line.decode(errors="replace")
                with self.lock:
                    self.lines.append(text)
                parts = text.split(" ")
                if parts[0] == "PING":
                    self.raw("PONG " + " ".join(parts[1:]))
                elif len(parts) > 1 and parts[1] == "001":
                    self.welcome.set()
                elif len(parts) > 3 and parts[1] == "PRIVMSG":
                    who = parts[0][1:].split("!")[0]
                    msg = text.split(" :", 1)[1] if " :" in text else ""
                    with self.lock:
                        self.privmsgs.append((who, parts[2], msg))

    def join(self, channel):
        self.raw("JOIN " + channel)

    def say(self, target, text):
        self.raw("PRIVMSG %s :%s" % (target, text))

    def wait_privmsg(self, pred, timeout=30):
        def look():
            with self.lock:
                return [p for p in self.privmsgs if pred(p)]
        return wait_until(look, timeout=timeout, what="an IRC message")[0]

    def names(self, channel):
        self.raw("NAMES " + channel)

    def close(self):
        self.closed = True
        try:
            self.raw("QUIT :bye")
            self.sock.close()
        except OSError:
            pass
