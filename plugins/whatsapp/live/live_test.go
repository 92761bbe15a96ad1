// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of the live plugin: the real whatsmeow client over a temp session
// store, a recording host, a fake transport; events go through whatsmeow's
// own dispatcher.
package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"passerelle/sdk/go/pasdk"
)

// recHost records what the plugin tells the host.  autoPersist: every
// emitted event is reported persisted at once (from another goroutine).
type recHost struct {
	mu          sync.Mutex
	dir         string
	seq         uint64
	events      []pasdk.Event
	steps       []pasdk.LoginStep
	states      []pasdk.LoginState
	stateMsgs   []string
	notices     []string
	results     map[uint64]*pasdk.OpResult
	meta        map[string]string
	autoPersist bool
	login       *Login
	emitted     chan uint64
}

func newRecHost(t *testing.T) *recHost {
	return &recHost{dir: t.TempDir(), results: map[uint64]*pasdk.OpResult{}, meta: map[string]string{},
		autoPersist: true, emitted: make(chan uint64, 1024)}
}

func (h *recHost) Log(level pasdk.LogLevel, message string) {
	if level >= pasdk.LogWarning {
		println("log:", message)
	}
}
func (h *recHost) Emit(ev *pasdk.Event) uint64 {
	h.mu.Lock()
	h.seq++
	seq := h.seq
	h.events = append(h.events, *ev)
	auto, l := h.autoPersist, h.login
	h.mu.Unlock()
	select {
	case h.emitted <- seq:
	default: // nobody is watching
	}
	if auto && l != nil {
		go l.EventPersisted(seq)
	}
	return seq
}
func (h *recHost) DataDir() string   { return h.dir }
func (h *recHost) BudgetLeft() int64 { return -1 }
func (h *recHost) LoginStep(step *pasdk.LoginStep) {
	h.mu.Lock()
	h.steps = append(h.steps, *step)
	h.mu.Unlock()
}
func (h *recHost) LoginState(state pasdk.LoginState, message string) {
	h.mu.Lock()
	h.states = append(h.states, state)
	h.stateMsgs = append(h.stateMsgs, message)
	h.mu.Unlock()
}
func (h *recHost) OpResult(op uint64, r *pasdk.OpResult) {
	h.mu.Lock()
	h.results[op] = r
	h.mu.Unlock()
}
func (h *recHost) OpContact(op uint64, m *pasdk.Member) {}
func (h *recHost) Notice(text string) {
	h.mu.Lock()
	h.notices = append(h.notices, text)
	h.mu.Unlock()
}
func (h *recHost) MetaSet(scope pasdk.MetaScope, id, value string) {
	h.mu.Lock()
	h.meta[id] = value
	h.mu.Unlock()
}
func (h *recHost) MetaGet(scope pasdk.MetaScope, id string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.meta[id]
	return v, ok
}
func (h *recHost) ConfigString(key string) (string, bool) { return "", false }
func (h *recHost) ConfigInt(key string) int64 {
	switch key {
	case cfgHistoryConversations:
		return 20
	case cfgHistoryDays:
		return 0
	}
	return 0
}
func (h *recHost) ConfigBool(key string) bool                { return false }
func (h *recHost) SecretStore(name string, data []byte) bool { return false }
func (h *recHost) SecretLoad(name string) ([]byte, bool)     { return nil, false }
func (h *recHost) Invoke(fn func())                          { go fn() }

func (h *recHost) snapshot() ([]pasdk.Event, []pasdk.LoginStep, []pasdk.LoginState, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]pasdk.Event(nil), h.events...), append([]pasdk.LoginStep(nil), h.steps...),
		append([]pasdk.LoginState(nil), h.states...), append([]string(nil), h.notices...)
}

// fakeTP is a transport that records sends and serves canned answers.
type fakeTP struct {
	mu        sync.Mutex
	connected bool
	qr        chan whatsmeow.QRChannelItem
	sent      []*waE2E.Message
	groups    map[types.JID]*types.GroupInfo
	sendErr   error
}

func (f *fakeTP) Connect() error { f.mu.Lock(); f.connected = true; f.mu.Unlock(); return nil }
func (f *fakeTP) Disconnect()    { f.mu.Lock(); f.connected = false; f.mu.Unlock() }
func (f *fakeTP) IsConnected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected
}
func (f *fakeTP) Close() {}
func (f *fakeTP) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return f.qr, nil
}
func (f *fakeTP) PairPhone(ctx context.Context, phone, name string) (string, error) {
	return "ABCD1234", nil
}
func (f *fakeTP) Logout(ctx context.Context) error { return nil }
func (f *fakeTP) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return whatsmeow.SendResponse{}, f.sendErr
	}
	f.sent = append(f.sent, msg)
	return whatsmeow.SendResponse{ID: id, Timestamp: time.Now()}, nil
}
func (f *fakeTP) SendPeerMessage(ctx context.Context, msg *waE2E.Message) (whatsmeow.SendResponse, error) {
	return f.SendMessage(ctx, types.EmptyJID, msg, "peer")
}
func (f *fakeTP) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	return whatsmeow.UploadResponse{DirectPath: "/x"}, nil
}
func (f *fakeTP) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	return nil, whatsmeow.ErrMediaDownloadFailedWith404
}
func (f *fakeTP) SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, key []byte) error {
	return nil
}
func (f *fakeTP) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	return nil
}
func (f *fakeTP) SendChatPresence(ctx context.Context, chat types.JID, s types.ChatPresence, m types.ChatPresenceMedia) error {
	return nil
}
func (f *fakeTP) SendPresence(ctx context.Context, s types.Presence) error { return nil }
func (f *fakeTP) GetGroupInfo(ctx context.Context, j types.JID) (*types.GroupInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gi, ok := f.groups[j]; ok {
		cp := *gi
		return &cp, nil
	}
	return nil, whatsmeow.ErrGroupNotFound
}
func (f *fakeTP) SetGroupName(ctx context.Context, j types.JID, n string) error  { return nil }
func (f *fakeTP) SetGroupTopic(ctx context.Context, j types.JID, t string) error { return nil }
func (f *fakeTP) SetGroupPhoto(ctx context.Context, j types.JID, b []byte) error { return nil }
func (f *fakeTP) SetDisappearingTimer(ctx context.Context, c types.JID, d time.Duration) error {
	return nil
}
func (f *fakeTP) UpdateGroupParticipants(ctx context.Context, j types.JID, u []types.JID, a whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	return nil, nil
}
func (f *fakeTP) IsOnWhatsApp(ctx context.Context, p []string) ([]types.IsOnWhatsAppResponse, error) {
	return nil, nil
}
func (f *fakeTP) GetUserInfo(ctx context.Context, j []types.JID) (map[types.JID]types.UserInfo, error) {
	return nil, nil
}
func (f *fakeTP) ProfilePicture(ctx context.Context, j types.JID) ([]byte, string, error) {
	return nil, "", nil
}

// newTestLogin makes a login over a temp session store, paired when own is set.
func newTestLogin(t *testing.T, own string) (*Login, *recHost, *fakeTP) {
	t.Helper()
	h := newRecHost(t)
	pl, err := newLogin(h, false)
	if err != nil {
		t.Fatal(err)
	}
	l := pl.(*Login)
	tp := &fakeTP{qr: make(chan whatsmeow.QRChannelItem, 8), groups: map[types.JID]*types.GroupInfo{}}
	l.tp.Close()
	l.tp = tp
	h.mu.Lock()
	h.login = l
	h.mu.Unlock()
	if own != "" {
		id, _ := types.ParseJID(own)
		l.cli.Store.ID = &id
		l.cli.Store.Account = &waAdv.ADVSignedDeviceIdentity{Details: []byte{0}, AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64)}
		if err := l.cli.Store.Save(context.Background()); err != nil {
			t.Fatal(err)
		}
		tp.connected = true
	}
	t.Cleanup(l.Free)
	return l, h, tp
}

func dispatch(l *Login, evt any) bool {
	//lint:ignore SA1019 tests feed whatsmeow's own dispatcher
	return l.cli.DangerousInternals().DispatchEvent(evt)
}

// The handler does not return (so whatsmeow does not ack) until the host
// said it stored the event.
func TestHandlerWaitsForPersistence(t *testing.T) {
	l, h, _ := newTestLogin(t, "33600000001@s.whatsapp.net")
	h.autoPersist = false
	chat, _ := types.ParseJID("33611111111@s.whatsapp.net")
	done := make(chan bool)
	go func() {
		done <- dispatch(l, &events.Receipt{MessageSource: types.MessageSource{Chat: chat, Sender: chat},
			MessageIDs: []string{"M1"}, Type: types.ReceiptTypeRead, Timestamp: time.Now()})
	}()
	var seq uint64
	select {
	case seq = <-h.emitted:
	case <-time.After(5 * time.Second):
		t.Fatal("no event emitted")
	}
	select {
	case <-done:
		t.Fatal("the handler returned before the event was persisted")
	case <-time.After(200 * time.Millisecond):
	}
	l.EventPersisted(seq)
	if failed := <-done; failed {
		t.Fatal("handler reported failure")
	}
	evs, _, _, _ := h.snapshot()
	if evs[0].Type != pasdk.EvReadReceipt || evs[0].MessageID != "M1" || evs[0].ChatID != "33611111111@s.whatsapp.net" {
		t.Fatalf("unexpected event %+v", evs[0])
	}
}

// A host that never persists: the wait is bounded and the handler fails,
// so whatsmeow does not ack and WhatsApp delivers again.
func TestHandlerFailsWhenNotPersisted(t *testing.T) {
	old := persistWait
	persistWait = 100 * time.Millisecond
	defer func() { persistWait = old }()
	l, h, _ := newTestLogin(t, "33600000001@s.whatsapp.net")
	h.autoPersist = false
	chat, _ := types.ParseJID("33611111111@s.whatsapp.net")
	failed := dispatch(l, &events.Receipt{MessageSource: types.MessageSource{Chat: chat, Sender: chat},
		MessageIDs: []string{"M1"}, Type: types.ReceiptTypeDelivered, Timestamp: time.Now()})
	if !failed {
		t.Fatal("the handler must fail when the host never stores the event")
	}
}

func TestQRRotation(t *testing.T) {
	l, h, tp := newTestLogin(t, "")
	l.Start(flowQR)
	tp.qr <- whatsmeow.QRChannelItem{Event: "code", Code: "2@first,code", Timeout: 60 * time.Second}
	tp.qr <- whatsmeow.QRChannelItem{Event: "code", Code: "2@second,code", Timeout: 20 * time.Second}
	deadline := time.Now().Add(5 * time.Second)
	var steps []pasdk.LoginStep
	for time.Now().Before(deadline) {
		_, steps, _, _ = h.snapshot()
		if len(steps) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(steps) != 2 {
		t.Fatalf("%d steps shown", len(steps))
	}
	a, b := steps[0], steps[1]
	if a.StepID != b.StepID || a.Kind != pasdk.StepDisplayAndWait {
		t.Fatalf("rotation must keep the step id: %q %q", a.StepID, b.StepID)
	}
	if a.ImagePath == b.ImagePath {
		t.Fatal("a new code must get a new file")
	}
	if a.ExpiresS != 60 || b.ExpiresS != 20 || b.DisplayText != "2@second,code" {
		t.Fatalf("steps %+v %+v", a, b)
	}
	data, err := os.ReadFile(b.ImagePath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != 512 {
		t.Fatalf("the QR image is not a 512-pixel PNG: %v", err)
	}
	// The first image is deleted once the second is shown.
	if _, err := os.Stat(a.ImagePath); !os.IsNotExist(err) {
		t.Fatal("the previous QR image was kept")
	}
	tp.qr <- whatsmeow.QRChannelTimeout
	for time.Now().Before(deadline) {
		if _, _, _, n := h.snapshot(); len(n) > 0 {
			if !strings.Contains(n[0], "login whatsapp qr") {
				t.Fatalf("timeout notice does not say how to retry: %q", n[0])
			}
			if _, err := os.Stat(b.ImagePath); !os.IsNotExist(err) {
				t.Fatal("the last QR image was kept after the flow ended")
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no notice after the QR timeout")
}

// Connection events become login states; a dead session stops reconnecting.
func TestStates(t *testing.T) {
	cases := []struct {
		name  string
		evt   any
		state pasdk.LoginState
		words string
		dead  bool
	}{
		{"connected", &events.Connected{}, pasdk.StateConnected, "", false},
		{"disconnected", &events.Disconnected{}, pasdk.StateTransientDisconnect, "reconnecting", false},
		{"logged out", &events.LoggedOut{Reason: events.ConnectFailureLoggedOut}, pasdk.StateLoggedOut, "login whatsapp qr", true},
		{"phone inactive", &events.LoggedOut{Reason: events.ConnectFailureMainDeviceGone}, pasdk.StateLoggedOut, "14 days", true},
		{"replaced", &events.StreamReplaced{}, pasdk.StateUnknownError, "elsewhere", true},
		{"ban", &events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: 2 * time.Hour}, pasdk.StateUnknownError, "2h0m0s", true},
		{"outdated", &events.ClientOutdated{}, pasdk.StateUnknownError, "outdated", true},
		{"keepalive", &events.KeepAliveTimeout{ErrorCount: 2}, pasdk.StateTransientDisconnect, "2 keep-alives", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, h, _ := newTestLogin(t, "33600000001@s.whatsapp.net")
			dispatch(l, c.evt)
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.states) == 0 || h.states[len(h.states)-1] != c.state {
				t.Fatalf("states %v", h.states)
			}
			if !strings.Contains(h.stateMsgs[len(h.stateMsgs)-1], c.words) {
				t.Fatalf("message %q lacks %q", h.stateMsgs[len(h.stateMsgs)-1], c.words)
			}
			if l.isDead() != c.dead || (c.dead && l.cli.AutoReconnectHook(nil)) {
				t.Fatalf("dead=%v, want %v", l.isDead(), c.dead)
			}
		})
	}
}

// Group info: members LID first with the phone as identifier, super
// admins at 100 and admins at 50.
func TestGroupInfoPower(t *testing.T) {
	l, h, tp := newTestLogin(t, "33600000001@s.whatsapp.net")
	g, _ := types.ParseJID("120363000000000001@g.us")
	pn, _ := types.ParseJID("33622222222@s.whatsapp.net")
	lid, _ := types.ParseJID("4444@lid")
	gi := &types.GroupInfo{JID: g, Participants: []types.GroupParticipant{
		{JID: lid, LID: lid, PhoneNumber: pn, IsAdmin: true, IsSuperAdmin: true},
		{JID: types.NewJID("33633333333", types.DefaultUserServer), IsAdmin: true},
		{JID: types.NewJID("33600000001", types.DefaultUserServer)},
	}}
	gi.Name = "Équipe"
	tp.groups[g] = gi
	dispatch(l, &events.JoinedGroup{GroupInfo: *gi})
	evs, _, _, _ := h.snapshot()
	if len(evs) != 1 || evs[0].Type != pasdk.EvChatInfo {
		t.Fatalf("events %+v", evs)
	}
	ci := evs[0].Chat
	if ci.ID != "120363000000000001@g.us" || ci.Name != "Équipe" || ci.Kind != pasdk.ChatGroup || !ci.MembersComplete {
		t.Fatalf("chat %+v", ci)
	}
	want := []struct {
		id, ident string
		power     int32
	}{{"4444@lid", "+33622222222", 100}, {"33633333333@s.whatsapp.net", "+33633333333", 50}, {"33600000001@s.whatsapp.net", "+33600000001", 0}}
	for i, w := range want {
		m := ci.Members[i]
		if m.ID != w.id || m.Identifier != w.ident || m.Power != w.power {
			t.Fatalf("member %d: %+v, want %+v", i, m, w)
		}
	}
	// A phone-number JID of a known LID is the same contact afterwards.
	if got := l.userID(pn); got != "4444@lid" {
		t.Fatalf("PN of a known LID maps to %q", got)
	}
}

func TestEditWindow(t *testing.T) {
	l, h, tp := newTestLogin(t, "33600000001@s.whatsapp.net")
	chat, _ := types.ParseJID("33611111111@s.whatsapp.net")
	own, _ := types.ParseJID("33600000001@s.whatsapp.net")
	l.msgs.put(chat, "OLD", msgRow{Sender: own, FromMe: true, TS: time.Now().Add(-16 * time.Minute)})
	l.Edit(1, "33611111111@s.whatsapp.net", "OLD", &pasdk.Content{Kind: pasdk.MsgText, Text: "x"})
	l.wg.Wait()
	r := h.results[1]
	if r == nil || r.Code != pasdk.ResultPermanent || !strings.Contains(r.Error, "15 minutes") {
		t.Fatalf("result %+v", r)
	}
	if len(tp.sent) != 0 {
		t.Fatal("an edit past the window was sent")
	}
}

func TestSendResultCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		conn bool
		code pasdk.ResultCode
	}{
		{"offline", nil, false, pasdk.ResultNotConnected},
		{"timeout", whatsmeow.ErrMessageTimedOut, true, pasdk.ResultUncertain},
		{"rate", whatsmeow.ErrIQRateOverLimit, true, pasdk.ResultRateLimited},
		{"forbidden", whatsmeow.ErrIQForbidden, true, pasdk.ResultForbidden},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, h, tp := newTestLogin(t, "33600000001@s.whatsapp.net")
			tp.connected = c.conn
			tp.sendErr = c.err
			l.Redact(uint64(i+1), "33611111111@s.whatsapp.net", "M1")
			l.wg.Wait()
			if r := h.results[uint64(i+1)]; r == nil || r.Code != c.code {
				t.Fatalf("result %+v, want code %d", r, c.code)
			}
		})
	}
}

// Sends carry the real protobufs: a revoke names the original message.
func TestRevokeProtobuf(t *testing.T) {
	l, h, tp := newTestLogin(t, "33600000001@s.whatsapp.net")
	l.Redact(1, "33611111111@s.whatsapp.net", "M1")
	l.wg.Wait()
	if r := h.results[1]; r == nil || r.Code != pasdk.ResultOK {
		t.Fatalf("result %+v", r)
	}
	pm := tp.sent[0].GetProtocolMessage()
	if pm.GetType() != waE2E.ProtocolMessage_REVOKE || pm.GetKey().GetID() != "M1" || !pm.GetKey().GetFromMe() {
		t.Fatalf("revoke %v", tp.sent[0])
	}
}

func handleMsg(l *Login, info *types.MessageInfo, msg *waE2E.Message) bool {
	//lint:ignore SA1019 tests feed whatsmeow's own dispatcher
	return l.cli.DangerousInternals().HandleDecryptedMessage(context.Background(), info, msg, 0)
}

// A message from a phone-number sender whose LID is known lands under the
// LID: one contact, one id; its push name names the ghost.
func TestIncomingTextLIDFirst(t *testing.T) {
	l, h, tp := newTestLogin(t, "33600000001@s.whatsapp.net")
	pn, _ := types.ParseJID("33611111111@s.whatsapp.net")
	lid, _ := types.ParseJID("5555@lid")
	ts := time.Unix(1767225600, 0)
	info := &types.MessageInfo{MessageSource: types.MessageSource{Chat: pn, Sender: pn, SenderAlt: lid},
		ID: "3EB0AAA", Timestamp: ts, PushName: "Alice", Type: "text"}
	text := "hello"
	if failed := handleMsg(l, info, &waE2E.Message{Conversation: &text}); failed {
		t.Fatal("handler failed")
	}
	evs, _, _, _ := h.snapshot()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if ev.Type != pasdk.EvMessage || ev.ChatID != "5555@lid" || ev.SenderID != "5555@lid" ||
		ev.MessageID != "3EB0AAA" || ev.TimestampMS != ts.UnixMilli() || ev.Content == nil || ev.Content.Text != "hello" {
		t.Fatalf("event %+v", ev)
	}
	if ev.Chat == nil || ev.Chat.Kind != pasdk.ChatDM || ev.Contact == nil || ev.Contact.Name != "Alice" ||
		ev.Contact.Identifier != "+33611111111" {
		t.Fatalf("chat %+v contact %+v", ev.Chat, ev.Contact)
	}
	// A reply to it names the sender we recorded.
	l.Send(9, "5555@lid", &pasdk.Content{Kind: pasdk.MsgText, Text: "hi", ReplyTo: "3EB0AAA"}, "txn1")
	l.wg.Wait()
	if r := h.results[9]; r == nil || r.Code != pasdk.ResultOK || r.LegacyID == "" {
		t.Fatalf("send result %+v", r)
	}
	ctxInfo := tp.sent[0].GetExtendedTextMessage().GetContextInfo()
	if ctxInfo.GetStanzaID() != "3EB0AAA" || ctxInfo.GetParticipant() != "33611111111@s.whatsapp.net" {
		t.Fatalf("reply context %v", ctxInfo)
	}
}

// History sync: messages land oldest first with their own times, between
// CHAT_INFO and BACKFILL_END.
func TestHistoryOrder(t *testing.T) {
	l, h, _ := newTestLogin(t, "33600000001@s.whatsapp.net")
	chat := "33611111111@s.whatsapp.net"
	mk := func(id string, ts uint64, text string) *waHistorySync.HistorySyncMsg {
		return &waHistorySync.HistorySyncMsg{Message: &waWeb.WebMessageInfo{
			Key:              &waCommon.MessageKey{RemoteJID: &chat, ID: &id, FromMe: new(bool)},
			MessageTimestamp: &ts, Message: &waE2E.Message{Conversation: &text}}}
	}
	now := uint64(time.Now().Unix())
	typ := waHistorySync.HistorySync_INITIAL_BOOTSTRAP
	hs := &waHistorySync.HistorySync{SyncType: &typ, Conversations: []*waHistorySync.Conversation{{
		ID:       &chat,
		Messages: []*waHistorySync.HistorySyncMsg{mk("C", now-10, "third"), mk("A", now-300, "first"), mk("B", now-200, "second")},
	}}}
	if failed := dispatch(l, &events.HistorySync{Data: hs}); failed {
		t.Fatal("history handler failed")
	}
	evs, _, _, _ := h.snapshot()
	var got []string
	for _, e := range evs {
		switch e.Type {
		case pasdk.EvChatInfo:
			got = append(got, "info")
		case pasdk.EvMessage:
			got = append(got, e.MessageID+"@"+strconv.FormatInt(e.TimestampMS/1000, 10))
		case pasdk.EvBackfillEnd:
			got = append(got, "end")
		}
	}
	want := []string{"info", "A@" + strconv.FormatUint(now-300, 10), "B@" + strconv.FormatUint(now-200, 10),
		"C@" + strconv.FormatUint(now-10, 10), "end"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// An undecryptable message shows a placeholder under its id; the message
// WhatsApp sends again replaces it (an upsert under the same id).
func TestUndecryptablePlaceholderReplaced(t *testing.T) {
	l, h, _ := newTestLogin(t, "33600000001@s.whatsapp.net")
	bob, _ := types.ParseJID("111111@lid")
	info := types.MessageInfo{MessageSource: types.MessageSource{Chat: bob, Sender: bob},
		ID: "3EB0UND", Timestamp: time.Now(), Type: "text"}
	dispatch(l, &events.UndecryptableMessage{Info: info})
	text := "decrypted at last"
	if handleMsg(l, &info, &waE2E.Message{Conversation: &text}) {
		t.Fatal("handler failed")
	}
	evs, _, _, _ := h.snapshot()
	if len(evs) != 2 || evs[0].Type != pasdk.EvMessage || evs[0].MessageID != "3EB0UND" ||
		evs[1].Type != pasdk.EvMessageUpsert || evs[1].MessageID != "3EB0UND" || evs[1].Content.Text != text {
		t.Fatalf("events %+v", evs)
	}
}

func waitSteps(t *testing.T, h *recHost, n int) []pasdk.LoginStep {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, steps, _, _ := h.snapshot(); len(steps) >= n {
			return steps
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d login steps", n)
	return nil
}

// The pairing-code flow: a phone field, then the code as text; a passkey
// request tells the agent it cannot be done from Tchap.
func TestPhoneFlowAndPasskey(t *testing.T) {
	old := pairReadyWait
	pairReadyWait = 0
	defer func() { pairReadyWait = old }()
	l, h, _ := newTestLogin(t, "")
	l.Start(flowPhone)
	steps := waitSteps(t, h, 1)
	if steps[0].Kind != pasdk.StepUserInput || len(steps[0].Fields) != 1 || steps[0].Fields[0].Type != pasdk.FieldPhone {
		t.Fatalf("first step %+v", steps[0])
	}
	l.Submit(stepPhone, map[string]string{"phone": "12"})
	steps = waitSteps(t, h, 2)
	if steps[1].Kind != pasdk.StepUserInput {
		t.Fatalf("a bad number must be asked again: %+v", steps[1])
	}
	l.Submit(stepPhone, map[string]string{"phone": "+33 6 12 34 56 78"})
	steps = waitSteps(t, h, 3)
	if steps[2].Kind != pasdk.StepDisplayAndWait || steps[2].DisplayText != "ABCD-1234" ||
		!strings.Contains(steps[2].Instructions, "phone number") {
		t.Fatalf("code step %+v", steps[2])
	}
	dispatch(l, &events.PairPasskeyRequest{})
	steps = waitSteps(t, h, 4)
	if steps[3].StepID != stepPasskey || !strings.Contains(steps[3].Instructions, "cannot be done from Tchap") {
		t.Fatalf("passkey step %+v", steps[3])
	}
}
