// SPDX-License-Identifier: AGPL-3.0-or-later

// The login flows of the management room (`login olvid <flow>`): one flow
// at a time, its steps and answers, and how every flow ends: a client key
// scoped to the identity, stored as the login's secret (never in meta or
// in the log), the step "complete" with the identity's user id and name,
// then the session.  The flows themselves are in login_*.go.
package main

import (
	"context"
	"errors"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// Step ids.
const (
	stepName          = "name"
	stepRestoreWarn   = "restore-warning"
	stepRestoreBackup = "restore-backup"
	stepClientKey     = "client-key"
	stepInvitation    = "invitation-link"
	stepDone          = "logged-in"
)

// flowState is login_flows*.go's part of Login.
type flowState struct {
	flows flows
}

type flows struct {
	mu  sync.Mutex
	cur *loginFlow
}

// loginFlow is one flow in progress.
type loginFlow struct {
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	busy   bool // an answer is being worked on: further answers wait for its step
}

// Start begins flow flowID.
func (l *Login) Start(flowID string) {
	l.sess.mu.Lock()
	logged := l.sess.key != ""
	l.sess.mu.Unlock()
	if logged {
		l.host.Notice("This Olvid login already has its identity: send `logout olvid` first to log in with another.")
		return
	}
	if flowID != flowKey && l.cfg.adminKey == "" {
		l.host.Notice("This bridge has no admin client key for the Olvid server (plugins.olvid." + cfgAdminClientKey +
			"): the administrator must set it before an identity can be created there. Meanwhile, `login olvid key` " +
			"takes a client key an administrator gives you.")
		return
	}
	f := l.newFlow(flowID)
	switch flowID {
	case flowDirectory:
		l.startDirectory(f)
	case flowInvitation:
		l.askName(f, "")
	case flowRestore:
		l.askRestoreWarning(f)
	case flowKey:
		l.askClientKey(f, "")
	default:
		l.endFlow(f)
		l.host.Notice("Olvid has no login flow \"" + flowID + "\": use `login olvid directory`, `login olvid invitation`, " +
			"`login olvid restore` or `login olvid key`.")
	}
}

// Submit receives the answers of a step.
func (l *Login) Submit(stepID string, fields map[string]string) {
	l.flows.mu.Lock()
	f := l.flows.cur
	if f != nil && f.busy {
		f = nil
	}
	if f != nil {
		f.busy = true
	}
	l.flows.mu.Unlock()
	if f == nil {
		l.host.Notice("That answer belongs to no Olvid login step in progress.")
		return
	}
	switch {
	case f.id == flowInvitation && stepID == stepName:
		l.spawn(func() { l.runInvitation(f, strings.TrimSpace(fields["name"])) })
	case f.id == flowRestore && stepID == stepRestoreWarn:
		l.answerRestoreWarning(f, fields["confirm"])
	case f.id == flowRestore && stepID == stepRestoreBackup:
		l.spawn(func() { l.runRestore(f, fields) })
	case f.id == flowKey && stepID == stepClientKey:
		l.spawn(func() { l.runKey(f, strings.TrimSpace(fields["key"])) })
	default:
		l.idle(f)
		l.host.Notice("That answer belongs to no Olvid login step in progress.")
	}
}

// Cancel stops the flow in progress.
func (l *Login) Cancel() {
	l.flows.mu.Lock()
	f := l.flows.cur
	l.flows.mu.Unlock()
	if f != nil {
		l.endFlow(f)
	}
}

func (l *Login) newFlow(id string) *loginFlow {
	f := &loginFlow{id: id}
	f.ctx, f.cancel = context.WithCancel(l.ctx)
	l.flows.mu.Lock()
	old := l.flows.cur
	l.flows.cur = f
	l.flows.mu.Unlock()
	if old != nil {
		old.cancel()
	}
	return f
}

// idle: the flow waits for the agent again (after a step was shown).
func (l *Login) idle(f *loginFlow) {
	l.flows.mu.Lock()
	f.busy = false
	l.flows.mu.Unlock()
}

// endFlow forgets f (done, failed or cancelled).
func (l *Login) endFlow(f *loginFlow) {
	l.flows.mu.Lock()
	if l.flows.cur == f {
		l.flows.cur = nil
	}
	l.flows.mu.Unlock()
	f.cancel()
}

// current is true while f is the flow in progress (not cancelled).
func (l *Login) current(f *loginFlow) bool {
	l.flows.mu.Lock()
	defer l.flows.mu.Unlock()
	return l.flows.cur == f && f.ctx.Err() == nil
}

// step shows a step of f (if f is still current) and waits for answers.
func (l *Login) step(f *loginFlow, s *pasdk.LoginStep) {
	if !l.current(f) {
		return
	}
	l.idle(f)
	l.host.LoginStep(s)
}

// fail ends f with a sentence saying how to try again.
func (l *Login) fail(f *loginFlow, text string) {
	if !l.current(f) {
		return
	}
	l.endFlow(f)
	l.host.Notice(text + " Send `login olvid " + f.id + "` to try again.")
}

// adminDial connects with the admin client key.
func (l *Login) adminDial(ctx context.Context) (*Daemon, error) {
	return l.dial(ctx, l.cfg.adminKey)
}

// failureText says an error of the flow's daemon calls to the agent.
func failureText(what string, err error) string {
	if codeOf(err) == codes.Unavailable {
		return "The Olvid server of your ministry is unreachable, so " + what + " failed."
	}
	if errors.Is(err, errStandin) {
		return err.Error()
	}
	return "Could not " + what + ": " + errorText(err) + "."
}

// finishWithNewKey mints a client key for identity with the admin key,
// then finishes the flow with it.  d is the admin connection.
func (l *Login) finishWithNewKey(f *loginFlow, d *Daemon, identity *daemonpb.Identity) bool {
	ctx, cancel := context.WithTimeout(f.ctx, callTimeout)
	defer cancel()
	r, err := d.ClientKeyAdmin.ClientKeyNew(ctx, &daemonpb.ClientKeyNewRequest{
		Name: "Passerelle: " + identity.GetDisplayName(), IdentityId: identity.GetId()})
	if err != nil {
		l.fail(f, failureText("make the identity's client key", err)+
			" The identity "+identity.GetDisplayName()+" stays in the Olvid server; an administrator can make its key.")
		return false
	}
	return l.finish(f, r.GetClientKey().GetKey())
}

// finish checks key with the daemon (its identity), stores it as the
// login's secret, completes the flow and starts the session.
func (l *Login) finish(f *loginFlow, key string) bool {
	d, err := l.dial(f.ctx, key)
	if err == nil {
		err = l.readIdentity(f.ctx, d)
		d.Close()
	}
	if err != nil {
		l.fail(f, failureText("read the new identity", err))
		return false
	}
	if !l.current(f) {
		return false
	}
	if !l.host.SecretStore(secretClientKey, []byte(key)) {
		l.fail(f, "The bridge could not store the identity's client key.")
		return false
	}
	l.endFlow(f)
	l.sess.mu.Lock()
	id, name := l.sess.userID, l.sess.name
	l.sess.mu.Unlock()
	l.host.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepComplete, StepID: stepDone,
		RemoteID: id, RemoteName: name})
	l.startSession(key, true)
	return true
}
