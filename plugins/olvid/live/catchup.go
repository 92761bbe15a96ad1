// SPDX-License-Identifier: AGPL-3.0-or-later

// Catch-up: the messages that arrived while the login was not listening,
// oldest first, at most catchup_messages, through the same idempotent
// handler as the streams (incoming.go).
//
// The daemon's unread messages are not all of them: it counts a message
// read as soon as a MessageReceived stream sent it, so a message the stream
// delivered to a worker killed before the host stored its events is no
// longer unread.  The login keeps a watermark in the host's meta: the
// timestamp of the newest inbound message whose events the host stored.
// The first catch-up of each connection also lists the inbound messages
// from catchUpSlack before that watermark (the slack covers messages
// delivered slightly out of order); those already bridged are skipped.
package main

import (
	"context"
	"sort"
	"strconv"
	"time"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// metaWatermarkKey (MetaLogin): the watermark, in ms since the epoch.
const metaWatermarkKey = "watermark"

// catchUpSlack: how far before the watermark the window starts.
const catchUpSlack = 10 * time.Minute

// oldestFirst sorts messages by timestamp, then by local id, and keeps the
// newest max of them (max <= 0: all).
func oldestFirst(ms []*daemonpb.Message, max int) []*daemonpb.Message {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].GetTimestamp() != ms[j].GetTimestamp() {
			return ms[i].GetTimestamp() < ms[j].GetTimestamp()
		}
		return ms[i].GetId().GetId() < ms[j].GetId().GetId()
	})
	if max > 0 && len(ms) > max {
		ms = ms[len(ms)-max:]
	}
	return ms
}

// windowStart is the min_timestamp of the window list for a stored
// watermark; false when there is none (a first login: unread only).
func windowStart(mark string) (uint64, bool) {
	ts, err := strconv.ParseUint(mark, 10, 64)
	if err != nil || ts == 0 {
		return 0, false
	}
	slack := uint64(catchUpSlack.Milliseconds())
	if ts < slack {
		return 0, true
	}
	return ts - slack, true
}

// laterMark is the watermark once a message of timestamp ts was stored;
// false when it does not move (it never goes back).
func laterMark(mark string, ts uint64) (string, bool) {
	if cur, err := strconv.ParseUint(mark, 10, 64); err == nil && cur >= ts {
		return "", false
	}
	return strconv.FormatUint(ts, 10), true
}

// unionOf is every message of the lists once (by local id), in no order.
func unionOf(lists ...[]*daemonpb.Message) []*daemonpb.Message {
	var out []*daemonpb.Message
	have := map[string]bool{}
	for _, ms := range lists {
		for _, m := range ms {
			k := localMessageKey(m.GetId())
			if k == "" || have[k] {
				continue
			}
			have[k] = true
			out = append(out, m)
		}
	}
	return out
}

// storedUpTo moves the watermark to an inbound message whose events the
// host stored (handleMessage, under handleMu).
func (l *Login) storedUpTo(m *daemonpb.Message) {
	if m.GetId().GetType() != daemonpb.MessageId_TYPE_INBOUND {
		return
	}
	cur, _ := l.host.MetaGet(pasdk.MetaLogin, metaWatermarkKey)
	if v, ok := laterMark(cur, m.GetTimestamp()); ok {
		l.host.MetaSet(pasdk.MetaLogin, metaWatermarkKey, v)
	}
}

// listMessages is one MessageList, whole.
func listMessages(ctx context.Context, d *Daemon, req *daemonpb.MessageListRequest) ([]*daemonpb.Message, error) {
	s, err := d.Message.MessageList(ctx, req)
	if err != nil {
		return nil, err
	}
	return recvAll(s, (*daemonpb.MessageListResponse).GetMessages)
}

// catchUp bridges the unread messages not bridged yet and, at the first
// catch-up of a connection, those since the watermark (contract).
func (l *Login) catchUp(ctx context.Context) error {
	d, err := l.daemonOrErr()
	if err != nil {
		return err
	}
	unread := true
	ms, err := listMessages(ctx, d, &daemonpb.MessageListRequest{Unread: &unread})
	if err != nil {
		return err
	}
	// A connection has a Daemon of its own: the window is listed once per
	// connection, not again by the catch-up after the streams.
	if l.windowFor.Swap(d) != d {
		mark, _ := l.host.MetaGet(pasdk.MetaLogin, metaWatermarkKey)
		if from, ok := windowStart(mark); ok {
			inbound := daemonpb.MessageId_TYPE_INBOUND
			w, err := listMessages(ctx, d, &daemonpb.MessageListRequest{
				Filter: &daemonpb.MessageFilter{Type: &inbound, MinTimestamp: &from}})
			if err != nil {
				return err
			}
			ms = unionOf(ms, w)
		}
	}
	// The cap counts only what is still to bridge.
	unbridged := ms[:0]
	for _, m := range ms {
		if k := localMessageKey(m.GetId()); k != "" && !l.seen(k) {
			unbridged = append(unbridged, m)
		}
	}
	for _, m := range oldestFirst(unbridged, l.cfg.catchupMessages) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.handleMessage(ctx, m)
	}
	return nil
}
