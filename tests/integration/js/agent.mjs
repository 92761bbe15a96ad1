// SPDX-License-Identifier: AGPL-3.0-or-later
//
// A Matrix agent on matrix-js-sdk with its Rust crypto (the crypto Element
// and Tchap web run), for tests/integration/test_crypto_js.py.
//
// Protocol: one JSON command per line on stdin, {"id": n, "cmd": "...", ...};
// one JSON answer per line on stdout, {"id": n, "ok": true, "result": ...} or
// {"id": n, "ok": false, "error": "..."}.  Commands run concurrently (a
// wait_* does not stop the client syncing).  Logs go to stderr only: stdout
// carries nothing but answers.  The crypto store is in memory (the agent
// lives as long as its test module).

import { format } from "node:util";
import { createInterface } from "node:readline";

// The SDK's logger binds console methods when it is loaded: send them all to
// stderr before importing it (hence the dynamic import below).
const toStderr = (...args) => process.stderr.write(format(...args) + "\n");
for (const m of ["log", "info", "debug", "warn", "error", "trace"]) console[m] = toStderr;

const sdk = await import("matrix-js-sdk");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
// Not re-exported by the package root in matrix-js-sdk 37.
const { AllDevicesIsolationMode, OnlySignedDevicesIsolationMode } =
    await import("matrix-js-sdk/lib/crypto-api/index.js");
logger.setLevel(process.env.PA_TEST_DEBUG ? "debug" : "info", false);

const log = (...args) => toStderr(new Date().toISOString(), "[agent]", ...args);

let client = null;
const timelines = new Map(); // room id -> [MatrixEvent], in arrival order

function remember(ev, room) {
    if (!room) return;
    const list = timelines.get(room.roomId) ?? [];
    if (!list.some((e) => e.getId() === ev.getId())) list.push(ev);
    timelines.set(room.roomId, list);
}

function summary(ev) {
    const wire = ev.getWireContent() ?? {};
    const out = {
        event_id: ev.getId(),
        sender: ev.getSender(),
        type: ev.getType(),
        content: ev.getContent(),
        origin_server_ts: ev.getTs(),
        encrypted: ev.isEncrypted(),
        decryption_failure: ev.isDecryptionFailure(),
    };
    if (ev.isEncrypted()) {
        out.wire = { algorithm: wire.algorithm, session_id: wire.session_id,
                     sender_key: wire.sender_key, device_id: wire.device_id };
        if (ev.isDecryptionFailure()) out.failure = String(ev.decryptionFailureReason);
        else out._e2e = { session_id: wire.session_id, sender_key: wire.sender_key };
    }
    return out;
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(what, timeoutS, check) {
    const deadline = Date.now() + (timeoutS ?? 30) * 1000;
    for (;;) {
        const found = await check();
        if (found) return found;
        if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
        await sleep(100);
    }
}

function need() {
    if (!client) throw new Error("not logged in");
    return client;
}

function matches(ev, a) {
    if (ev.getType() !== "m.room.message") return false;
    if (a.sender && ev.getSender() !== a.sender) return false;
    const body = ev.getContent()?.body ?? "";
    if (a.body !== undefined && body !== a.body) return false;
    if (a.contains !== undefined && !body.toLowerCase().includes(a.contains.toLowerCase())) return false;
    return true;
}

const commands = {
    // isolation: "all" (the default: keys shared with every device, events
    // of any device decrypted) or "only_signed" (Element's "exclude
    // insecure devices": only devices cross-signed by their owner).
    async login(a) {
        if (client) throw new Error("already logged in");
        const isolation = a.isolation ?? "all";
        if (isolation !== "all" && isolation !== "only_signed")
            throw new Error("unknown isolation mode " + isolation);
        const anon = sdk.createClient({ baseUrl: a.hs });
        const creds = await anon.loginRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: a.user },
            password: a.password,
            initial_device_display_name: a.device_name ?? "js-agent (Rust crypto)",
        });
        anon.stopClient();
        client = sdk.createClient({
            baseUrl: a.hs,
            userId: creds.user_id,
            accessToken: creds.access_token,
            deviceId: creds.device_id,
            store: new sdk.MemoryStore(),
        });
        await client.initRustCrypto({ useIndexedDB: false });
        client.getCrypto().setDeviceIsolationMode(isolation === "only_signed"
            ? new OnlySignedDevicesIsolationMode()
            : new AllDevicesIsolationMode(false));
        client.on(sdk.RoomEvent.Timeline, (ev, room) => remember(ev, room));
        client.on(sdk.MatrixEventEvent.Decrypted, (ev, err) => {
            if (err || ev.isDecryptionFailure())
                log("cannot decrypt", ev.getId(), "in", ev.getRoomId(), "from", ev.getSender(),
                    String(ev.decryptionFailureReason), err ? String(err) : "");
            else log("decrypted", ev.getId(), "in", ev.getRoomId(), "from", ev.getSender(),
                     "session", ev.getWireContent().session_id);
        });
        const prepared = new Promise((resolve, reject) => {
            client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
                if (state === "PREPARED" || state === "SYNCING") resolve();
                else if (state === "ERROR") log("sync error", data?.error ?? "");
            });
            setTimeout(() => reject(new Error("first sync did not complete in 60 s")), 60000);
        });
        await client.startClient({ initialSyncLimit: 50 });
        await prepared;
        const crypto = client.getCrypto();
        // A user who excludes insecure devices has cross-signing (the Rust
        // crypto refuses to encrypt without it), and so has one who verifies
        // others (`cross_signing`: a verified user's master key is signed
        // with one's own user-signing key): set it up as Element does.
        // The first upload needs no interactive auth (MSC3967); the password
        // answers a homeserver that asks anyway.
        if (isolation === "only_signed" || a.cross_signing)
            await crypto.bootstrapCrossSigning({
                authUploadDeviceSigningKeys: async (makeRequest) => {
                    try {
                        return await makeRequest(null);
                    } catch (e) {
                        if (!e?.data?.flows) throw e;
                        return await makeRequest({
                            type: "m.login.password", session: e.data.session,
                            identifier: { type: "m.id.user", user: a.user },
                            password: a.password });
                    }
                },
            });
        const keys = await crypto.getOwnDeviceKeys();
        log("logged in", creds.user_id, "device", creds.device_id, "crypto", crypto.getVersion(),
            "isolation", isolation);
        return { user_id: creds.user_id, device_id: creds.device_id,
                 ed25519: keys.ed25519, curve25519: keys.curve25519, crypto: crypto.getVersion(),
                 isolation };
    },

    // An encrypted DM the way Element opens one.
    async create_dm(a) {
        const c = need();
        const { room_id: roomId } = await c.createRoom({
            preset: sdk.Preset.TrustedPrivateChat,
            visibility: sdk.Visibility.Private,
            is_direct: true,
            invite: [a.invitee],
            initial_state: [{ type: "m.room.encryption", state_key: "",
                              content: { algorithm: "m.megolm.v1.aes-sha2" } }],
        });
        await until("the new room in sync", a.timeout, async () =>
            c.getRoom(roomId) && (await c.getCrypto().isEncryptionEnabledInRoom(roomId)));
        return { room: roomId };
    },

    async wait_invite(a) {
        const c = need();
        return await until("an invite", a.timeout, () => {
            for (const room of c.getRooms()) {
                if (room.getMyMembership() !== "invite") continue;
                // A room just joined can still read as an invite here (the SDK's
                // membership lags): callers name the rooms they already joined.
                if ((a.exclude ?? []).includes(room.roomId)) continue;
                const inviter = room.getDMInviter() ??
                    room.getMember(c.getUserId())?.events?.member?.getSender();
                if (a.inviter && inviter !== a.inviter) continue;
                if (a.name && !(room.name ?? "").includes(a.name)) continue;
                return { room: room.roomId, inviter, name: room.name };
            }
            return null;
        });
    },

    // The join is done once the homeserver accepted it.  The SDK's own
    // view of the membership sometimes lags far behind (its room object can
    // miss the join while the timeline already flows), so that is waited for
    // only briefly and reported; the callers wait for the events they need.
    async join(a) {
        const c = need();
        await c.joinRoom(a.room);
        const me = c.getUserId();
        let synced = true;
        try {
            await until("the joined room in sync", Math.min(a.timeout ?? 30, 15), () => {
                const room = c.getRoom(a.room);
                return room && (room.getMyMembership() === "join"
                                || room.hasMembershipState(me, "join"));
            });
        } catch (e) {
            synced = false;
            log("join of", a.room, "accepted; the SDK's membership has not caught up yet");
        }
        return { room: a.room, synced };
    },

    async is_encrypted(a) {
        return await need().getCrypto().isEncryptionEnabledInRoom(a.room);
    },

    async send(a) {
        const c = need();
        const res = await c.sendMessage(a.room, { msgtype: "m.text", body: a.body });
        const ev = c.getRoom(a.room)?.findEventById(res.event_id);
        return { event_id: res.event_id, encrypted: ev ? ev.isEncrypted() : null };
    },

    // The next message starts a new Megolm session (shared again then).
    async discard_session(a) {
        await need().getCrypto().forceDiscardSession(a.room);
        return { room: a.room };
    },

    async messages(a) {
        return (timelines.get(a.room) ?? []).map(summary);
    },

    async wait_message(a) {
        return await until("a message " + JSON.stringify(a), a.timeout, () => {
            const found = (timelines.get(a.room) ?? []).filter((ev) => matches(ev, a));
            return found.length > (a.after ?? 0) ? summary(found[a.after ?? 0]) : null;
        });
    },

    // Fetch an event from the homeserver again and decrypt it afresh.
    async fetch_decrypt(a) {
        const c = need();
        const raw = await c.fetchRoomEvent(a.room, a.event_id);
        const ev = new sdk.MatrixEvent(raw);
        await c.decryptEventIfNeeded(ev);
        const out = summary(ev);
        out.raw_type = raw.type;
        out.raw_has_body = raw.content?.body !== undefined;
        return out;
    },

    // Shield of a decrypted event (the Rust crypto's view of its sender).
    async encryption_info(a) {
        const c = need();
        const ev = (timelines.get(a.room) ?? []).find((e) => e.getId() === a.event_id);
        if (!ev) throw new Error("unknown event " + a.event_id);
        const info = await c.getCrypto().getEncryptionInfoForEvent(ev);
        return info ? { shield: info.shieldColour, reason: info.shieldReason } : null;
    },

    // The devices of a user as the Rust crypto sees them after /keys/query
    // (devices whose keys or signatures it refused are not listed).
    async devices(a) {
        const c = need();
        const map = await c.getCrypto().getUserDeviceInfo([a.user], true);
        const out = [];
        for (const d of map.get(a.user)?.values() ?? []) {
            // signedByOwner: cross-signed by its owner's self-signing key.
            const status = await c.getCrypto().getDeviceVerificationStatus(a.user, d.deviceId);
            out.push({ device_id: d.deviceId, algorithms: d.algorithms, ed25519: d.getFingerprint(),
                       curve25519: d.getIdentityKey(), verified: d.verified,
                       signed_by_owner: status?.signedByOwner ?? false });
        }
        return out;
    },

    // The room's joined and invited members, from the homeserver (sorted).
    async members(a) {
        const res = await need().members(a.room, undefined, "leave");
        return res.chunk.map((ev) => ev.state_key).sort();
    },

    async stop() {
        if (client) {
            client.stopClient();
            client.getCrypto()?.stop?.();
        }
        setTimeout(() => process.exit(0), 50);
        return "stopping";
    },

    // "Verify user" in a DM, as Element does it: an in-room request, then
    // SAS.  The emoji are confirmed as shown, or, with `cancel`, the
    // verification is cancelled at that point.  Returns the emoji and
    // numbers shown and the device's verification status afterwards.
    async verify_user(a) {
        const c = need();
        const crypto = c.getCrypto();
        const { VerificationPhase, VerifierEvent } =
            await import("matrix-js-sdk/lib/crypto-api/index.js");
        // The user's identity may still be on its way (a key query after a
        // device list change): asked again until it is known.
        const request = await until("the identity of " + a.user, a.timeout, async () => {
            await crypto.getUserDeviceInfo([a.user], true);
            try {
                return await crypto.requestVerificationDM(a.user, a.room);
            } catch (e) {
                if (!String(e?.message).startsWith("unknown userId")) throw e;
                return null;
            }
        });
        log("verification request", request.transactionId, "to", a.user);
        await until("the verification to be ready", a.timeout, () =>
            request.phase !== VerificationPhase.Requested);
        if (request.phase !== VerificationPhase.Ready)
            throw new Error("verification not ready: phase " + request.phase + " "
                            + (request.cancellationCode ?? ""));
        const verifier = await request.startVerification("m.sas.v1");
        let shown = verifier.getShowSasCallbacks();
        verifier.on(VerifierEvent.ShowSas, (sas) => { shown = sas; });
        const verified = verifier.verify();
        verified.catch((e) => log("verifier ended:", String(e)));
        await until("the SAS to show", a.timeout, () =>
            shown || request.phase === VerificationPhase.Cancelled);
        if (!shown)
            throw new Error("verification cancelled before the SAS: "
                            + (request.cancellationCode ?? "?"));
        const out = { transaction_id: request.transactionId, emoji: shown.sas.emoji ?? null,
                      decimal: shown.sas.decimal ?? null };
        if (a.cancel) {
            shown.cancel();
            await until("the cancel", a.timeout, () =>
                request.phase === VerificationPhase.Cancelled);
            out.phase = "cancelled";
            return out;
        }
        await shown.confirm();
        await verified;
        await until("the verification to be done", a.timeout, () =>
            request.phase === VerificationPhase.Done);
        out.phase = "done";
        const st = await crypto.getDeviceVerificationStatus(a.user, a.device);
        out.status = st ? { localVerified: st.localVerified,
                            crossSigningVerified: st.crossSigningVerified,
                            signedByOwner: st.signedByOwner, isVerified: st.isVerified() } : null;
        // The identity is marked verified once the signature of its master
        // key with our user-signing key is uploaded (after "done").
        out.user_verified = false;
        try {
            await until("the user verified", 10, async () =>
                (await crypto.getUserVerificationStatus(a.user)).isVerified());
            out.user_verified = true;
        } catch (e) {
            log("user", a.user, "not verified:", String(e));
        }
        const st2 = await crypto.getDeviceVerificationStatus(a.user, a.device);
        out.status.crossSigningVerified = st2?.crossSigningVerified ?? false;
        return out;
    },

    // A raw event (encrypted in an encrypted room), e.g. a verification
    // event no client would send.
    async send_event(a) {
        const res = await need().sendEvent(a.room, a.type, a.content);
        return { event_id: res.event_id };
    },
};

function answer(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
    if (!line.trim()) return;
    let msg;
    try {
        msg = JSON.parse(line);
    } catch (e) {
        answer({ id: null, ok: false, error: "bad JSON: " + e.message });
        return;
    }
    const fn = commands[msg.cmd];
    if (!fn) {
        answer({ id: msg.id, ok: false, error: "unknown command " + msg.cmd });
        return;
    }
    fn(msg).then(
        (result) => answer({ id: msg.id, ok: true, result: result ?? null }),
        (err) => {
            log("command", msg.cmd, "failed:", err?.stack ?? err);
            answer({ id: msg.id, ok: false, error: String(err?.message ?? err) });
        });
});
rl.on("close", () => {
    if (client) client.stopClient();
    process.exit(0);
});
log("ready, node", process.version);
