// SPDX-License-Identifier: AGPL-3.0-or-later

// Groups: their portals (chat id from GroupGetBytesIdentifier), members,
// admins as power levels, name, description (topic), photo, and whether
// the agent may post.
package main

import (
	"context"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// Power levels of group members.
const (
	powerMember = 0
	powerAdmin  = 50
)

// groupPower is the power level of a member with these permissions.
func groupPower(p *daemonpb.GroupMemberPermissions) int32 {
	if p.GetAdmin() {
		return powerAdmin
	}
	return powerMember
}

// groupReadOnly: the agent may not post (its permissions lack send_message).
func groupReadOnly(g *daemonpb.Group) bool {
	return g.GetOwnPermissions() != nil && !g.GetOwnPermissions().GetSendMessage()
}

// metaGroupKey (MetaChat) maps a daemon group id to its chat id.
func metaGroupKey(groupID uint64) string { return "gid/" + uintString(groupID) }

// groupChat is the chat id of a daemon group (meta first).
func (l *Login) groupChat(ctx context.Context, d *Daemon, groupID uint64) (string, error) {
	if v, ok := l.host.MetaGet(pasdk.MetaChat, metaGroupKey(groupID)); ok {
		return v, nil
	}
	r, err := d.Group.GroupGetBytesIdentifier(ctx, &daemonpb.GroupGetBytesIdentifierRequest{GroupId: groupID})
	if err != nil {
		return "", err
	}
	chat := groupChatID(r.GetIdentifier())
	l.host.MetaSet(pasdk.MetaChat, metaGroupKey(groupID), chat)
	l.host.MetaSet(pasdk.MetaChat, "g/"+chat, uintString(groupID))
	return chat, nil
}

// groupOfChat is the daemon group id of a group chat id.
func (l *Login) groupOfChat(chat string) (uint64, bool) {
	v, ok := l.host.MetaGet(pasdk.MetaChat, "g/"+chat)
	if !ok {
		return 0, false
	}
	return parseUint(v)
}

// groupInfo is the ChatInfo of a group, members complete (the agent
// included, with its own power).
//
// Its discussion id (0 if unknown) is remembered only once the CHAT_INFO
// was emitted (emitChatInfo): a message handled meanwhile on another
// stream must not find the chat before the host knows it is a group, or
// the host would take it for a DM.
func (l *Login) groupInfo(ctx context.Context, d *Daemon, g *daemonpb.Group) (*pasdk.ChatInfo, uint64, error) {
	chat, err := l.groupChat(ctx, d, g.GetId())
	if err != nil {
		return nil, 0, err
	}
	info := &pasdk.ChatInfo{ID: chat, Kind: pasdk.ChatGroup, Name: g.GetName(), Topic: g.GetDescription(),
		MembersComplete: true, ReadOnly: groupReadOnly(g)}
	if info.Name == "" {
		info.Name = "Olvid group"
	}
	if g.GetHasAPhoto() {
		info.AvatarPath = l.groupPhoto(ctx, d, g.GetId(), chat)
	}
	if self := l.selfUserID(); self != "" {
		info.Members = append(info.Members, pasdk.Member{ID: self, Power: groupPower(g.GetOwnPermissions())})
	}
	for _, gm := range g.GetMembers() {
		m, err := l.memberOfContactID(ctx, d, gm.GetContactId())
		if err != nil {
			l.logf(pasdk.LogWarning, "group %d member %d: %v", g.GetId(), gm.GetContactId(), err)
			info.MembersComplete = false
			continue
		}
		m.Power = groupPower(gm.GetPermissions())
		info.Members = append(info.Members, *m)
	}
	var did uint64
	if r, err := d.Discussion.DiscussionGetByGroup(ctx, &daemonpb.DiscussionGetByGroupRequest{GroupId: g.GetId()}); err == nil {
		did = r.GetDiscussion().GetId()
		l.applySettings(ctx, d, did, info)
	}
	return info, did, nil
}

// emitChatInfo emits a CHAT_INFO, then remembers its discussion (see
// groupInfo: in this order only).
func (l *Login) emitChatInfo(info *pasdk.ChatInfo, discussionID uint64) {
	l.host.Emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: info.ID, Chat: info})
	if discussionID != 0 {
		l.rememberChat(discussionID, info.ID)
	}
}

// emitGroup emits a group's CHAT_INFO.
func (l *Login) emitGroup(ctx context.Context, d *Daemon, g *daemonpb.Group) {
	info, did, err := l.groupInfo(ctx, d, g)
	if err != nil {
		l.logf(pasdk.LogWarning, "group %d: %v", g.GetId(), err)
		return
	}
	l.emitChatInfo(info, did)
}
