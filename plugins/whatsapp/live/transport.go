// SPDX-License-Identifier: AGPL-3.0-or-later

// Every call the plugin makes to WhatsApp's servers goes through this
// interface.  The deployed plugin uses transport_wa.go (the whatsmeow client
// itself); the test build (tag pa_testsource) swaps in the canned source of
// testsource.go.  Everything that stays local (event dispatch, the session
// store, message building, poll vote decryption) is the real whatsmeow
// client in both.
package main

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

type transport interface {
	Connect() error
	Disconnect()
	IsConnected() bool
	// GetQRChannel must be called before Connect on an unpaired store.
	GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error)
	PairPhone(ctx context.Context, phone string, deviceName string) (string, error)
	Logout(ctx context.Context) error

	SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error)
	// SendPeerMessage sends a protocol message to the account's own phone.
	SendPeerMessage(ctx context.Context, msg *waE2E.Message) (whatsmeow.SendResponse, error)
	Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error)
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)
	SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, mediaKey []byte) error

	MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error
	SendChatPresence(ctx context.Context, chat types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	SendPresence(ctx context.Context, state types.Presence) error

	GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error)
	SetGroupName(ctx context.Context, jid types.JID, name string) error
	SetGroupTopic(ctx context.Context, jid types.JID, topic string) error
	SetGroupPhoto(ctx context.Context, jid types.JID, jpeg []byte) error
	SetDisappearingTimer(ctx context.Context, chat types.JID, timer time.Duration) error
	UpdateGroupParticipants(ctx context.Context, jid types.JID, users []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error)

	IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error)
	GetUserInfo(ctx context.Context, jids []types.JID) (map[types.JID]types.UserInfo, error)
	// ProfilePicture returns the JPEG of a user's or group's picture, nil when there is none.
	ProfilePicture(ctx context.Context, jid types.JID) (data []byte, id string, err error)

	// Close stops what the transport started (the test source's listener).
	Close()
}
