// SPDX-License-Identifier: AGPL-3.0-or-later

// One WhatsApp login: the whatsmeow client over its SQLite session store in
// the login's data dir, and the lifecycle callbacks (Free, Connect,
// Disconnect, Logout).  Every callback returns at once; the work runs in
// goroutines that Free stops.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	waLog "go.mau.fi/whatsmeow/util/log"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// opTimeout bounds one network operation started for the agent.
const opTimeout = 60 * time.Second

type config struct {
	historyConversations int
	historyDays          int
	historyMaxBytes      int64
	statusBroadcast      bool
	deviceName           string
	debug                bool
}

func readConfig(h pasdk.Host) config {
	c := config{
		historyConversations: int(h.ConfigInt(cfgHistoryConversations)),
		historyDays:          int(h.ConfigInt(cfgHistoryDays)),
		historyMaxBytes:      h.ConfigInt(cfgHistoryMaxBytes),
		statusBroadcast:      h.ConfigBool(cfgStatusBroadcast),
		debug:                h.ConfigBool(cfgDebugLog),
	}
	c.deviceName, _ = h.ConfigString(cfgDeviceName)
	if c.deviceName == "" {
		c.deviceName = "Passerelle"
	}
	return c
}

// Login is one agent's WhatsApp account (struct PaLogin).
type Login struct {
	host pasdk.Host
	cfg  config
	log  waLog.Logger

	ctx     context.Context // cancelled by Free
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	spawnMu sync.RWMutex // Free waits for spawns in progress before wg.Wait

	container *sqlstore.Container
	cli       *whatsmeow.Client
	tp        transport
	msgs      *msgStore
	acks      *pasdk.Acks

	mu   sync.Mutex
	flow *loginFlow // the login flow running, or nil
	// dead: the session is gone (logged out, replaced, banned, outdated):
	// no reconnection until the agent logs in again or connects.
	dead      bool
	connected atomic.Bool
	// historyBytes counts media bytes written for history (config cap).
	historyBytes atomic.Int64
	// chatsSeen: chats whose CHAT_INFO was emitted in this run.
	chatsSeen sync.Map
	contacts  contactCache
	// sent maps the ids of messages sent for the host to their txn ids,
	// so their echo from another device is recognised.
	sent    sync.Map
	history historyChats
}

func newLogin(h pasdk.Host, saved bool) (pasdk.Login, error) {
	cfg := readConfig(h)
	store.SetOSInfo(cfg.deviceName, [3]uint32{1, 0, 0})
	dir := h.DataDir()
	l := &Login{host: h, cfg: cfg, log: newHostLogger(h, "whatsmeow", cfg.debug), acks: pasdk.NewAcks(earlyKeep)}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	dbPath := filepath.Join(dir, "whatsmeow.db")
	addr := "file:" + dbPath + "?_foreign_keys=on&_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL"
	var err error
	l.container, err = sqlstore.New(l.ctx, "sqlite3", addr, l.log.Sub("Store"))
	if err != nil {
		l.cancel()
		return nil, fmt.Errorf("cannot open the WhatsApp session store: %w", err)
	}
	l.msgs, err = openMsgStore(filepath.Join(dir, "messages.db"))
	if err != nil {
		l.container.Close()
		l.cancel()
		return nil, fmt.Errorf("cannot open the message table: %w", err)
	}
	l.msgs.canon = func(j types.JID) types.JID { return l.canonical(j) }
	device, err := l.container.GetFirstDevice(l.ctx)
	if err != nil {
		l.msgs.Close()
		l.container.Close()
		l.cancel()
		return nil, fmt.Errorf("cannot read the WhatsApp session: %w", err)
	}
	l.cli = whatsmeow.NewClient(device, l.log)
	l.cli.SynchronousAck = true
	l.cli.EnableAutoReconnect = true
	l.cli.AutomaticMessageRerequestFromPhone = true
	l.cli.AutoReconnectHook = func(error) bool { return !l.isDead() }
	l.cli.AddEventHandlerWithSuccessStatus(l.handleEvent)
	l.tp = newTransport(l)
	if saved {
		if device.ID == nil {
			h.LoginState(pasdk.StateBadCredentials,
				"The saved WhatsApp session is gone. Log in again with `login whatsapp qr` (or `login whatsapp phone`).")
		} else {
			l.goConnect()
		}
	}
	return l, nil
}

// goConnect connects the saved session in the background.
func (l *Login) goConnect() {
	l.host.LoginState(pasdk.StateConnecting, "")
	l.spawn(func() {
		if err := l.tp.Connect(); err != nil {
			l.host.LoginState(pasdk.StateTransientDisconnect, "Cannot reach WhatsApp: "+err.Error())
		}
	})
}

// spawn runs fn in a goroutine that Free waits for.
func (l *Login) spawn(fn func()) {
	l.spawnMu.RLock()
	defer l.spawnMu.RUnlock()
	if l.ctx.Err() != nil {
		return // freeing: no new work
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

func (l *Login) isDead() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dead
}

func (l *Login) setDead(dead bool) {
	l.mu.Lock()
	l.dead = dead
	l.mu.Unlock()
}

// ownID is the account's own id (LID first), "" before pairing.
func (l *Login) ownID() string {
	s := l.cli.Store
	if s.LID.User != "" {
		return waconv.UserID(s.LID)
	}
	if s.ID != nil {
		return waconv.UserID(*s.ID)
	}
	return ""
}

func (l *Login) isOwn(j types.JID) bool {
	s := l.cli.Store
	return (s.ID != nil && j.User == s.ID.User && j.Server == types.DefaultUserServer) ||
		(j.User == s.LID.User && j.Server == types.HiddenUserServer)
}

// Free stops everything of this login.
func (l *Login) Free() {
	l.cancelFlow()
	l.spawnMu.Lock()
	l.cancel()
	l.spawnMu.Unlock()
	l.acks.Close()
	l.cli.RemoveEventHandlers()
	l.tp.Disconnect()
	l.tp.Close()
	l.wg.Wait()
	l.msgs.Close()
	l.container.Close()
}

// Connect is the agent's explicit request to go online.
func (l *Login) Connect() {
	if l.cli.Store.ID == nil {
		l.host.LoginState(pasdk.StateBadCredentials, "This WhatsApp login has no session: log in with `login whatsapp qr`.")
		return
	}
	l.setDead(false)
	if l.tp.IsConnected() {
		l.host.LoginState(pasdk.StateConnected, "")
		return
	}
	l.goConnect()
}

// Disconnect goes offline but keeps the session.
func (l *Login) Disconnect() {
	l.setDead(true) // no auto-reconnect until Connect
	l.spawn(func() {
		l.tp.Disconnect()
		l.connected.Store(false)
		l.host.LoginState(pasdk.StateTransientDisconnect, "Disconnected from WhatsApp as asked; `connect` goes online again.")
	})
}

// Logout unlinks the device from the account and forgets the session.
func (l *Login) Logout(op uint64) {
	l.setDead(true)
	l.spawn(func() {
		ctx, cancel := context.WithTimeout(l.ctx, opTimeout)
		defer cancel()
		var err error
		if l.cli.Store.ID != nil && l.tp.IsConnected() {
			err = l.tp.Logout(ctx)
		}
		l.tp.Disconnect()
		if l.cli.Store.ID != nil {
			// Logout deletes the device itself when it succeeded; this
			// covers the offline case (the phone shows the device until
			// it is removed there).
			if derr := l.cli.Store.Delete(context.WithoutCancel(ctx)); derr != nil && err == nil {
				err = derr
			}
		}
		if err != nil {
			l.log.Warnf("logout: %v", err)
			l.host.OpResult(op, &pasdk.OpResult{Code: pasdk.ResultOK,
				Error: "Logged out here; WhatsApp could not be told, so remove \"" + l.cfg.deviceName + "\" from Linked devices on your phone."})
		} else {
			l.host.OpResult(op, &pasdk.OpResult{Code: pasdk.ResultOK})
		}
		l.host.LoginState(pasdk.StateLoggedOut, "Logged out of WhatsApp.")
	})
}

// EventPersisted: the host stored event seq (see ack.go).
func (l *Login) EventPersisted(seq uint64) { l.acks.Persisted(seq) }

// removeFile deletes a file of ours, ignoring its absence.
func removeFile(path string) {
	if path != "" {
		_ = os.Remove(path)
	}
}
