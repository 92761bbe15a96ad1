// SPDX-License-Identifier: AGPL-3.0-or-later

// Groups: WhatsApp's group info → CHAT_INFO (members LID first, super
// admins at power 100, admins at 50), and group changes as they happen.
package main

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"passerelle/sdk/go/pasdk"
)

func participantPower(p types.GroupParticipant) int32 {
	switch {
	case p.IsSuperAdmin:
		return 100
	case p.IsAdmin:
		return 50
	}
	return 0
}

// groupInfo describes a group from WhatsApp's answer.
func (l *Login) groupInfo(gi *types.GroupInfo) *pasdk.ChatInfo {
	f := chatFeatures
	ci := &pasdk.ChatInfo{ID: l.chatID(gi.JID), Kind: pasdk.ChatGroup, Name: gi.Name, Topic: gi.Topic,
		Features: &f, MembersComplete: true, Members: make([]pasdk.Member, 0, len(gi.Participants))}
	if gi.IsEphemeral {
		ci.DisappearingS = gi.DisappearingTimer
	}
	if gi.IsAnnounce {
		// Only admins may write: the agent reads unless an admin.
		ci.ReadOnly = true
		for _, p := range gi.Participants {
			if l.isOwn(p.JID) || l.isOwn(p.LID) || l.isOwn(p.PhoneNumber) {
				ci.ReadOnly = !(p.IsAdmin || p.IsSuperAdmin)
			}
		}
	}
	for _, p := range gi.Participants {
		if !p.LID.IsEmpty() && !p.PhoneNumber.IsEmpty() {
			l.cli.StoreLIDPNMapping(l.ctx, p.LID, p.PhoneNumber)
		}
		j := p.JID
		if !p.LID.IsEmpty() {
			j = p.LID
		}
		m := l.member(j)
		if m.Identifier == "" && !p.PhoneNumber.IsEmpty() {
			m.Identifier = "+" + p.PhoneNumber.User
		}
		if m.Name == "" && p.DisplayName != "" {
			m.Name = p.DisplayName
		}
		m.Power = participantPower(p)
		ci.Members = append(ci.Members, m)
	}
	return ci
}

func (l *Login) emitGroup(b *batch, gi *types.GroupInfo, ts *time.Time) {
	ci := l.groupInfo(gi)
	ms := time.Now().UnixMilli()
	if ts != nil {
		ms = tsMS(*ts)
	}
	l.chatsSeen.Store(ci.ID, true)
	b.emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: ci.ID, TimestampMS: ms, Chat: ci})
}

// onGroupInfo: a group changed.  The whole member list is fetched again;
// the event's own changes are applied over it in case the answer lags.
func (l *Login) onGroupInfo(b *batch, e *events.GroupInfo) {
	ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
	gi, err := l.tp.GetGroupInfo(ctx, e.JID)
	cancel()
	if err != nil || gi == nil {
		gi = &types.GroupInfo{JID: e.JID}
		if len(e.Join)+len(e.Leave)+len(e.Promote)+len(e.Demote) > 0 {
			l.log.Warnf("group %s: member changes without the member list (%v)", e.JID, err)
		}
	}
	if e.Name != nil {
		gi.Name = e.Name.Name
	}
	if e.Topic != nil {
		gi.Topic = e.Topic.Topic
	}
	if e.Ephemeral != nil {
		gi.GroupEphemeral = *e.Ephemeral
	}
	if e.Announce != nil {
		gi.GroupAnnounce = *e.Announce
	}
	index := func(j types.JID) int {
		c := l.canonical(j)
		for i, p := range gi.Participants {
			if l.canonical(p.JID) == c || (!p.LID.IsEmpty() && p.LID.ToNonAD() == c) {
				return i
			}
		}
		return -1
	}
	for _, j := range e.Join {
		if index(j) < 0 {
			gi.Participants = append(gi.Participants, types.GroupParticipant{JID: j})
		}
	}
	for _, j := range e.Leave {
		if i := index(j); i >= 0 {
			gi.Participants = append(gi.Participants[:i], gi.Participants[i+1:]...)
		}
	}
	for _, j := range e.Promote {
		if i := index(j); i >= 0 {
			gi.Participants[i].IsAdmin = true
		}
	}
	for _, j := range e.Demote {
		if i := index(j); i >= 0 {
			gi.Participants[i].IsAdmin = false
			gi.Participants[i].IsSuperAdmin = false
		}
	}
	ci := l.groupInfo(gi)
	if err != nil && len(gi.Participants) == 0 {
		ci.Members = nil // unknown: unchanged
		ci.MembersComplete = false
	}
	if e.Ephemeral == nil && (err != nil) {
		ci.DisappearingS = 0
	}
	sender := ""
	if e.Sender != nil {
		sender = l.userID(*e.Sender)
	}
	l.chatsSeen.Store(ci.ID, true)
	b.emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: ci.ID, SenderID: sender, TimestampMS: tsMS(e.Timestamp), Chat: ci})
	if e.Delete != nil {
		b.emit(&pasdk.Event{Type: pasdk.EvChatDelete, ChatID: ci.ID, TimestampMS: tsMS(e.Timestamp)})
	}
}
