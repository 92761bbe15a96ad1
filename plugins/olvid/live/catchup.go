// SPDX-License-Identifier: AGPL-3.0-or-later

// Catch-up: the messages that arrived while the login was not listening
// (the daemon's unread messages), oldest first, at most catchup_messages,
// through the same idempotent handler as the streams (incoming.go).
package main

import (
	"context"
	"sort"

	"passerelle/plugins/olvid/live/daemonpb"
)

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

// catchUp bridges the unread messages not bridged yet (contract).
func (l *Login) catchUp(ctx context.Context) error {
	d, err := l.daemonOrErr()
	if err != nil {
		return err
	}
	unread := true
	s, err := d.Message.MessageList(ctx, &daemonpb.MessageListRequest{Unread: &unread})
	if err != nil {
		return err
	}
	ms, err := recvAll(s, (*daemonpb.MessageListResponse).GetMessages)
	if err != nil {
		return err
	}
	for _, m := range oldestFirst(ms, l.cfg.catchupMessages) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.handleMessage(ctx, m)
	}
	return nil
}
