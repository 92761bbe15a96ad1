// SPDX-License-Identifier: AGPL-3.0-or-later

// Chats: the agent's discussions as the host's chats.  A one-to-one
// discussion is a DM portal (chat id `c<user id>`), a group discussion a
// group portal (`g<group bytes identifier>`).  Discussion ids are local to
// the identity; meta maps them both ways (msgstore.go).  A discussion's
// ephemeral settings become the chat's disappearing timer where Matrix can
// say it (existence duration); read-once is told to the agent as a notice.
package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// recvAll reads a listing stream to its end: every item of every answer.
func recvAll[R any, T any](s interface{ Recv() (R, error) }, items func(R) []T) ([]T, error) {
	var out []T
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, items(r)...)
	}
}

func uintString(n uint64) string { return strconv.FormatUint(n, 10) }

func parseUint(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// disappearingSeconds is the Matrix disappearing timer of discussion
// settings: the existence duration (seconds), capped to 32 bits.
func disappearingSeconds(s *daemonpb.DiscussionSettings) uint32 {
	d := s.GetExistenceDuration()
	if d > 0xffffffff {
		d = 0xffffffff
	}
	return uint32(d)
}

// applySettings sets info.DisappearingS from the discussion's settings.
func (l *Login) applySettings(ctx context.Context, d *Daemon, discussionID uint64, info *pasdk.ChatInfo) {
	r, err := d.Settings.SettingsDiscussionGet(ctx, &daemonpb.SettingsDiscussionGetRequest{DiscussionId: discussionID})
	if err != nil {
		return
	}
	info.DisappearingS = disappearingSeconds(r.GetDiscussionSettings())
}

// settingsNotice is what the agent is told of a discussion's new
// ephemeral settings ("" when there is nothing Matrix does not show).
func settingsNotice(s *daemonpb.DiscussionSettings) string {
	msg := ""
	if s.GetReadOnce() {
		msg = "In this Olvid discussion, messages are now read once: Olvid shows them once and deletes them, " +
			"but Tchap keeps the bridged copy."
	}
	if v := s.GetVisibilityDuration(); v > 0 {
		if msg != "" {
			msg += " "
		}
		msg += fmt.Sprintf("Olvid hides its messages %s after they are read; Tchap keeps them.", durationText(v))
	}
	return msg
}

// durationText says a duration in seconds in words.
func durationText(s uint64) string {
	switch {
	case s%86400 == 0:
		return plural(s/86400, "day")
	case s%3600 == 0:
		return plural(s/3600, "hour")
	case s%60 == 0:
		return plural(s/60, "minute")
	}
	return plural(s, "second")
}

func plural(n uint64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatUint(n, 10) + " " + unit + "s"
}

// chatOfDiscussionWith resolves a discussion to its chat id, emitting its
// CHAT_INFO the first time it is seen.
func (l *Login) chatOfDiscussionWith(ctx context.Context, d *Daemon, disc *daemonpb.Discussion) (string, error) {
	if c, ok := l.cachedChat(disc.GetId()); ok {
		return c, nil
	}
	switch id := disc.GetIdentifier().(type) {
	case *daemonpb.Discussion_ContactId:
		return l.emitContactChat(ctx, id.ContactId)
	case *daemonpb.Discussion_GroupId:
		r, err := d.Group.GroupGet(ctx, &daemonpb.GroupGetRequest{GroupId: id.GroupId})
		if err != nil {
			return "", err
		}
		info, _, err := l.groupInfo(ctx, d, r.GetGroup())
		if err != nil {
			return "", err
		}
		l.emitChatInfo(info, disc.GetId())
		return info.ID, nil
	}
	return "", fmt.Errorf("Olvid discussion %d is neither with a contact nor a group", disc.GetId())
}

// chatOfDiscussion is the chat id of a daemon discussion (contract).
func (l *Login) chatOfDiscussion(ctx context.Context, discussionID uint64) (string, error) {
	if c, ok := l.cachedChat(discussionID); ok {
		return c, nil
	}
	d, err := l.daemonOrErr()
	if err != nil {
		return "", err
	}
	r, err := d.Discussion.DiscussionGet(ctx, &daemonpb.DiscussionGetRequest{DiscussionId: discussionID})
	if err != nil {
		return "", err
	}
	return l.chatOfDiscussionWith(ctx, d, r.GetDiscussion())
}

// discussionOf is the daemon discussion id of a chat id (contract).
func (l *Login) discussionOf(ctx context.Context, chatID string) (uint64, error) {
	if n, ok := l.cachedDiscussion(chatID); ok {
		return n, nil
	}
	d, err := l.daemonOrErr()
	if err != nil {
		return 0, err
	}
	kind, b, ok := parseChatID(chatID)
	if !ok {
		return 0, fmt.Errorf("%q is not an Olvid chat.", chatID)
	}
	if kind == pasdk.ChatDM {
		c, err := l.contactOfUser(ctx, userID(b))
		if err != nil {
			return 0, err
		}
		r, err := d.Discussion.DiscussionGetByContact(ctx, &daemonpb.DiscussionGetByContactRequest{ContactId: c})
		if err != nil {
			return 0, err
		}
		l.rememberChat(r.GetDiscussion().GetId(), chatID)
		return r.GetDiscussion().GetId(), nil
	}
	// A group not cached yet: sync the groups, then look again.
	if err := l.syncGroups(ctx, d); err != nil {
		return 0, err
	}
	if n, ok := l.cachedDiscussion(chatID); ok {
		return n, nil
	}
	return 0, fmt.Errorf("This Olvid identity is not in that group.")
}

// syncGroups emits every group's CHAT_INFO.
func (l *Login) syncGroups(ctx context.Context, d *Daemon) error {
	s, err := d.Group.GroupList(ctx, &daemonpb.GroupListRequest{})
	if err != nil {
		return err
	}
	groups, err := recvAll(s, (*daemonpb.GroupListResponse).GetGroups)
	if err != nil {
		return err
	}
	for _, g := range groups {
		l.emitGroup(ctx, d, g)
	}
	return nil
}

// syncChats: the own identity, every contact (ghost), every one-to-one
// discussion and every group, on every (re)connect (contract).
func (l *Login) syncChats(ctx context.Context) error {
	d, err := l.daemonOrErr()
	if err != nil {
		return err
	}
	if _, err := l.loadSelf(ctx, d); err != nil {
		return err
	}
	s, err := d.Contact.ContactList(ctx, &daemonpb.ContactListRequest{})
	if err != nil {
		return err
	}
	contacts, err := recvAll(s, (*daemonpb.ContactListResponse).GetContacts)
	if err != nil {
		return err
	}
	for _, c := range contacts {
		if c.GetHasOneToOneDiscussion() {
			if _, err := l.emitContactChat(ctx, c.GetId()); err != nil {
				l.logf(pasdk.LogWarning, "contact %d: %v", c.GetId(), err)
			}
		} else {
			l.emitContactInfo(ctx, d, c)
		}
	}
	if err := l.syncGroups(ctx, d); err != nil {
		return err
	}
	return l.noticeInvitations(ctx, d)
}
