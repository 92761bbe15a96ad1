// SPDX-License-Identifier: AGPL-3.0-or-later

// Matrix → Olvid chat settings: a group's name, description and photo
// (GroupUpdate, GroupSetPhoto, GroupUnsetPhoto: Olvid lets only a group's
// admins change them), and the disappearing timer of any discussion (its
// existence duration, SettingsDiscussionSet).
package main

import (
	"context"
	"strconv"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// fieldName is a chat field in a sentence.
func fieldName(f pasdk.ChatField) string {
	switch f {
	case pasdk.ChatFieldName:
		return "name"
	case pasdk.ChatFieldTopic:
		return "description"
	case pasdk.ChatFieldAvatar:
		return "photo"
	}
	return "disappearing timer"
}

// SetChatInfo changes one setting of a chat on Olvid.
func (l *Login) SetChatInfo(op uint64, chatID string, field pasdk.ChatField, value *string) {
	var v *string
	if value != nil {
		s := *value
		v = &s
	}
	l.runOp(op, chatID, opTimeout, func(ctx context.Context, d *Daemon) pasdk.OpResult {
		disc, err := l.discussionOf(ctx, chatID)
		if err != nil {
			return lookupResult(err)
		}
		if field == pasdk.ChatFieldDisappearing {
			return l.setTimer(ctx, d, disc, v)
		}
		kind, _, _ := parseChatID(chatID)
		if kind != pasdk.ChatGroup {
			return pasdk.OpResult{Code: pasdk.ResultUnsupported,
				Error: "An Olvid one-to-one discussion has no " + fieldName(field) + " of its own: it shows the contact's."}
		}
		dr, err := d.Discussion.DiscussionGet(ctx, &daemonpb.DiscussionGetRequest{DiscussionId: disc})
		if err != nil {
			return lookupResult(err)
		}
		gr, err := d.Group.GroupGet(ctx, &daemonpb.GroupGetRequest{GroupId: dr.GetDiscussion().GetGroupId()})
		if err != nil {
			return lookupResult(err)
		}
		g := gr.GetGroup()
		if !g.GetOwnPermissions().GetAdmin() {
			return pasdk.OpResult{Code: pasdk.ResultForbidden,
				Error: "Only an admin of this Olvid group can change its " + fieldName(field) + ", and you are not one."}
		}
		var call sentCall
		switch field {
		case pasdk.ChatFieldName, pasdk.ChatFieldTopic:
			text := ""
			if v != nil {
				text = *v
			}
			if field == pasdk.ChatFieldName {
				g.Name = text
			} else {
				g.Description = text
			}
			_, err = d.Group.GroupUpdate(ctx, &daemonpb.GroupUpdateRequest{Group: g}, call.opt())
		case pasdk.ChatFieldAvatar:
			if v == nil {
				_, err = d.Group.GroupUnsetPhoto(ctx, &daemonpb.GroupUnsetPhotoRequest{GroupId: g.GetId()}, call.opt())
				break
			}
			return l.setGroupPhoto(ctx, d, g.GetId(), *v)
		}
		return call.result(err)
	})
}

// setGroupPhoto sends a group's new photo: metadata, then payload chunks.
func (l *Login) setGroupPhoto(ctx context.Context, d *Daemon, groupID uint64, path string) pasdk.OpResult {
	f, size, bad := l.openUpload(path)
	if bad != nil {
		return *bad
	}
	defer f.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var call sentCall
	stream, err := d.Group.GroupSetPhoto(sctx, call.opt())
	if err != nil {
		return call.result(err)
	}
	err = stream.Send(&daemonpb.GroupSetPhotoRequest{Request: &daemonpb.GroupSetPhotoRequest_Metadata{
		Metadata: &daemonpb.GroupSetPhotoRequestMetadata{GroupId: groupID, Filename: "photo.jpg", FileSize: size}}})
	if err == nil {
		var fileErr error
		fileErr = sendChunks(f, size, func(p []byte) error {
			if err := stream.Send(&daemonpb.GroupSetPhotoRequest{
				Request: &daemonpb.GroupSetPhotoRequest_Payload{Payload: p}}); err != nil {
				return streamError{err}
			}
			return nil
		})
		if _, isStream := fileErr.(streamError); fileErr != nil && !isStream {
			cancel()
			return pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The photo could not be read to the end, so it was not sent."}
		}
	}
	_, err = stream.CloseAndRecv()
	return call.result(err)
}

// setTimer sets a discussion's disappearing timer (seconds as decimal;
// nil or "0": off), keeping its other settings.
func (l *Login) setTimer(ctx context.Context, d *Daemon, disc uint64, v *string) pasdk.OpResult {
	var secs uint64
	if v != nil {
		n, err := strconv.ParseUint(*v, 10, 64)
		if err != nil {
			return pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The disappearing timer is not a number of seconds."}
		}
		secs = n
	}
	sr, err := d.Settings.SettingsDiscussionGet(ctx, &daemonpb.SettingsDiscussionGetRequest{DiscussionId: disc})
	if err != nil {
		return lookupResult(err)
	}
	s := sr.GetDiscussionSettings()
	if s == nil {
		s = &daemonpb.DiscussionSettings{}
	}
	s.DiscussionId = disc
	s.ExistenceDuration = secs
	var call sentCall
	_, err = d.Settings.SettingsDiscussionSet(ctx, &daemonpb.SettingsDiscussionSetRequest{DiscussionSettings: s}, call.opt())
	return call.result(err)
}
