// SPDX-License-Identifier: AGPL-3.0-or-later

// One Olvid login: one identity hosted in the ministry's daemon, talked to
// with that identity's own client key.  This file holds what every part of
// the login shares: the configuration, the lifetime (a context Free
// cancels, the goroutines it waits for) and the host.  Every callback
// returns at once; the work runs in goroutines started with spawn.
package main

import (
	"context"
	"fmt"
	"sync"

	"passerelle/sdk/go/pasdk"
)

// config is plugins.olvid of config.yaml, read once per login.
type config struct {
	daemon          daemonConfig
	adminKey        string // "" when the config has none
	keycloakLink    string // "" when the ministry has no Olvid directory
	identityDisplay string // with {name}
	maxMediaBytes   int64
	catchupMessages int
}

func readConfig(h pasdk.Host) config {
	c := config{
		maxMediaBytes:   h.ConfigInt(cfgMaxMediaBytes),
		catchupMessages: int(h.ConfigInt(cfgCatchupMessages)),
	}
	c.daemon.address, _ = h.ConfigString(cfgDaemonAddress)
	c.daemon.tls = h.ConfigBool(cfgTLS)
	c.daemon.tlsCA, _ = h.ConfigString(cfgTLSCA)
	c.adminKey, _ = h.ConfigString(cfgAdminClientKey)
	c.keycloakLink, _ = h.ConfigString(cfgKeycloakLink)
	c.identityDisplay, _ = h.ConfigString(cfgIdentityDisplay)
	if c.identityDisplay == "" {
		c.identityDisplay = "{name} (Tchap)"
	}
	return c
}

// Login is one agent's Olvid identity (struct PaLogin).
//
// Extension points: each part of the login keeps its state in a struct of
// its own, declared in its own file and embedded here, one line per part
// (so parts written at the same time touch this struct by one line each):
//
//	login_flows*.go  flowState     (the login flow running)
//	session.go       sessionState  (the daemon connection, streams, backoff)
//	incoming*.go     incomingState
//	chats*.go        chatsState
//	msgstore.go      msgStoreState
//	outgoing*.go     outgoingState
//
// A part that must release something at Free registers it with onFree
// (from newLogin's part hooks, see newLoginHooks) rather than editing Free.
type Login struct {
	host pasdk.Host
	cfg  config

	ctx     context.Context // cancelled by Free
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	spawnMu sync.RWMutex // Free waits for spawns in progress before wg.Wait

	mu       sync.Mutex
	freeFns  []func() // onFree, run in reverse order after cancel, before wg.Wait
	freeDone bool

	// Parts embed their state structs below this line.
	flowState
	sessionState
	msgStoreState
	outgoingState
}

// newLoginHooks run, in order, at the end of newLogin: a part sets itself
// up there (from an init() in its own file: newLoginHooks = append(...)).
// An error stops the login's creation; the hooks that ran are undone by
// their onFree functions.
var newLoginHooks []func(l *Login, saved bool) error

func newLogin(h pasdk.Host, saved bool) (pasdk.Login, error) {
	l := &Login{host: h, cfg: readConfig(h)}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	if l.cfg.daemon.address == "" {
		l.cancel()
		return nil, fmt.Errorf("plugins.olvid.%s is not set: the Olvid daemon's address is needed", cfgDaemonAddress)
	}
	for _, hook := range newLoginHooks {
		if err := hook(l, saved); err != nil {
			l.Free()
			return nil, err
		}
	}
	return l, nil
}

// spawn runs fn in a goroutine that Free waits for; nothing starts once
// Free began.  fn watches l.ctx to stop.
func (l *Login) spawn(fn func()) {
	l.spawnMu.RLock()
	defer l.spawnMu.RUnlock()
	if l.ctx.Err() != nil {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

// onFree registers fn to run at Free, after the login's context is
// cancelled and before Free waits for the goroutines (close connections
// there so blocked calls return).  Registered functions run last first.
func (l *Login) onFree(fn func()) {
	l.mu.Lock()
	if l.freeDone {
		l.mu.Unlock()
		fn() // Free already ran them: this one runs now
		return
	}
	l.freeFns = append(l.freeFns, fn)
	l.mu.Unlock()
}

// logf writes one line to the worker's log.
func (l *Login) logf(level pasdk.LogLevel, format string, args ...any) {
	l.host.Log(level, fmt.Sprintf(format, args...))
}

// dial connects to the daemon with a client key (the identity's, or the
// admin key for the login flows that need it); daemon.go, dialDaemon.
func (l *Login) dial(ctx context.Context, clientKey string) (*Daemon, error) {
	return dialDaemon(ctx, l.cfg.daemon, clientKey)
}

// Free stops the login: cancels its context, runs the onFree functions,
// waits for its goroutines.
func (l *Login) Free() {
	l.spawnMu.Lock()
	l.cancel()
	l.spawnMu.Unlock()
	l.mu.Lock()
	fns := l.freeFns
	l.freeFns = nil
	l.freeDone = true
	l.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
	l.wg.Wait()
}
