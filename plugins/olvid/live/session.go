// SPDX-License-Identifier: AGPL-3.0-or-later

// The login's connection to the daemon with its identity's client key:
// connect (dial and stand-in gate, the identity, CONNECTED, chats,
// catch-up, streams, catch-up again), the login states the agent sees,
// and the reconnection with backoff while the daemon is unreachable.
//
// One goroutine (run) owns the connection.  It stops for good on a
// refusal that retrying cannot fix (a key the daemon refuses, the
// stand-in gate, a configuration error) and says why once; it retries an
// unreachable daemon forever, telling the agent once per outage.
package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// secretClientKey names the login secret holding the identity's client key.
const secretClientKey = "client_key"

// Backoff between two connection attempts while the daemon is unreachable.
const (
	backoffFirst = time.Second
	backoffMax   = 60 * time.Second
)

// quickRetryEvery: at most one immediate reconnection in this time.
const quickRetryEvery = 30 * time.Second

// callTimeout bounds one unary call of the connect sequence.
const callTimeout = 30 * time.Second

// Sentences of the connection's states.
const (
	textUnreachable = "The Olvid server of your ministry is unreachable; retrying…"
	textDisconnect  = "Disconnected from Olvid as asked; `connect olvid` goes online again."
	textKeyRefused  = "The Olvid server of your ministry refused this login's client key " +
		"(it was deleted, or its identity was removed there). Log in again with `login olvid`."
	textNoKey = "This Olvid login has no client key saved. Log in again with `login olvid`."
)

// sessionState is session.go's part of Login.
type sessionState struct {
	sess session
}

type session struct {
	mu         sync.Mutex
	key        string // the identity's client key; "" before a flow ends
	identityID uint64
	userID     string // own user id (ids.go)
	name       string
	d          *Daemon            // the connection while online, else nil
	up         bool               // the agent wants to be online
	stop       context.CancelFunc // ends the running connection loop
	done       chan struct{}      // closed when that loop returned
}

// online is true while connected to the daemon.
func (l *Login) online() bool { return l.daemonClient() != nil }

// daemonClient is the connection with the identity's key; nil offline.
func (l *Login) daemonClient() *Daemon {
	l.sess.mu.Lock()
	defer l.sess.mu.Unlock()
	return l.sess.d
}

func init() {
	newLoginHooks = append(newLoginHooks, func(l *Login, saved bool) error {
		l.onFree(func() { l.stopSession() })
		if !saved {
			return nil
		}
		key, ok := l.host.SecretLoad(secretClientKey)
		if !ok || len(key) == 0 {
			l.host.LoginState(pasdk.StateBadCredentials, textNoKey)
			return nil
		}
		l.startSession(string(key), false)
		return nil
	})
}

// startSession keeps the login connected with key from now on; quiet
// after a login flow (the host counts the login connected from its last
// step: no "connecting" in between).
func (l *Login) startSession(key string, quiet bool) {
	l.sess.mu.Lock()
	l.sess.key = key
	l.sess.up = true
	l.sess.mu.Unlock()
	l.runSession(quiet)
}

// runSession starts the connection loop unless it runs already.
func (l *Login) runSession(quiet bool) {
	l.sess.mu.Lock()
	defer l.sess.mu.Unlock()
	if l.sess.stop != nil || l.sess.key == "" || !l.sess.up {
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	done := make(chan struct{})
	l.sess.stop, l.sess.done = cancel, done
	if !quiet {
		l.host.LoginState(pasdk.StateConnecting, "")
	}
	l.spawn(func() {
		defer close(done)
		l.run(ctx)
		l.sess.mu.Lock()
		if l.sess.done == done {
			l.sess.stop, l.sess.done = nil, nil
		}
		l.sess.mu.Unlock()
		cancel()
	})
}

// stopSession ends the connection loop and waits for it.
func (l *Login) stopSession() {
	l.sess.mu.Lock()
	stop, done := l.sess.stop, l.sess.done
	l.sess.stop, l.sess.done = nil, nil
	l.sess.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// run connects, and reconnects with backoff while the daemon is
// unreachable, until ctx ends or the daemon refuses for good.
func (l *Login) run(ctx context.Context) {
	backoff := backoffFirst
	told := false
	var lastQuick time.Time
	for {
		connected, err := l.connectOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if connected {
			told = false
			backoff = backoffFirst
		}
		state, text := sessionFailure(err)
		if state != pasdk.StateTransientDisconnect {
			l.logf(pasdk.LogWarning, "connection stopped: %v", err)
			l.host.LoginState(state, text)
			return
		}
		if connected && time.Since(lastQuick) > quickRetryEvery {
			// A connection that was up is tried again at once, silently: a
			// stream reset is not an outage to tell the agent about.
			lastQuick = time.Now()
			l.logf(pasdk.LogInfo, "connection lost, reconnecting: %v", err)
			continue
		}
		l.logf(pasdk.LogInfo, "daemon unreachable, next try in about %s: %v", backoff, err)
		if !told {
			l.host.LoginState(pasdk.StateTransientDisconnect, textUnreachable)
			told = true
		}
		// Full jitter on the upper half: logins of one bridge do not all
		// knock at a restarted daemon at once.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// sessionFailure is the state and sentence for the end of a connection.
func sessionFailure(err error) (pasdk.LoginState, string) {
	if errors.Is(err, errStandin) {
		return pasdk.StateUnknownError, errStandin.Error()
	}
	switch statusToState(err) {
	case pasdk.StateBadCredentials:
		return pasdk.StateBadCredentials, textKeyRefused
	case pasdk.StateTransientDisconnect, pasdk.StateConnected:
		return pasdk.StateTransientDisconnect, textUnreachable
	}
	if codeOf(err) == codes.FailedPrecondition {
		// not a daemon status: the configuration (TLS CA, address)
		return pasdk.StateUnknownError, "The Olvid connection cannot start: " + err.Error()
	}
	return pasdk.StateUnknownError, errorText(err)
}

// connectOnce runs one connection until it is lost: connected says
// whether it reached CONNECTED (the backoff starts again then).
func (l *Login) connectOnce(ctx context.Context) (connected bool, err error) {
	l.sess.mu.Lock()
	key := l.sess.key
	l.sess.mu.Unlock()
	d, err := l.dial(ctx, key)
	if err != nil {
		return false, err
	}
	defer d.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	if err := l.readIdentity(cctx, d); err != nil {
		return false, err
	}
	l.sess.mu.Lock()
	l.sess.d = d
	l.sess.mu.Unlock()
	defer func() {
		l.sess.mu.Lock()
		l.sess.d = nil
		l.sess.mu.Unlock()
	}()
	l.logf(pasdk.LogInfo, "connected to the Olvid daemon %s as identity %d", d.Version, l.sess.identityID)
	l.host.LoginState(pasdk.StateConnected, "")

	lost := make(chan error, 1)
	steps := []func() error{
		func() error { return l.syncChats(cctx) },
		func() error { return l.catchUp(cctx) },
		func() error {
			return l.openStreams(cctx, func(err error) {
				select {
				case lost <- err:
				default:
				}
			})
		},
		func() error { return l.catchUp(cctx) }, // what came between the first catch-up and the streams
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return true, err
		}
	}
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case err := <-lost:
		if _, ok := status.FromError(err); err == nil || !ok {
			// ended without a status (the daemon closed it): reconnect
			err = status.Errorf(codes.Unavailable, "a notification stream ended: %v", err)
		}
		return true, err
	}
}

// readIdentity asks the daemon who the key is (IdentityGet and its bytes
// identifier) and remembers it.
func (l *Login) readIdentity(ctx context.Context, d *Daemon) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := d.Identity.IdentityGet(ctx, &daemonpb.IdentityGetRequest{})
	if err != nil {
		return err
	}
	b, err := d.Identity.IdentityGetBytesIdentifier(ctx, &daemonpb.IdentityGetBytesIdentifierRequest{})
	if err != nil {
		return err
	}
	l.sess.mu.Lock()
	l.sess.identityID = r.GetIdentity().GetId()
	l.sess.userID = userID(b.GetIdentifier())
	l.sess.name = r.GetIdentity().GetDisplayName()
	l.sess.mu.Unlock()
	return nil
}

// Connect is the agent's request to go online (`connect olvid`).
func (l *Login) Connect() {
	l.sess.mu.Lock()
	hasKey := l.sess.key != ""
	l.sess.up = true
	online := l.sess.d != nil
	l.sess.mu.Unlock()
	switch {
	case !hasKey:
		l.host.LoginState(pasdk.StateBadCredentials, textNoKey)
	case online:
		l.host.LoginState(pasdk.StateConnected, "")
	default:
		l.runSession(false)
	}
}

// Disconnect goes offline and stays so until Connect; the key is kept.
func (l *Login) Disconnect() {
	l.sess.mu.Lock()
	l.sess.up = false
	l.sess.mu.Unlock()
	l.spawn(func() {
		l.stopSession()
		l.host.LoginState(pasdk.StateTransientDisconnect, textDisconnect)
	})
}
