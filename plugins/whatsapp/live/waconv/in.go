// SPDX-License-Identifier: AGPL-3.0-or-later

package waconv

import (
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"passerelle/sdk/go/pasdk"
)

// InKind says what an incoming message is.
type InKind int

const (
	InIgnore         InKind = iota // protocol noise (sender key distribution, app state keys, …)
	InMessage                      // a new message (Content filled)
	InEdit                         // TargetID edited, Content is the new content
	InRevoke                       // TargetID deleted for everyone
	InReaction                     // ReactionKey on TargetID ("" = removed)
	InPollVote                     // an encrypted poll vote on TargetID (the plugin decrypts with whatsmeow)
	InTimer                        // disappearing timer changed to TimerS (0 = off)
	InHistoryRequest               // a protocol message about history sync (the plugin handles it)
)

// Inline is a file made from the message itself (a contact's vCard).
type Inline struct {
	Name, Mimetype string
	Data           []byte
}

// In is one incoming WhatsApp message, converted.
type In struct {
	Kind         InKind
	Content      pasdk.Content
	Media        whatsmeow.DownloadableMessage
	MediaType    whatsmeow.MediaType
	Inline       *Inline
	TargetID     string
	ReactionKey  string
	TimerS       uint32
	ViewOnce     bool
	LiveLocation bool
	PollOptions  []string
	Mentions     []string
}

// FromWA converts one incoming message.
func FromWA(info *types.MessageInfo, msg *waE2E.Message, mention func(userID string) (string, bool)) In {
	return In{Kind: InIgnore}
}

// PollVoteText renders a decrypted poll vote.
func PollVoteText(selected [][]byte, options []string) string { return "" }
