// SPDX-License-Identifier: AGPL-3.0-or-later

// The pure parts of Olvid → Matrix: content conversion, ephemeral
// settings, catch-up order, group powers, invitations.
package main

import (
	"strings"
	"testing"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

func TestKindOfMime(t *testing.T) {
	for mime, want := range map[string]pasdk.MsgKind{
		"image/jpeg": pasdk.MsgImage, "image/png": pasdk.MsgImage, "video/mp4": pasdk.MsgVideo,
		"audio/ogg": pasdk.MsgAudio, "application/pdf": pasdk.MsgFile, "": pasdk.MsgFile, "text/plain": pasdk.MsgFile,
	} {
		if got := kindOfMime(mime); got != want {
			t.Errorf("kindOfMime(%q) = %v, want %v", mime, got, want)
		}
	}
}

func TestMessageContent(t *testing.T) {
	c := messageContent(&daemonpb.Message{Body: "hi", Forwarded: true, EditedBody: true}, "ab-1")
	if c.Kind != pasdk.MsgText || c.Text != "hi" || c.ReplyTo != "ab-1" || c.ForwardedFrom == "" ||
		c.Flags&pasdk.ContentEdited == 0 {
		t.Errorf("text: %+v", c)
	}
	addr := "Paris"
	c = messageContent(&daemonpb.Message{MessageLocation: &daemonpb.MessageLocation{
		Type: daemonpb.MessageLocation_LOCATION_TYPE_SEND, Latitude: 48.85, Longitude: 2.35, Address: &addr}}, "")
	if c.Kind != pasdk.MsgLocation || c.Latitude != 48.85 || c.Longitude != 2.35 || !strings.Contains(c.Text, "Paris") {
		t.Errorf("location: %+v", c)
	}
	if c.ForwardedFrom != "" || c.Flags != 0 {
		t.Errorf("location flags: %+v", c)
	}
	c = messageContent(&daemonpb.Message{MessageLocation: &daemonpb.MessageLocation{
		Type: daemonpb.MessageLocation_LOCATION_TYPE_SHARING}}, "")
	if !strings.HasPrefix(c.Text, "Live location") {
		t.Errorf("sharing: %q", c.Text)
	}
}

func TestSettings(t *testing.T) {
	if got := disappearingSeconds(&daemonpb.DiscussionSettings{ExistenceDuration: 3600}); got != 3600 {
		t.Errorf("existence 3600 → %d", got)
	}
	if got := disappearingSeconds(&daemonpb.DiscussionSettings{ExistenceDuration: 1 << 40}); got != 0xffffffff {
		t.Errorf("huge existence → %d", got)
	}
	if settingsNotice(&daemonpb.DiscussionSettings{ExistenceDuration: 60}) != "" {
		t.Error("existence alone needs no notice (Matrix shows it)")
	}
	n := settingsNotice(&daemonpb.DiscussionSettings{ReadOnce: true, VisibilityDuration: 7200})
	if !strings.Contains(n, "read once") || !strings.Contains(n, "2 hours") {
		t.Errorf("notice: %q", n)
	}
	for s, want := range map[uint64]string{1: "1 second", 90: "90 seconds", 120: "2 minutes", 86400: "1 day"} {
		if got := durationText(s); got != want {
			t.Errorf("durationText(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestOldestFirst(t *testing.T) {
	m := func(id, ts uint64) *daemonpb.Message {
		return &daemonpb.Message{Id: &daemonpb.MessageId{Type: daemonpb.MessageId_TYPE_INBOUND, Id: id}, Timestamp: ts}
	}
	got := oldestFirst([]*daemonpb.Message{m(3, 30), m(1, 10), m(5, 20), m(4, 20)}, 3)
	var ids []uint64
	for _, x := range got {
		ids = append(ids, x.GetId().GetId())
	}
	if len(ids) != 3 || ids[0] != 4 || ids[1] != 5 || ids[2] != 3 {
		t.Errorf("order/cap: %v", ids)
	}
	if len(oldestFirst([]*daemonpb.Message{m(1, 1), m(2, 2)}, 0)) != 2 {
		t.Error("cap 0 keeps all")
	}
}

func TestGroups(t *testing.T) {
	if groupPower(&daemonpb.GroupMemberPermissions{Admin: true}) != powerAdmin || groupPower(nil) != powerMember {
		t.Error("powers")
	}
	if !groupReadOnly(&daemonpb.Group{OwnPermissions: &daemonpb.GroupMemberPermissions{}}) ||
		groupReadOnly(&daemonpb.Group{OwnPermissions: &daemonpb.GroupMemberPermissions{SendMessage: true}}) {
		t.Error("read-only from send_message")
	}
	ms := []*daemonpb.GroupMember{{ContactId: 1}, {ContactId: 2}}
	if got := changeMembers(ms, 3, true); len(got) != 3 || got[2].GetContactId() != 3 || !got[2].GetPermissions().GetSendMessage() {
		t.Errorf("add: %v", got)
	}
	if got := changeMembers(ms, 1, false); len(got) != 1 || got[0].GetContactId() != 2 {
		t.Errorf("remove: %v", got)
	}
}

func TestInvitations(t *testing.T) {
	inv := &daemonpb.Invitation{Id: 42, DisplayName: "Alice Martin",
		Status: daemonpb.Invitation_STATUS_INVITATION_WAIT_YOU_TO_ACCEPT}
	if !invitationWaitsForUs(inv.GetStatus()) ||
		invitationWaitsForUs(daemonpb.Invitation_STATUS_INVITATION_WAIT_IT_TO_ACCEPT) {
		t.Error("who waits")
	}
	txt := invitationText(inv)
	if !strings.Contains(txt, "`join olvid 42`") || !strings.Contains(txt, "`leave olvid 42`") ||
		!strings.HasPrefix(txt, "Alice Martin") {
		t.Errorf("text: %q", txt)
	}
	if !strings.Contains(tooLargeText("a.pdf", 3<<20, 1<<20), "3.0 MiB") {
		t.Error("too large text")
	}
}
