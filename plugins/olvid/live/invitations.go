// SPDX-License-Identifier: AGPL-3.0-or-later

// Invitations and membership: an invitation the agent's identity received
// (at connect and as it comes) is told to the agent with the exact commands
// that accept or decline it; the SetMembership op accepts or declines it,
// leaves a group, or adds and removes a group's members (admins only).
package main

import (
	"context"
	"fmt"
	"strconv"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// invitationWaitsForUs: an invitation the agent has to answer.
func invitationWaitsForUs(s daemonpb.Invitation_Status) bool {
	switch s {
	case daemonpb.Invitation_STATUS_INVITATION_WAIT_YOU_TO_ACCEPT,
		daemonpb.Invitation_STATUS_INTRODUCTION_WAIT_YOU_TO_ACCEPT,
		daemonpb.Invitation_STATUS_ONE_TO_ONE_INVITATION_WAIT_YOU_TO_ACCEPT,
		daemonpb.Invitation_STATUS_GROUP_INVITATION_WAIT_YOU_TO_ACCEPT:
		return true
	}
	return false
}

// invitationText is the notice of one invitation.  The daemon names the
// inviter (or, for a group, the group) in display_name.
func invitationText(inv *daemonpb.Invitation) string {
	name := inv.GetDisplayName()
	if name == "" {
		name = "someone"
	}
	var what string
	switch inv.GetStatus() {
	case daemonpb.Invitation_STATUS_GROUP_INVITATION_WAIT_YOU_TO_ACCEPT:
		what = fmt.Sprintf("You are invited to join the Olvid group %q.", name)
	case daemonpb.Invitation_STATUS_ONE_TO_ONE_INVITATION_WAIT_YOU_TO_ACCEPT:
		what = fmt.Sprintf("%s invites you to a one-to-one Olvid discussion.", name)
	case daemonpb.Invitation_STATUS_INTRODUCTION_WAIT_YOU_TO_ACCEPT:
		what = fmt.Sprintf("A contact introduces %s to you on Olvid.", name)
	default:
		what = fmt.Sprintf("%s invites you to become an Olvid contact.", name)
	}
	id := strconv.FormatUint(inv.GetId(), 10)
	return fmt.Sprintf("%s To accept: `join olvid %s`. To decline: `leave olvid %s`.", what, id, id)
}

// noticeInvitation tells the agent of an invitation waiting for an answer.
func (l *Login) noticeInvitation(inv *daemonpb.Invitation) {
	if invitationWaitsForUs(inv.GetStatus()) {
		l.host.Notice(invitationText(inv))
	}
}

// noticeInvitations tells the agent of every invitation waiting at connect.
func (l *Login) noticeInvitations(ctx context.Context, d *Daemon) error {
	s, err := d.Invitation.InvitationList(ctx, &daemonpb.InvitationListRequest{})
	if err != nil {
		return err
	}
	invs, err := recvAll(s, (*daemonpb.InvitationListResponse).GetInvitations)
	for _, inv := range invs {
		l.noticeInvitation(inv)
	}
	return err
}

// SetMembership: join/leave an invitation (its id as the chat), leave a
// group, or add/remove another member of a group.
func (l *Login) SetMembership(op uint64, chatID, user string, join bool) {
	l.spawn(func() {
		l.host.OpResult(op, l.setMembership(l.ctx, chatID, user, join))
	})
}

// forbiddenMembers is the answer when the agent is not a group admin.
const forbiddenMembers = "Only an admin of this Olvid group can add or remove its members."

func (l *Login) setMembership(ctx context.Context, chatID, user string, join bool) *pasdk.OpResult {
	d := l.daemonClient()
	if d == nil {
		return &pasdk.OpResult{Code: pasdk.ResultNotConnected, Error: errOffline.Error()}
	}
	self := user == "" || user == l.selfUserID()
	if invID, err := strconv.ParseUint(chatID, 10, 64); err == nil && self {
		if join {
			_, err = d.Invitation.InvitationAccept(ctx, &daemonpb.InvitationAcceptRequest{InvitationId: invID})
		} else {
			_, err = d.Invitation.InvitationDecline(ctx, &daemonpb.InvitationDeclineRequest{InvitationId: invID})
		}
		return resultOf(err)
	}
	kind, _, ok := parseChatID(chatID)
	if !ok || kind != pasdk.ChatGroup {
		return &pasdk.OpResult{Code: pasdk.ResultUnsupported,
			Error: "Olvid memberships are group memberships or invitations (by their number)."}
	}
	if _, err := l.discussionOf(ctx, chatID); err != nil {
		return resultOf(err)
	}
	gid, ok := l.groupOfChat(chatID)
	if !ok {
		return &pasdk.OpResult{Code: pasdk.ResultNotFound, Error: "This Olvid identity is not in that group."}
	}
	if self {
		if join {
			return &pasdk.OpResult{Code: pasdk.ResultOK}
		}
		_, err := d.Group.GroupLeave(ctx, &daemonpb.GroupLeaveRequest{GroupId: gid})
		return resultOf(err)
	}
	r, err := d.Group.GroupGet(ctx, &daemonpb.GroupGetRequest{GroupId: gid})
	if err != nil {
		return resultOf(err)
	}
	g := r.GetGroup()
	if !g.GetOwnPermissions().GetAdmin() {
		return &pasdk.OpResult{Code: pasdk.ResultForbidden, Error: forbiddenMembers}
	}
	cid, err := l.contactOfUser(ctx, user)
	if err != nil {
		return &pasdk.OpResult{Code: pasdk.ResultNotFound, Error: err.Error()}
	}
	g.Members = changeMembers(g.GetMembers(), cid, join)
	_, err = d.Group.GroupUpdate(ctx, &daemonpb.GroupUpdateRequest{Group: g})
	return resultOf(err)
}

// changeMembers adds (with the permissions to post and edit their own
// messages) or removes a contact from a member list.
func changeMembers(ms []*daemonpb.GroupMember, contactID uint64, add bool) []*daemonpb.GroupMember {
	out := make([]*daemonpb.GroupMember, 0, len(ms)+1)
	for _, m := range ms {
		if m.GetContactId() != contactID {
			out = append(out, m)
		}
	}
	if add {
		out = append(out, &daemonpb.GroupMember{ContactId: contactID, Permissions: &daemonpb.GroupMemberPermissions{
			SendMessage: true, EditOrRemoteDeleteOwnMessages: true}})
	}
	return out
}

// resultOf is the op result of a daemon call's error.
func resultOf(err error) *pasdk.OpResult {
	if err == nil {
		return &pasdk.OpResult{Code: pasdk.ResultOK}
	}
	if err == errOffline {
		return &pasdk.OpResult{Code: pasdk.ResultNotConnected, Error: err.Error()}
	}
	r := statusToResult(err)
	return &r
}
