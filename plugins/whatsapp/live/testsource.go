// SPDX-License-Identifier: AGPL-3.0-or-later

//go:build pa_testsource

// The canned test source (WA-PROTOCOL: the test build only).  WhatsApp's
// servers cannot be reached in tests: here every network call of the
// plugin goes to a test over TCP on 127.0.0.1 (JSON lines; protobufs as
// protojson), while incoming traffic enters the REAL whatsmeow client
// through its dispatcher (HandleDecryptedMessage, DispatchEvent).  The port
// is written to <data_dir>/canned.port.  This file is never compiled into
// the installed plugin.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/encoding/protojson"
)

func init() { pairReadyWait = 0 }

func newTransport(l *Login) transport {
	c := &canned{l: l, pairCode: "ABCD1234", groups: map[types.JID]*types.GroupInfo{},
		users: map[string]cannedUser{}, media: map[string][]byte{}}
	if err := c.listen(); err != nil {
		l.log.Errorf("test source: %v", err)
	}
	return c
}

type cannedUser struct {
	jid, lid types.JID
	exists   bool
}

type canned struct {
	l  *Login
	ln net.Listener

	mu       sync.Mutex
	conn     net.Conn
	w        *bufio.Writer
	qr       chan whatsmeow.QRChannelItem
	qrCount  int
	pairCode string
	groups   map[types.JID]*types.GroupInfo
	users    map[string]cannedUser // by phone digits
	media    map[string][]byte     // by direct path

	connected atomic.Bool
	closed    atomic.Bool
}

func (c *canned) listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.ln = ln
	dir := c.l.host.DataDir()
	tmp := filepath.Join(dir, ".canned.port.tmp")
	port := ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n", port)), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "canned.port")); err != nil {
		return err
	}
	go c.accept()
	return nil
}

func (c *canned) accept() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		if c.conn != nil {
			c.conn.Close()
		}
		c.conn = conn
		c.w = bufio.NewWriter(conn)
		c.mu.Unlock()
		c.write(map[string]any{"ready": true})
		go c.serve(conn)
	}
}

// write sends one line to the test (dropped when no test is connected).
func (c *canned) write(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		return
	}
	c.w.Write(line)
	c.w.WriteByte('\n')
	c.w.Flush()
}

func (c *canned) call(name string, args map[string]any) {
	if args == nil {
		args = map[string]any{}
	}
	args["call"] = name
	c.write(args)
}

func (c *canned) serve(conn net.Conn) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var cmd map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			c.write(map[string]any{"error": "bad line: " + err.Error()})
			continue
		}
		if err := c.handle(cmd); err != nil {
			c.write(map[string]any{"error": err.Error()})
		}
	}
}

func str(cmd map[string]json.RawMessage, key string) string {
	var s string
	_ = json.Unmarshal(cmd[key], &s)
	return s
}

func jid(cmd map[string]json.RawMessage, key string) types.JID {
	j, _ := types.ParseJID(str(cmd, key))
	return j
}

func num(cmd map[string]json.RawMessage, key string) float64 {
	var f float64
	_ = json.Unmarshal(cmd[key], &f)
	return f
}

func flag(cmd map[string]json.RawMessage, key string) bool {
	var b bool
	_ = json.Unmarshal(cmd[key], &b)
	return b
}

func jids(cmd map[string]json.RawMessage, key string) []types.JID {
	var ss []string
	_ = json.Unmarshal(cmd[key], &ss)
	out := make([]types.JID, 0, len(ss))
	for _, s := range ss {
		if j, err := types.ParseJID(s); err == nil {
			out = append(out, j)
		}
	}
	return out
}

func unixTime(f float64) time.Time {
	if f == 0 {
		return time.Now()
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

type cannedInfo struct {
	Chat      string  `json:"chat"`
	Sender    string  `json:"sender"`
	SenderAlt string  `json:"sender_alt"`
	ID        string  `json:"id"`
	TS        float64 `json:"ts"`
	FromMe    bool    `json:"from_me"`
	IsGroup   bool    `json:"is_group"`
	PushName  string  `json:"push_name"`
	Type      string  `json:"type"`
	Edit      string  `json:"edit"`
}

func (ci cannedInfo) info() (*types.MessageInfo, error) {
	chat, err := types.ParseJID(ci.Chat)
	if err != nil {
		return nil, err
	}
	sender, err := types.ParseJID(ci.Sender)
	if err != nil {
		return nil, err
	}
	info := &types.MessageInfo{MessageSource: types.MessageSource{Chat: chat, Sender: sender,
		IsFromMe: ci.FromMe, IsGroup: ci.IsGroup || chat.Server == types.GroupServer},
		ID: ci.ID, Timestamp: unixTime(ci.TS), PushName: ci.PushName, Type: ci.Type,
		Edit: types.EditAttribute(ci.Edit)}
	if ci.SenderAlt != "" {
		info.SenderAlt, _ = types.ParseJID(ci.SenderAlt)
	}
	if info.Type == "" {
		info.Type = "text"
	}
	return info, nil
}

func (c *canned) dispatch(evt any) bool {
	//lint:ignore SA1019 the test source feeds whatsmeow's own dispatcher
	return c.l.cli.DangerousInternals().DispatchEvent(evt)
}

func (c *canned) qrItem(item whatsmeow.QRChannelItem, last bool) {
	c.mu.Lock()
	ch := c.qr
	if last {
		c.qr = nil
	}
	c.mu.Unlock()
	if ch == nil {
		return
	}
	ch <- item
	if last {
		close(ch)
	}
}

func (c *canned) handle(cmd map[string]json.RawMessage) error {
	ctx := context.Background()
	cli := c.l.cli
	switch name := str(cmd, "cmd"); name {
	case "qr_code":
		c.mu.Lock()
		c.qrCount++
		timeout := 20 * time.Second
		if c.qrCount == 1 {
			timeout = 60 * time.Second
		}
		c.mu.Unlock()
		c.qrItem(whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: str(cmd, "code"), Timeout: timeout}, false)
	case "qr_timeout":
		c.qrItem(whatsmeow.QRChannelTimeout, true)
	case "pair_code":
		c.mu.Lock()
		c.pairCode = str(cmd, "code")
		c.mu.Unlock()
	case "pair_success":
		id, lid := jid(cmd, "id"), jid(cmd, "lid")
		cli.Store.ID = &id
		cli.Store.LID = lid
		cli.Store.PushName = str(cmd, "push_name")
		cli.Store.BusinessName = str(cmd, "business_name")
		if cli.Store.Account == nil {
			cli.Store.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{0}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
		}
		if err := cli.Store.Save(ctx); err != nil {
			return err
		}
		if !lid.IsEmpty() {
			cli.StoreLIDPNMapping(ctx, lid.ToNonAD(), id.ToNonAD())
		}
		c.dispatch(&events.PairSuccess{ID: id, LID: lid, BusinessName: cli.Store.BusinessName, Platform: "android"})
		c.qrItem(whatsmeow.QRChannelSuccess, true)
		c.connected.Store(true)
		c.dispatch(&events.Connected{})
	case "passkey":
		c.dispatch(&events.PairPasskeyRequest{})
	case "state":
		return c.state(cmd)
	case "message":
		var ci cannedInfo
		if err := json.Unmarshal(cmd["info"], &ci); err != nil {
			return err
		}
		info, err := ci.info()
		if err != nil {
			return err
		}
		var msg waE2E.Message
		if err := protojson.Unmarshal(cmd["message"], &msg); err != nil {
			return err
		}
		//lint:ignore SA1019 the test source feeds whatsmeow's own dispatcher
		failed := cli.DangerousInternals().HandleDecryptedMessage(ctx, info, &msg, int(num(cmd, "retry")))
		c.write(map[string]any{"acked": info.ID, "failed": failed})
	case "undecryptable":
		var ci cannedInfo
		if err := json.Unmarshal(cmd["info"], &ci); err != nil {
			return err
		}
		info, err := ci.info()
		if err != nil {
			return err
		}
		failed := c.dispatch(&events.UndecryptableMessage{Info: *info})
		c.write(map[string]any{"acked": info.ID, "failed": failed})
	case "receipt":
		t := types.ReceiptType(str(cmd, "type"))
		if t == "delivered" {
			t = types.ReceiptTypeDelivered
		}
		var ids []string
		_ = json.Unmarshal(cmd["ids"], &ids)
		chat, sender := jid(cmd, "chat"), jid(cmd, "sender")
		c.dispatch(&events.Receipt{MessageSource: types.MessageSource{Chat: chat, Sender: sender,
			IsFromMe: c.l.isOwn(sender), IsGroup: chat.Server == types.GroupServer},
			MessageIDs: ids, Timestamp: unixTime(num(cmd, "ts")), Type: t})
	case "chat_presence":
		chat := jid(cmd, "chat")
		c.dispatch(&events.ChatPresence{MessageSource: types.MessageSource{Chat: chat, Sender: jid(cmd, "sender"),
			IsGroup: chat.Server == types.GroupServer},
			State: types.ChatPresence(str(cmd, "state")), Media: types.ChatPresenceMedia(str(cmd, "media"))})
	case "presence":
		c.dispatch(&events.Presence{From: jid(cmd, "from"), Unavailable: flag(cmd, "unavailable"),
			LastSeen: unixTime(num(cmd, "last_seen"))})
	case "push_name":
		c.dispatch(&events.PushName{JID: jid(cmd, "jid"), NewPushName: str(cmd, "name")})
	case "history":
		var hs waHistorySync.HistorySync
		if err := protojson.Unmarshal(cmd["sync"], &hs); err != nil {
			return err
		}
		failed := c.dispatch(&events.HistorySync{Data: &hs})
		c.write(map[string]any{"acked": "history", "failed": failed})
	case "group":
		return c.group(cmd)
	case "group_event":
		return c.groupEvent(cmd)
	case "user":
		phone := str(cmd, "phone")
		u := cannedUser{jid: jid(cmd, "jid"), lid: jid(cmd, "lid"), exists: flag(cmd, "exists")}
		if u.jid.IsEmpty() && phone != "" {
			u.jid = types.NewJID(phone, types.DefaultUserServer)
		}
		c.mu.Lock()
		c.users[phone] = u
		c.mu.Unlock()
		if !u.lid.IsEmpty() && !u.jid.IsEmpty() {
			cli.StoreLIDPNMapping(ctx, u.lid.ToNonAD(), u.jid.ToNonAD())
		}
		target := u.jid
		if !u.lid.IsEmpty() {
			target = u.lid
		}
		if n := str(cmd, "name"); n != "" && !target.IsEmpty() {
			_, _, _ = cli.Store.Contacts.PutPushName(ctx, target.ToNonAD(), n)
		}
		if n := str(cmd, "business_name"); n != "" && !target.IsEmpty() {
			_, _, _ = cli.Store.Contacts.PutBusinessName(ctx, target.ToNonAD(), n)
		}
	case "media":
		data, err := base64.StdEncoding.DecodeString(str(cmd, "data_b64"))
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.media[str(cmd, "direct_path")] = data
		c.mu.Unlock()
	default:
		return fmt.Errorf("unknown cmd %q", name)
	}
	return nil
}

func (c *canned) state(cmd map[string]json.RawMessage) error {
	switch ev := str(cmd, "event"); ev {
	case "connected":
		c.connected.Store(true)
		c.dispatch(&events.Connected{})
	case "disconnected":
		c.connected.Store(false)
		c.dispatch(&events.Disconnected{})
	case "logged_out":
		c.connected.Store(false)
		c.dispatch(&events.LoggedOut{Reason: events.ConnectFailureReason(int(num(cmd, "reason")))})
	case "stream_replaced":
		c.connected.Store(false)
		c.dispatch(&events.StreamReplaced{})
	case "temporary_ban":
		c.connected.Store(false)
		c.dispatch(&events.TemporaryBan{Code: events.TempBanReason(int(num(cmd, "code"))),
			Expire: time.Duration(num(cmd, "expire_s")) * time.Second})
	case "client_outdated":
		c.connected.Store(false)
		c.dispatch(&events.ClientOutdated{})
	case "keepalive_timeout":
		c.dispatch(&events.KeepAliveTimeout{ErrorCount: 3, LastSuccess: time.Now().Add(-time.Minute)})
	default:
		return fmt.Errorf("unknown state event %q", ev)
	}
	return nil
}

type cannedParticipant struct {
	JID   string `json:"jid"`
	LID   string `json:"lid"`
	Admin bool   `json:"admin"`
	Super bool   `json:"super"`
}

func (c *canned) group(cmd map[string]json.RawMessage) error {
	g := jid(cmd, "jid")
	var ps []cannedParticipant
	_ = json.Unmarshal(cmd["participants"], &ps)
	gi := &types.GroupInfo{JID: g}
	gi.Name = str(cmd, "name")
	gi.Topic = str(cmd, "topic")
	if s := num(cmd, "ephemeral_s"); s > 0 {
		gi.IsEphemeral, gi.DisappearingTimer = true, uint32(s)
	}
	for _, p := range ps {
		gp := types.GroupParticipant{IsAdmin: p.Admin || p.Super, IsSuperAdmin: p.Super}
		gp.JID, _ = types.ParseJID(p.JID)
		if p.LID != "" {
			gp.LID, _ = types.ParseJID(p.LID)
		}
		if gp.JID.Server == types.DefaultUserServer {
			gp.PhoneNumber = gp.JID
		} else if gp.JID.Server == types.HiddenUserServer {
			gp.LID = gp.JID
		}
		gi.Participants = append(gi.Participants, gp)
	}
	c.mu.Lock()
	c.groups[g] = gi
	c.mu.Unlock()
	if flag(cmd, "joined") {
		cp := *gi
		c.dispatch(&events.JoinedGroup{GroupInfo: cp})
	}
	return nil
}

func (c *canned) groupEvent(cmd map[string]json.RawMessage) error {
	e := &events.GroupInfo{JID: jid(cmd, "jid"), Timestamp: unixTime(num(cmd, "ts")),
		Join: jids(cmd, "join"), Leave: jids(cmd, "leave"), Promote: jids(cmd, "promote"), Demote: jids(cmd, "demote")}
	if _, ok := cmd["name"]; ok {
		e.Name = &types.GroupName{Name: str(cmd, "name")}
	}
	if _, ok := cmd["topic"]; ok {
		e.Topic = &types.GroupTopic{Topic: str(cmd, "topic")}
	}
	if _, ok := cmd["ephemeral_s"]; ok {
		s := uint32(num(cmd, "ephemeral_s"))
		e.Ephemeral = &types.GroupEphemeral{IsEphemeral: s > 0, DisappearingTimer: s}
	}
	if s := jid(cmd, "sender"); !s.IsEmpty() {
		e.Sender = &s
	}
	c.dispatch(e)
	return nil
}

// ---- transport

func (c *canned) Connect() error {
	if c.l.cli.Store.ID == nil {
		return nil // a login flow: the test drives the QR channel
	}
	c.connected.Store(true)
	c.dispatch(&events.Connected{})
	return nil
}

func (c *canned) Disconnect()       { c.connected.Store(false) }
func (c *canned) IsConnected() bool { return c.connected.Load() }

func (c *canned) Close() {
	if c.closed.Swap(true) {
		return
	}
	if c.ln != nil {
		c.ln.Close()
	}
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.w = nil
	c.mu.Unlock()
}

func (c *canned) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	if c.l.cli.Store.ID != nil {
		return nil, whatsmeow.ErrQRStoreContainsID
	}
	ch := make(chan whatsmeow.QRChannelItem, 8)
	c.mu.Lock()
	c.qr = ch
	c.qrCount = 0
	c.mu.Unlock()
	return ch, nil
}

func (c *canned) PairPhone(ctx context.Context, phone, deviceName string) (string, error) {
	c.call("pair_phone", map[string]any{"phone": phone})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pairCode, nil
}

func (c *canned) Logout(ctx context.Context) error {
	c.call("logout", nil)
	c.connected.Store(false)
	return c.l.cli.Store.Delete(ctx)
}

func (c *canned) own() types.JID {
	if id := c.l.cli.Store.ID; id != nil {
		return id.ToNonAD()
	}
	return types.EmptyJID
}

func (c *canned) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	if !c.connected.Load() {
		return whatsmeow.SendResponse{}, whatsmeow.ErrNotConnected
	}
	js, err := protojson.Marshal(msg)
	if err != nil {
		return whatsmeow.SendResponse{}, err
	}
	c.write(map[string]any{"sent": map[string]any{"to": to.String(), "id": id, "message": json.RawMessage(js)}})
	return whatsmeow.SendResponse{Timestamp: time.Now(), ID: id, Sender: c.own()}, nil
}

func (c *canned) SendPeerMessage(ctx context.Context, msg *waE2E.Message) (whatsmeow.SendResponse, error) {
	return c.SendMessage(ctx, c.own(), msg, c.l.cli.GenerateMessageID())
}

func (c *canned) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	if !c.connected.Load() {
		return whatsmeow.UploadResponse{}, whatsmeow.ErrNotConnected
	}
	sum := sha256.Sum256(data)
	hx := hex.EncodeToString(sum[:])
	kind := strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(string(mt)), " keys"), "whatsapp ")
	c.write(map[string]any{"upload": map[string]any{"type": kind, "size": len(data), "sha256": hx}})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return whatsmeow.UploadResponse{URL: "https://canned.invalid/" + hx, DirectPath: "/canned/" + hx,
		MediaKey: key, FileEncSHA256: sum[:], FileSHA256: sum[:], FileLength: uint64(len(data))}, nil
}

func (c *canned) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	c.mu.Lock()
	data, ok := c.media[msg.GetDirectPath()]
	c.mu.Unlock()
	if !ok {
		return nil, whatsmeow.ErrMediaDownloadFailedWith404
	}
	return data, nil
}

func (c *canned) SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, mediaKey []byte) error {
	c.call("request_media_retry", map[string]any{"chat": info.Chat.String(), "id": info.ID})
	return nil
}

func (c *canned) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	c.call("mark_read", map[string]any{"chat": chat.String(), "sender": sender.String(), "ids": ids})
	return nil
}

func (c *canned) SendChatPresence(ctx context.Context, chat types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	c.call("chat_presence", map[string]any{"chat": chat.String(), "state": string(state), "media": string(media)})
	return nil
}

func (c *canned) SendPresence(ctx context.Context, state types.Presence) error {
	c.call("send_presence", map[string]any{"state": string(state)})
	return nil
}

func (c *canned) GetGroupInfo(ctx context.Context, j types.JID) (*types.GroupInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gi, ok := c.groups[j]
	if !ok {
		return nil, whatsmeow.ErrGroupNotFound
	}
	cp := *gi
	cp.Participants = append([]types.GroupParticipant(nil), gi.Participants...)
	return &cp, nil
}

func (c *canned) SetGroupName(ctx context.Context, j types.JID, name string) error {
	c.call("set_group_name", map[string]any{"chat": j.String(), "name": name})
	c.mu.Lock()
	if gi, ok := c.groups[j]; ok {
		gi.Name = name
	}
	c.mu.Unlock()
	return nil
}

func (c *canned) SetGroupTopic(ctx context.Context, j types.JID, topic string) error {
	c.call("set_group_topic", map[string]any{"chat": j.String(), "topic": topic})
	c.mu.Lock()
	if gi, ok := c.groups[j]; ok {
		gi.Topic = topic
	}
	c.mu.Unlock()
	return nil
}

func (c *canned) SetGroupPhoto(ctx context.Context, j types.JID, jpeg []byte) error {
	c.call("set_group_photo", map[string]any{"chat": j.String(), "size": len(jpeg)})
	return nil
}

func (c *canned) SetDisappearingTimer(ctx context.Context, chat types.JID, timer time.Duration) error {
	switch timer {
	case 0, 24 * time.Hour, 7 * 24 * time.Hour, 90 * 24 * time.Hour:
	default:
		return whatsmeow.ErrInvalidDisappearingTimer
	}
	c.call("set_disappearing", map[string]any{"chat": chat.String(), "seconds": int(timer.Seconds())})
	return nil
}

func (c *canned) UpdateGroupParticipants(ctx context.Context, j types.JID, users []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	names := make([]string, len(users))
	out := make([]types.GroupParticipant, len(users))
	for i, u := range users {
		names[i] = u.String()
		out[i] = types.GroupParticipant{JID: u}
	}
	c.call("update_participants", map[string]any{"chat": j.String(), "users": names, "action": string(action)})
	return out, nil
}

func (c *canned) IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]types.IsOnWhatsAppResponse, 0, len(phones))
	for _, p := range phones {
		u, ok := c.users[strings.TrimPrefix(p, "+")]
		out = append(out, types.IsOnWhatsAppResponse{Query: p, JID: u.jid, IsIn: ok && u.exists, PhoneNumber: u.jid})
	}
	return out, nil
}

func (c *canned) GetUserInfo(ctx context.Context, js []types.JID) (map[types.JID]types.UserInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[types.JID]types.UserInfo{}
	for _, j := range js {
		for _, u := range c.users {
			if u.jid == j || u.lid == j {
				out[j] = types.UserInfo{LID: u.lid}
			}
		}
	}
	return out, nil
}

func (c *canned) ProfilePicture(ctx context.Context, j types.JID) ([]byte, string, error) {
	return nil, "", nil
}
