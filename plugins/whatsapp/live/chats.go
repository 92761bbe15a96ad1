// SPDX-License-Identifier: AGPL-3.0-or-later

// Chat and contact operations: chat info both ways, group membership,
// resolving a phone number, DMs, contacts, and history requests.
package main

import (
	"bytes"
	"context"
	"image"
	_ "image/gif"
	"image/jpeg"
	_ "image/png"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// SetChatInfo changes a group's name, topic or picture, or a chat's timer.
func (l *Login) SetChatInfo(op uint64, chatID string, field pasdk.ChatField, value *string) {
	v := ""
	if value != nil {
		v = *value
	}
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		group := chat.Server == types.GroupServer
		var err error
		switch field {
		case pasdk.ChatFieldName:
			if !group {
				return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "A WhatsApp direct chat has no name."}
			}
			err = l.tp.SetGroupName(ctx, chat, v)
		case pasdk.ChatFieldTopic:
			if !group {
				return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "A WhatsApp direct chat has no description."}
			}
			err = l.tp.SetGroupTopic(ctx, chat, v)
		case pasdk.ChatFieldAvatar:
			if !group {
				return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "A WhatsApp direct chat has no picture of its own."}
			}
			var jpg []byte
			if v != "" {
				if jpg, err = toJPEG(v); err != nil {
					return &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "WhatsApp group pictures must be images: " + err.Error()}
				}
			}
			err = l.tp.SetGroupPhoto(ctx, chat, jpg)
		case pasdk.ChatFieldDisappearing:
			n, perr := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if v == "" {
				n, perr = 0, nil
			}
			if perr != nil {
				return &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "The timer must be a number of seconds."}
			}
			err = l.tp.SetDisappearingTimer(ctx, chat, time.Duration(n)*time.Second)
			if err == nil {
				l.host.MetaSet(pasdk.MetaChat, chatID+"#timer", strconv.FormatUint(n, 10))
			} else if strings.Contains(err.Error(), whatsmeow.ErrInvalidDisappearingTimer.Error()) {
				return &pasdk.OpResult{Code: pasdk.ResultPermanent,
					Error: "WhatsApp allows disappearing messages after 24 hours, 7 days or 90 days only (or off)."}
			}
		default:
			return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "WhatsApp has no such chat setting."}
		}
		if err != nil {
			return resultFor(err, true)
		}
		return nil
	})
}

// toJPEG reads an image file and encodes it as WhatsApp wants it.
func toJPEG(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 3 && data[0] == 0xff && data[1] == 0xd8 {
		return data, nil
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SetMembership adds or removes a member of a group.
func (l *Login) SetMembership(op uint64, chatID, userID string, join bool) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok || chat.Server != types.GroupServer {
			return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "Only WhatsApp groups have members to add or remove."}
		}
		user, err := waconv.ParseJID(userID)
		if err != nil {
			return notFound("This is not a WhatsApp user.")
		}
		action := whatsmeow.ParticipantChangeRemove
		if join {
			action = whatsmeow.ParticipantChangeAdd
		}
		res, err := l.tp.UpdateGroupParticipants(ctx, chat, []types.JID{user}, action)
		if err != nil {
			return resultFor(err, true)
		}
		for _, p := range res {
			if p.Error == 403 {
				return &pasdk.OpResult{Code: pasdk.ResultForbidden, Error: "WhatsApp refused: this person's privacy settings do not let you add them (send them an invite link instead)."}
			} else if p.Error != 0 {
				return &pasdk.OpResult{Code: pasdk.ResultPermanent, Error: "WhatsApp refused the change (error " + strconv.Itoa(p.Error) + ")."}
			}
		}
		return nil
	})
}

// resolvePhone finds a phone number on WhatsApp: its user (LID first).
func (l *Login) resolvePhone(ctx context.Context, identifier string) (types.JID, *pasdk.OpResult) {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, identifier)
	if len(digits) < 7 || len(digits) > 15 {
		if j, err := waconv.ParseJID(identifier); err == nil && j.User != "" {
			return j, nil
		}
		return types.JID{}, notFound("\"" + identifier + "\" is not a phone number (type it with its country code, e.g. +33612345678).")
	}
	resp, err := l.tp.IsOnWhatsApp(ctx, []string{"+" + digits})
	if err != nil {
		return types.JID{}, resultFor(err, false)
	}
	if len(resp) == 0 || !resp[0].IsIn {
		return types.JID{}, notFound("+" + digits + " is not on WhatsApp.")
	}
	j := resp[0].JID.ToNonAD()
	if j.Server == types.DefaultUserServer {
		if info, err := l.tp.GetUserInfo(ctx, []types.JID{j}); err == nil {
			if ui, ok := info[j]; ok && !ui.LID.IsEmpty() {
				l.cli.StoreLIDPNMapping(l.ctx, ui.LID.ToNonAD(), j)
			}
			if ui, ok := info[j]; ok && ui.VerifiedName != nil && ui.VerifiedName.Details != nil {
				_, _, _ = l.cli.Store.Contacts.PutBusinessName(l.ctx, l.canonical(j), ui.VerifiedName.Details.GetVerifiedName())
			}
		}
	}
	return j, nil
}

// ResolveIdentifier: a phone number (`start whatsapp +33…`), or a search
// of the account's contacts by name.
func (l *Login) ResolveIdentifier(op uint64, identifier string, mode pasdk.ResolveMode) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if mode == pasdk.ResolveSearch {
			return l.searchContacts(op, identifier)
		}
		if r := l.ready(); r != nil {
			return r
		}
		j, r := l.resolvePhone(ctx, identifier)
		if r != nil {
			return r
		}
		m := l.member(j)
		l.host.OpContact(op, &m)
		return nil
	})
}

func (l *Login) searchContacts(op uint64, query string) *pasdk.OpResult {
	all, err := l.cli.Store.Contacts.GetAllContacts(l.ctx)
	if err != nil {
		return &pasdk.OpResult{Code: pasdk.ResultTemporary, Error: "The contact list cannot be read now."}
	}
	q := strings.ToLower(strings.TrimSpace(query))
	seen := map[string]bool{}
	for j, c := range all {
		text := strings.ToLower(c.FullName + " " + c.FirstName + " " + c.PushName + " " + c.BusinessName + " " + j.User)
		if q != "" && !strings.Contains(text, q) {
			continue
		}
		m := l.member(j)
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		l.host.OpContact(op, &m)
	}
	return nil
}

// ListContacts lists the account's contacts, one per person.
func (l *Login) ListContacts(op uint64) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		all, err := l.cli.Store.Contacts.GetAllContacts(ctx)
		if err != nil {
			return &pasdk.OpResult{Code: pasdk.ResultTemporary, Error: "The contact list cannot be read now."}
		}
		members := map[string]pasdk.Member{}
		for j, c := range all {
			if c.FullName == "" && c.FirstName == "" && c.PushName == "" && c.BusinessName == "" {
				continue
			}
			m := l.member(j)
			members[m.ID] = m
		}
		ids := make([]string, 0, len(members))
		for id := range members {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			m := members[id]
			l.host.OpContact(op, &m)
		}
		return nil
	})
}

// CreateDM opens the DM with a user (no message is sent).
func (l *Login) CreateDM(op uint64, userID string) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		j, err := waconv.ParseJID(userID)
		if err != nil || (j.Server != types.DefaultUserServer && j.Server != types.HiddenUserServer) {
			return notFound("This is not a WhatsApp user.")
		}
		ci := l.chatInfo(j, j)
		l.chatsSeen.Store(ci.ID, true)
		l.host.Emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: ci.ID, TimestampMS: time.Now().UnixMilli(), Chat: ci})
		return &pasdk.OpResult{Code: pasdk.ResultOK, LegacyID: ci.ID}
	})
}

// GetChatInfo emits the chat's info as WhatsApp has it now.
func (l *Login) GetChatInfo(op uint64, chatID string) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		if chat.Server == types.GroupServer {
			if r := l.ready(); r != nil {
				return r
			}
			gi, err := l.tp.GetGroupInfo(ctx, chat)
			if err != nil {
				return resultFor(err, false)
			}
			ci := l.groupInfo(gi)
			if p := l.fetchAvatar(chat); p != "" {
				ci.AvatarPath = p
			}
			l.host.Emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: ci.ID, TimestampMS: time.Now().UnixMilli(), Chat: ci})
			return nil
		}
		ci := l.chatInfo(chat, chat)
		l.host.Emit(&pasdk.Event{Type: pasdk.EvChatInfo, ChatID: ci.ID, TimestampMS: time.Now().UnixMilli(), Chat: ci})
		return nil
	})
}

// GetUserInfo emits a contact's names and picture.
func (l *Login) GetUserInfo(op uint64, userID string) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		j, err := waconv.ParseJID(userID)
		if err != nil {
			return notFound("This is not a WhatsApp user.")
		}
		avatar := ""
		if l.ready() == nil {
			avatar = l.fetchAvatar(j)
		}
		m := l.member(j)
		m.AvatarPath = avatar
		l.contacts.changed(m)
		l.host.Emit(&pasdk.Event{Type: pasdk.EvContactInfo, SenderID: m.ID, TimestampMS: time.Now().UnixMilli(), Contact: &m})
		return nil
	})
}

// FetchHistory asks the phone for older messages of a chat: they arrive
// later as an on-demand history sync (history.go), ending in BACKFILL_END.
func (l *Login) FetchHistory(op uint64, chatID, cursor string, count uint32, forward bool) {
	l.runOp(op, func(ctx context.Context) *pasdk.OpResult {
		if forward {
			return &pasdk.OpResult{Code: pasdk.ResultUnsupported, Error: "WhatsApp gives only older history, from the phone."}
		}
		if r := l.ready(); r != nil {
			return r
		}
		chat, ok := l.parseChat(chatID)
		if !ok {
			return notFound("This is not a WhatsApp chat.")
		}
		id, row, ok := l.msgs.oldest(chat)
		if !ok {
			return notFound("No message of this chat is known yet to ask WhatsApp for what came before it.")
		}
		if count == 0 || count > 500 {
			count = 50
		}
		info := &types.MessageInfo{MessageSource: types.MessageSource{Chat: chat, IsFromMe: row.FromMe}, ID: id, Timestamp: row.TS}
		if _, err := l.tp.SendPeerMessage(ctx, l.cli.BuildHistorySyncRequest(info, int(count))); err != nil {
			return resultFor(err, true)
		}
		return nil
	})
}
