// SPDX-License-Identifier: AGPL-3.0-or-later

// Matrix → Olvid: send, edit, redact, react.  Each op runs in a goroutine
// and is answered exactly once.  A send whose answer never came (the
// connection broke after the request left) is UNCERTAIN, never resent; a
// request that never left is NOT_CONNECTED, which the host retries once the
// login is back.  A send that succeeded is recorded under its txn id (host
// meta), so a host that sends the same txn id again gets the same answer
// without a second message.
//
// Olvid's daemon has no typing indicator and no explicit mark-read: the
// login implements neither TypingOp nor MarkReadOp, so the host knows they
// are unsupported.
package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// opTimeout bounds one op; an upload of max_media_bytes at a slow link
// needs the most (sendTimeout).
const (
	opTimeout   = 60 * time.Second
	sendTimeout = 10 * time.Minute
)

// errNotConnected is what an op says while the login is offline.
const errNotConnected = "Olvid is not connected."

// outgoingState keeps the ops of one chat in the order the host gave them:
// the last op of each chat that has one pending (removed when it ends).
type outgoingState struct {
	outMu   sync.Mutex
	outTail map[string]chan struct{}
}

// inOrder queues an op of chatID behind the chat's previous one (called on
// the main thread, in the host's order); wait blocks until the previous one
// ended (false when the login stops first), done ends this one.
func (l *Login) inOrder(chatID string) (wait func() bool, done func()) {
	mine := make(chan struct{})
	l.outMu.Lock()
	if l.outTail == nil {
		l.outTail = map[string]chan struct{}{}
	}
	prev := l.outTail[chatID]
	l.outTail[chatID] = mine
	l.outMu.Unlock()
	wait = func() bool {
		if prev == nil {
			return true
		}
		select {
		case <-prev:
			return true
		case <-l.ctx.Done():
			return false
		}
	}
	done = func() {
		close(mine)
		l.outMu.Lock()
		if l.outTail[chatID] == mine {
			delete(l.outTail, chatID)
		}
		l.outMu.Unlock()
	}
	return wait, done
}

// runOp runs fn in a goroutine with a deadline and answers its result once.
// Ops of one chat run one after the other, in the host's order (a reply
// never overtakes what it answers); chatID "" is not ordered.  When Free
// has begun, the op is not started: the host reports the ops a stopped
// worker left unanswered.
func (l *Login) runOp(op uint64, chatID string, timeout time.Duration, fn func(ctx context.Context, d *Daemon) pasdk.OpResult) {
	wait, done := func() bool { return true }, func() {}
	if chatID != "" {
		wait, done = l.inOrder(chatID)
	}
	l.spawn(func() { // not run once Free began: then l.ctx is done and the chat's later ops stop waiting
		defer done()
		if !wait() {
			return
		}
		d := l.daemonClient()
		if d == nil {
			l.host.OpResult(op, &pasdk.OpResult{Code: pasdk.ResultNotConnected, Error: errNotConnected})
			return
		}
		ctx, cancel := context.WithTimeout(l.ctx, timeout)
		defer cancel()
		r := fn(ctx, d)
		l.host.OpResult(op, &r)
	})
}

// sentCall is one daemon call that may create something on the other side
// (a message, a reaction, an edit): its result tells apart a request that
// never left from one whose answer was lost.
type sentCall struct{ p peer.Peer }

// opt is the call option that records whether the call reached the daemon.
func (s *sentCall) opt() grpc.CallOption { return grpc.Peer(&s.p) }

// result is the op result of the call's error.  gRPC fills the peer only
// once the call got a connection: no peer means the request never left.
func (s *sentCall) result(err error) pasdk.OpResult {
	if err == nil {
		return pasdk.OpResult{Code: pasdk.ResultOK}
	}
	left := s.p.Addr != nil
	switch codeOf(err) {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded, codes.Unknown, codes.Internal:
		if !left {
			return pasdk.OpResult{Code: pasdk.ResultNotConnected, Error: errNotConnected}
		}
		return pasdk.OpResult{Code: pasdk.ResultUncertain,
			Error: "The connection to the Olvid daemon broke before it answered; it may have been delivered."}
	case codes.PermissionDenied:
		return pasdk.OpResult{Code: pasdk.ResultForbidden, Error: "Olvid does not allow it: " + status.Convert(err).Message() + "."}
	}
	return statusToResult(err)
}

// lookupResult is the op result of an error while finding the chat or the
// message an op is about (nothing was sent yet: never UNCERTAIN).
func lookupResult(err error) pasdk.OpResult {
	if _, ok := status.FromError(err); !ok && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded) {
		return pasdk.OpResult{Code: pasdk.ResultNotFound, Error: err.Error()}
	}
	r := statusToResult(err)
	if r.Code == pasdk.ResultUncertain {
		r.Code = pasdk.ResultTemporary
	}
	return r
}

// target is the daemon's id of a message the agent acts on.
func (l *Login) target(msgID string) (*daemonpb.MessageId, *pasdk.OpResult) {
	m, ok := l.localMessage(msgID)
	if !ok {
		return nil, &pasdk.OpResult{Code: pasdk.ResultNotFound,
			Error: "This message is not known to your Olvid identity (it may have been deleted)."}
	}
	return m, nil
}

// metaTxnKey (MetaMessage scope): a txn id the host sent → the message id it made.
func metaTxnKey(txnID string) string { return "t/" + txnID }

// creating runs a call that makes a message on Olvid while incoming
// messages wait (msgstore's handleMu): the daemon may notify the message's
// MessageSent before it answers the call, and that echo must find the
// message already recorded by sentResult, not bridge it back to Matrix.
// Only the call that creates the message runs under it, never an upload.
func (l *Login) creating(fn func() pasdk.OpResult) pasdk.OpResult {
	l.handleMu.Lock()
	defer l.handleMu.Unlock()
	return fn()
}

// sentResult records a sent message (olvin's rememberSent: id maps, and
// its MessageSent echo is not bridged back) and is the op's answer.
func (l *Login) sentResult(m *daemonpb.Message, txnID string) pasdk.OpResult {
	id := l.rememberSent(m)
	ts := int64(m.GetTimestamp())
	if txnID != "" {
		l.host.MetaSet(pasdk.MetaMessage, metaTxnKey(txnID), id+" "+strconv.FormatInt(ts, 10))
	}
	return pasdk.OpResult{Code: pasdk.ResultOK, LegacyID: id, LegacyTSMS: ts}
}

// alreadySent is the answer of a txn id already sent, if any.
func (l *Login) alreadySent(txnID string) (pasdk.OpResult, bool) {
	if txnID == "" {
		return pasdk.OpResult{}, false
	}
	v, ok := l.host.MetaGet(pasdk.MetaMessage, metaTxnKey(txnID))
	if !ok {
		return pasdk.OpResult{}, false
	}
	id, tsText, _ := strings.Cut(v, " ")
	ts, _ := strconv.ParseInt(tsText, 10, 64)
	return pasdk.OpResult{Code: pasdk.ResultOK, LegacyID: id, LegacyTSMS: ts}, true
}

// bodyOf is the text Olvid shows for a message: the daemon's body is plain
// text (its API documents no formatting), so the host's plain text is sent;
// an emote becomes "* name text", Olvid having no emote.
func (l *Login) bodyOf(ctx context.Context, d *Daemon, c *pasdk.Content) string {
	if c.Kind != pasdk.MsgEmote {
		return c.Text
	}
	name := "me"
	if r, err := d.Identity.IdentityGet(ctx, &daemonpb.IdentityGetRequest{}); err == nil &&
		r.GetIdentity().GetDisplayName() != "" {
		name = r.GetIdentity().GetDisplayName()
	}
	return "* " + name + " " + c.Text
}

// Send sends a message of any kind to a chat.
func (l *Login) Send(op uint64, chatID string, c *pasdk.Content, txnID string) {
	cc := *c
	timeout := opTimeout
	if cc.MediaPath != "" {
		timeout = sendTimeout
	}
	l.runOp(op, chatID, timeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		if r, ok := l.alreadySent(txnID); ok {
			return r
		}
		disc, err := l.discussionOf(ctx, chatID)
		if err != nil {
			return lookupResult(err)
		}
		var reply *daemonpb.MessageId
		if cc.ReplyTo != "" {
			reply, _ = l.localMessage(cc.ReplyTo) // a reply to a message Olvid lost is sent as a plain message
		}
		switch cc.Kind {
		case pasdk.MsgLocation:
			return l.sendLocation(ctx, d, disc, &cc, txnID)
		case pasdk.MsgImage, pasdk.MsgVideo, pasdk.MsgAudio, pasdk.MsgVoice, pasdk.MsgFile, pasdk.MsgSticker:
			return l.sendAttachment(ctx, d, disc, &cc, reply, txnID)
		}
		req := &daemonpb.MessageSendRequest{DiscussionId: disc, Body: l.bodyOf(ctx, d, &cc), ReplyId: reply}
		return l.creating(func() pasdk.OpResult {
			var call sentCall
			r, err := d.Message.MessageSend(ctx, req, call.opt())
			if err != nil {
				return call.result(err)
			}
			return l.sentResult(r.GetMessage(), txnID)
		})
	})
}

// sendLocation sends a point on a map (Olvid's "send" location, not a live
// sharing).
func (l *Login) sendLocation(ctx context.Context, d *Daemon, disc uint64, c *pasdk.Content, txnID string) pasdk.OpResult {
	req := &daemonpb.MessageSendLocationRequest{DiscussionId: disc, Latitude: c.Latitude, Longitude: c.Longitude}
	if a := strings.TrimSpace(c.Text); a != "" && !strings.HasPrefix(a, "geo:") {
		req.Address = &a
	}
	return l.creating(func() pasdk.OpResult {
		var call sentCall
		r, err := d.Message.MessageSendLocation(ctx, req, call.opt())
		if err != nil {
			return call.result(err)
		}
		return l.sentResult(r.GetMessage(), txnID)
	})
}

// Edit replaces the text of one of the agent's messages.
func (l *Login) Edit(op uint64, chatID, targetID string, c *pasdk.Content) {
	cc := *c
	l.runOp(op, chatID, opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		m, r := l.target(targetID)
		if r != nil {
			return *r
		}
		if m.GetType() != daemonpb.MessageId_TYPE_OUTBOUND {
			return pasdk.OpResult{Code: pasdk.ResultForbidden, Error: "Olvid lets you edit only your own messages."}
		}
		var call sentCall
		_, err := d.Message.MessageUpdateBody(ctx, &daemonpb.MessageUpdateBodyRequest{
			MessageId: m, UpdatedBody: l.bodyOf(ctx, d, &cc)}, call.opt())
		return call.result(err) // an edit keeps the message's id: no LegacyID
	})
}

// Redact deletes a message everywhere: on the agent's side and, for the
// other members, as Olvid allows (one's own messages; any message for a
// group admin with the right to delete anything).
func (l *Login) Redact(op uint64, chatID, targetID string) {
	l.runOp(op, chatID, opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		m, r := l.target(targetID)
		if r != nil {
			return *r
		}
		everywhere := true
		var call sentCall
		_, err := d.Message.MessageDelete(ctx, &daemonpb.MessageDeleteRequest{
			MessageId: m, DeleteEverywhere: &everywhere}, call.opt())
		if codeOf(err) == codes.PermissionDenied {
			return pasdk.OpResult{Code: pasdk.ResultForbidden,
				Error: "Olvid does not let you delete this message for everyone: only your own messages, or any message for a group admin allowed to."}
		}
		return call.result(err)
	})
}

// ownReaction is the identity's reaction to a message now ("" for none).
func ownReaction(ctx context.Context, d *Daemon, m *daemonpb.MessageId) (string, error) {
	r, err := d.Message.MessageGet(ctx, &daemonpb.MessageGetRequest{MessageId: m})
	if err != nil {
		return "", err
	}
	for _, x := range r.GetMessage().GetReactions() {
		if x.GetContactId() == 0 {
			return x.GetReaction(), nil
		}
	}
	return "", nil
}

// React sets the agent's reaction to a message (Olvid keeps one per
// person: a new one replaces it) or removes it (the reaction left unset,
// as the daemon's API says).
func (l *Login) React(op uint64, chatID, targetID, key string, remove bool) {
	l.runOp(op, chatID, opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		m, r := l.target(targetID)
		if r != nil {
			return *r
		}
		req := &daemonpb.MessageReactRequest{MessageId: m}
		if !remove {
			req.Reaction = &key
		} else if own, err := ownReaction(ctx, d, m); err != nil {
			return lookupResult(err)
		} else if own != key {
			// Matrix keeps several reactions per person, Olvid one: the
			// removed one was already replaced by a newer one, which stays.
			return pasdk.OpResult{Code: pasdk.ResultOK}
		}
		var call sentCall
		_, err := d.Message.MessageReact(ctx, req, call.opt())
		return call.result(err)
	})
}
