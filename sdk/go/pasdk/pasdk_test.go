// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of the binding through its C ABI: the descriptor, the PaLoginOps
// table against the login's method set, the Event conversion (Go → the
// PaEvent the host receives → Go), panics answered PERMANENT, Invoke.

package pasdk

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// sendLogin implements Send and Connector only.
type sendLogin struct {
	h    Host
	sent []string
}

func (l *sendLogin) Free()       {}
func (l *sendLogin) Connect()    {}
func (l *sendLogin) Disconnect() {}
func (l *sendLogin) Send(op uint64, chatID string, c *Content, txnID string) {
	if c.Text == "panic" {
		panic("boom in Send")
	}
	l.sent = append(l.sent, chatID+":"+c.Text+":"+txnID)
	l.h.OpResult(op, &OpResult{Code: ResultOK, LegacyID: "m1"})
}

// fullLogin implements every optional interface.
type fullLogin struct{ sendLogin }

func (fullLogin) Start(string)                                   {}
func (fullLogin) Submit(string, map[string]string)               {}
func (fullLogin) Cancel()                                        {}
func (fullLogin) Logout(uint64)                                  {}
func (fullLogin) EventPersisted(uint64)                          {}
func (fullLogin) Edit(uint64, string, string, *Content)          {}
func (fullLogin) Redact(uint64, string, string)                  {}
func (fullLogin) React(uint64, string, string, string, bool)     {}
func (fullLogin) MarkRead(uint64, string, string)                {}
func (fullLogin) Typing(uint64, string, bool)                    {}
func (fullLogin) SetChatInfo(uint64, string, ChatField, *string) {}
func (fullLogin) SetMembership(uint64, string, string, bool)     {}
func (fullLogin) ResolveIdentifier(uint64, string, ResolveMode)  {}
func (fullLogin) ListContacts(uint64)                            {}
func (fullLogin) CreateDM(uint64, string)                        {}
func (fullLogin) CreateGroup(uint64, string, []string)           {}
func (fullLogin) GetChatInfo(uint64, string)                     {}
func (fullLogin) GetUserInfo(uint64, string)                     {}
func (fullLogin) FetchHistory(uint64, string, string, uint32, bool) {
}

// The bits of pasdk-shim.h.
const (
	opFlows = 1 << iota
	opConnect
	opLogout
	opPersisted
	opSend
	opEdit
	opRedact
	opReact
	opMarkRead
	opTyping
	opSetChatInfo
	opMembership
	opResolve
	opListContacts
	opCreateDM
	opCreateGroup
	opChatInfo
	opUserInfo
	opFetchHistory
	opAll = opFetchHistory<<1 - 1
)

func TestDescriptor(t *testing.T) {
	n := &Network{Name: "demo", DisplayName: "Demo", Capabilities: CapImport}
	Register(n)
	// Filled after Register, as another init() would.
	n.Version = "1.2.3"
	n.Capabilities |= CapLogin
	n.ConfigKeys = []ConfigKey{{Key: "token", Type: ConfigString, Default: "", HasDefault: true}, {Key: "n", Type: ConfigInt}}
	n.LoginFlows = []LoginFlow{{ID: "qr", Name: "QR code"}}
	n.LoginsPerWorker = 4
	n.NormalizeID = func(kind IDKind, id string) (string, bool) {
		if id == "" || strings.ContainsRune(id, ' ') {
			return "", false
		}
		return strings.ToLower(id), true
	}
	net := testNet(n)
	i := testNetInfo(net)
	if i.name != "demo" || i.version != "1.2.3" || i.caps != CapImport|CapLogin || i.abiMajor != 2 || i.abiMinor != 3 ||
		i.loginsPerWorker != 4 {
		t.Fatalf("descriptor %+v", i)
	}
	if !reflect.DeepEqual(i.configKeys, []string{"token", "n"}) || !reflect.DeepEqual(i.flows, []string{"qr"}) {
		t.Fatalf("keys %v flows %v", i.configKeys, i.flows)
	}
	if i.defaultOfFirstConfigKey == nil || *i.defaultOfFirstConfigKey != "" {
		t.Fatalf("an empty default with HasDefault must be \"\", not NULL")
	}
	if i.hasLoginNew || i.hasImport || !i.hasNormalize || !i.hasInit {
		t.Fatalf("functions %+v", i)
	}
	if s, ok := testNormalize(net, "Bob"); !ok || s != "bob" {
		t.Fatalf("normalize: %q %v", s, ok)
	}
	if _, ok := testNormalize(net, "a b"); ok {
		t.Fatalf("normalize accepted an invalid id")
	}
	// The descriptor is built once.
	if !sameNet(net) {
		t.Fatal("descriptor rebuilt")
	}
}

func TestOpsTable(t *testing.T) {
	for _, c := range []struct {
		ops  Login
		want uint32
	}{
		{nil, 0},
		{(*sendLogin)(nil), opSend | opConnect},
		{(*fullLogin)(nil), opAll},
	} {
		newLogin := func(h Host, saved bool) (Login, error) { return &sendLogin{h: h}, nil }
		net := testNet(&Network{Name: "ops", NewLogin: newLogin, Ops: c.ops})
		if got := testOpsMask(net); got != c.want {
			t.Errorf("%T: ops %#x, want %#x", c.ops, got, c.want)
		}
	}
	// No NewLogin: no login_ops at all.
	net := testNet(&Network{Name: "imp", Ops: (*fullLogin)(nil)})
	if testNetInfo(net).hasLoginNew || testOpsMask(net) != 0 {
		t.Error("an import-only network has login ops")
	}
}

func fullEvent() *Event {
	return &Event{
		Type: EvMessage, ChatID: "chat-1", SenderID: "u1", TimestampMS: -12345, StreamOrder: 99,
		MessageID: "m1", TargetID: "m0", TxnID: "txn", FromMe: true,
		Content: &Content{Kind: MsgImage, Text: "caption", HTML: "<b>caption</b>", MediaPath: "/d/a.png",
			MediaName: "a.png", Mimetype: "image/png", MediaSize: 1 << 40, Width: 3, Height: 2,
			DurationMS: 7, Latitude: 48.85, Longitude: -2.35, ReplyTo: "m-1", ForwardedFrom: "Ana",
			Flags: ContentEdited | ContentSystem},
		ReactionKey: "👍", ReactionKeys: []string{"👍", "❤️", "x"},
		Chat: &ChatInfo{ID: "chat-1", Kind: ChatGroup, Name: "Group", Topic: "Topic", AvatarPath: "/d/g.png",
			Members: []Member{{ID: "u1", Name: "Ana", AvatarPath: "/d/u1.png", Identifier: "+33", Power: 100},
				{ID: "u2", Power: -1}},
			MembersComplete: true,
			Features:        &ChatFeatures{Capabilities: CapEdits | CapMedia, MaxMediaSize: 5, MaxEditAgeS: 6, MaxTextLength: 7},
			DisappearingS:   86400, ReadOnly: true, Secret: true},
		Contact: &Member{ID: "u1", Name: "Ana", AvatarPath: "/d/u1.png", Identifier: "+33", Power: 50},
		Typing:  true, TypingTimeoutMS: 3000, Presence: PresenceUnavailable, StatusText: "away",
	}
}

func TestEventRoundTrip(t *testing.T) {
	net := testNet(&Network{Name: "ev"})
	if err := testInit(net); err != nil {
		t.Fatal(err)
	}
	defer testShutdown(net)
	h := theHost
	in := []*Event{
		fullEvent(),
		{Type: EvChatInfo, ChatID: "c", Chat: &ChatInfo{ID: "c", Members: []Member{}}},
		{Type: EvChatInfo, ChatID: "c", Chat: &ChatInfo{ID: "c"}}, // members unchanged
		{Type: EvPresence, SenderID: "u", Presence: PresenceOnline},
	}
	for i, e := range in {
		if seq := h.Emit(e); seq != uint64(i+1) {
			t.Fatalf("emit %d: seq %d", i, seq)
		}
	}
	out := testEvents()
	if len(out) != len(in) {
		t.Fatalf("%d events", len(out))
	}
	for i := range in {
		if !reflect.DeepEqual(in[i], out[i]) {
			t.Errorf("event %d:\n in %+v\nout %+v", i, in[i], out[i])
		}
	}
	if out[1].Chat.Members == nil || out[2].Chat.Members != nil {
		t.Error("an empty member list must stay distinct from an unchanged one")
	}
	// MetaGet frees the host's buffer and copies it.
	h.MetaSet(MetaLogin, "", "v1")
	if v, ok := h.MetaGet(MetaLogin, ""); !ok || v != "v1" {
		t.Fatalf("meta %q %v", v, ok)
	}
	// A host without secret_store: refused, not crashed.
	if h.SecretStore("s", []byte("x")) {
		t.Error("secret store without the member")
	}
}

func TestSendAndPanic(t *testing.T) {
	var logins []*sendLogin
	var mu sync.Mutex
	net := testNet(&Network{Name: "send", Ops: (*sendLogin)(nil),
		NewLogin: func(h Host, saved bool) (Login, error) {
			mu.Lock()
			defer mu.Unlock()
			l := &sendLogin{h: h}
			logins = append(logins, l)
			return l, nil
		}})
	if err := testInit(net); err != nil {
		t.Fatal(err)
	}
	defer testShutdown(net)
	l, err := testLoginNew(net)
	if err != nil {
		t.Fatal(err)
	}
	testSend(net, l, 7, "chat", "hello")
	if testOpCode(7) != int(ResultOK) || !reflect.DeepEqual(logins[0].sent, []string{"chat:hello:txn"}) {
		t.Fatalf("send: code %d, sent %v", testOpCode(7), logins[0].sent)
	}
	testSend(net, l, 8, "chat", "panic")
	if testOpCode(8) != int(ResultPermanent) {
		t.Fatalf("a panicking send answered %d", testOpCode(8))
	}
	logs := strings.Join(testLogs(), "\n")
	if !strings.Contains(logs, "panic in Send: boom in Send") || !strings.Contains(logs, "goroutine") {
		t.Fatalf("the panic was not logged with its stack: %q", logs)
	}
	testLoginFree(net, l)
}

func TestLoginNewErrors(t *testing.T) {
	net := testNet(&Network{Name: "e", Ops: (*sendLogin)(nil),
		NewLogin: func(h Host, saved bool) (Login, error) { return nil, errors.New("no phone") }})
	if err := testInit(net); err != nil {
		t.Fatal(err)
	}
	if _, err := testLoginNew(net); err == nil || err.Error() != "no phone" {
		t.Fatalf("error %v", err)
	}
	testShutdown(net)
	net = testNet(&Network{Name: "p", Ops: (*sendLogin)(nil),
		NewLogin: func(h Host, saved bool) (Login, error) { panic("bad") }})
	if err := testInit(net); err != nil {
		t.Fatal(err)
	}
	if _, err := testLoginNew(net); err == nil || !strings.Contains(err.Error(), "a bug") {
		t.Fatalf("error %v", err)
	}
	testShutdown(net)
	net = testNet(&Network{Name: "i", Init: func(h Host) error { return errors.New("missing key") }})
	if err := testInit(net); err == nil || err.Error() != "missing key" {
		t.Fatalf("init error %v", err)
	}
}

func TestInvoke(t *testing.T) {
	net := testNet(&Network{Name: "inv"})
	if err := testInit(net); err != nil {
		t.Fatal(err)
	}
	defer testShutdown(net)
	var got []int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			theHost.Invoke(func() { got = append(got, i) })
		}
		theHost.Invoke(func() { panic("in invoke") })
	}()
	wg.Wait()
	if n := testRunInvokes(); n != 6 {
		t.Fatalf("%d invokes", n)
	}
	if !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("order %v", got)
	}
	if !strings.Contains(strings.Join(testLogs(), "\n"), "panic in invoked function: in invoke") {
		t.Fatal("invoke panic not logged")
	}
}

func TestLoginStepAndContact(t *testing.T) {
	net := testNet(&Network{Name: "st"})
	if err := testInit(net); err != nil {
		t.Fatal(err)
	}
	defer testShutdown(net)
	h := theHost
	h.LoginStep(&LoginStep{Kind: StepUserInput, StepID: "form", Instructions: "Fill in",
		Fields: []Field{
			{ID: "phone", Label: "Phone", Type: FieldPhone, Default: "+33"},
			{ID: "how", Label: "How", Type: FieldChoice, Optional: true, Choices: []string{"sms", "call"}},
		}})
	h.LoginStep(&LoginStep{Kind: StepDisplayAndWait, StepID: "qr", DisplayText: "2@abc",
		ImagePath: "/d/qr-1.png", ExpiresS: 20})
	h.LoginStep(&LoginStep{Kind: StepComplete, RemoteID: "336", RemoteName: "Ana"})
	h.LoginState(StateTransientDisconnect, "retrying")
	h.OpContact(9, &Member{ID: "u1", Name: "Ana", Identifier: "+336", Power: 100})
	want := []string{
		"step 0 form Fill in [phone:Phone:5:+33:0: how:How:4:(null):1:sms/call/ ] (null) (null) (null) (null) 0",
		"step 1 qr (null) [] 2@abc /d/qr-1.png (null) (null) 20",
		"step 2 (null) (null) [] (null) (null) 336 Ana 0",
		"state 2 retrying",
		"contact 9 u1 Ana (null) +336 100",
	}
	if got := testRecords(); !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n%q\nwant\n%q", got, want)
	}
}
