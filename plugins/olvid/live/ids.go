// SPDX-License-Identifier: AGPL-3.0-or-later

// The ids the host sees (docs/olvid.md):
//   - a user id is the lowercase hex of the contact's bytes identifier, the
//     same for every identity of the daemon (two agents see one ghost);
//   - a chat id is `c<user id>` for a one-to-one discussion, `g<hex of the
//     group's bytes identifier>` for a group (two agents in one group share
//     one portal);
//   - a message id is `<first 16 hex of the sender's user id>-<timestamp in
//     ms>`, the same for every identity that sees the message.
//
// The daemon's own ids (contact, discussion, message ids) are local to one
// identity; the meta keys below map them to these.
package main

import (
	"encoding/hex"
	"strconv"
	"strings"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// senderPrefixLen is how much of the sender's user id a message id keeps.
const senderPrefixLen = 16

// userID is the user id of a contact's (or the own identity's) bytes identifier.
func userID(bytesIdentifier []byte) string { return hex.EncodeToString(bytesIdentifier) }

// parseUserID is the bytes identifier of a user id; ok false when id is
// not lowercase hex of at least one byte.
func parseUserID(id string) (b []byte, ok bool) {
	if id == "" || len(id)%2 != 0 || strings.ToLower(id) != id {
		return nil, false
	}
	b, err := hex.DecodeString(id)
	return b, err == nil
}

// dmChatID is the chat id of the one-to-one discussion with a user.
func dmChatID(user string) string { return "c" + user }

// groupChatID is the chat id of a group, from its bytes identifier.
func groupChatID(groupBytes []byte) string { return "g" + hex.EncodeToString(groupBytes) }

// parseChatID splits a chat id: its kind and its bytes (the contact's
// bytes identifier of a DM, the group's of a group).
func parseChatID(id string) (kind pasdk.ChatKind, b []byte, ok bool) {
	if id == "" {
		return 0, nil, false
	}
	switch id[0] {
	case 'c':
		kind = pasdk.ChatDM
	case 'g':
		kind = pasdk.ChatGroup
	default:
		return 0, nil, false
	}
	b, ok = parseUserID(id[1:])
	return kind, b, ok
}

// messageID is the message id of a message sent by sender (a user id; the
// own identity's for an outbound message) at timestampMS.
func messageID(sender string, timestampMS uint64) string {
	if len(sender) > senderPrefixLen {
		sender = sender[:senderPrefixLen]
	}
	return sender + "-" + strconv.FormatUint(timestampMS, 10)
}

// parseMessageID splits a message id into its sender prefix and timestamp.
func parseMessageID(id string) (senderPrefix string, timestampMS uint64, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || i > senderPrefixLen {
		return "", 0, false
	}
	if _, ok := parseUserID(id[:i]); !ok {
		return "", 0, false
	}
	t, err := strconv.ParseUint(id[i+1:], 10, 64)
	if err != nil || strconv.FormatUint(t, 10) != id[i+1:] { // canonical only
		return "", 0, false
	}
	return id[:i], t, true
}

// localMessageKey is the identity-local form of a daemon MessageId:
// `i<id>` inbound, `o<id>` outbound; "" for an unspecified type.
func localMessageKey(m *daemonpb.MessageId) string {
	switch m.GetType() {
	case daemonpb.MessageId_TYPE_INBOUND:
		return "i" + strconv.FormatUint(m.GetId(), 10)
	case daemonpb.MessageId_TYPE_OUTBOUND:
		return "o" + strconv.FormatUint(m.GetId(), 10)
	}
	return ""
}

// parseLocalMessageKey is the daemon MessageId of a localMessageKey.
func parseLocalMessageKey(k string) (*daemonpb.MessageId, bool) {
	if len(k) < 2 {
		return nil, false
	}
	var t daemonpb.MessageId_Type
	switch k[0] {
	case 'i':
		t = daemonpb.MessageId_TYPE_INBOUND
	case 'o':
		t = daemonpb.MessageId_TYPE_OUTBOUND
	default:
		return nil, false
	}
	id, err := strconv.ParseUint(k[1:], 10, 64)
	if err != nil || strconv.FormatUint(id, 10) != k[1:] { // canonical only
		return nil, false
	}
	return &daemonpb.MessageId{Type: t, Id: id}, true
}

// Meta keys of the MetaMessage scope, both directions:
// metaLocalKey(local key) → message id, metaMessageKey(message id) → local key.
func metaLocalKey(localKey string) string { return "l/" + localKey }
func metaMessageKey(msgID string) string  { return "m/" + msgID }

// normalizeID is the network's NormalizeID: lowercases hex ids, refuses
// anything that is not a user or chat id.
func normalizeID(kind pasdk.IDKind, id string) (string, bool) {
	switch kind {
	case pasdk.IDUser:
		n := strings.ToLower(id)
		_, ok := parseUserID(n)
		return n, ok
	case pasdk.IDChat:
		if id == "" {
			return "", false
		}
		n := id[:1] + strings.ToLower(id[1:])
		_, _, ok := parseChatID(n)
		return n, ok
	}
	return "", false
}
