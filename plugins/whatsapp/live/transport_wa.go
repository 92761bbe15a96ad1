// SPDX-License-Identifier: AGPL-3.0-or-later

// The real transport: WhatsApp's servers through the whatsmeow client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

type waTransport struct{ cli *whatsmeow.Client }

func (t waTransport) Connect() error    { return t.cli.Connect() }
func (t waTransport) Disconnect()       { t.cli.Disconnect() }
func (t waTransport) IsConnected() bool { return t.cli.IsConnected() }
func (t waTransport) Close()            {}

func (t waTransport) GetQRChannel(ctx context.Context) (<-chan whatsmeow.QRChannelItem, error) {
	return t.cli.GetQRChannel(ctx)
}

func (t waTransport) PairPhone(ctx context.Context, phone, deviceName string) (string, error) {
	// WhatsApp checks the display name's shape: "Browser (OS)".
	return t.cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome ("+deviceName+")")
}

func (t waTransport) Logout(ctx context.Context) error { return t.cli.Logout(ctx) }

func (t waTransport) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, id types.MessageID) (whatsmeow.SendResponse, error) {
	return t.cli.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: id})
}

func (t waTransport) SendPeerMessage(ctx context.Context, msg *waE2E.Message) (whatsmeow.SendResponse, error) {
	return t.cli.SendPeerMessage(ctx, msg)
}

func (t waTransport) Upload(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	return t.cli.Upload(ctx, data, mt)
}

func (t waTransport) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	return t.cli.Download(ctx, msg)
}

func (t waTransport) SendMediaRetryReceipt(ctx context.Context, info *types.MessageInfo, mediaKey []byte) error {
	return t.cli.SendMediaRetryReceipt(ctx, info, mediaKey)
}

func (t waTransport) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID) error {
	return t.cli.MarkRead(ctx, ids, ts, chat, sender)
}

func (t waTransport) SendChatPresence(ctx context.Context, chat types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	return t.cli.SendChatPresence(ctx, chat, state, media)
}

func (t waTransport) SendPresence(ctx context.Context, state types.Presence) error {
	return t.cli.SendPresence(ctx, state)
}

func (t waTransport) GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error) {
	return t.cli.GetGroupInfo(ctx, jid)
}

func (t waTransport) SetGroupName(ctx context.Context, jid types.JID, name string) error {
	return t.cli.SetGroupName(ctx, jid, name)
}

func (t waTransport) SetGroupTopic(ctx context.Context, jid types.JID, topic string) error {
	return t.cli.SetGroupTopic(ctx, jid, "", "", topic)
}

func (t waTransport) SetGroupPhoto(ctx context.Context, jid types.JID, jpeg []byte) error {
	_, err := t.cli.SetGroupPhoto(ctx, jid, jpeg)
	return err
}

func (t waTransport) SetDisappearingTimer(ctx context.Context, chat types.JID, timer time.Duration) error {
	return t.cli.SetDisappearingTimer(ctx, chat, timer, time.Now())
}

func (t waTransport) UpdateGroupParticipants(ctx context.Context, jid types.JID, users []types.JID, action whatsmeow.ParticipantChange) ([]types.GroupParticipant, error) {
	return t.cli.UpdateGroupParticipants(ctx, jid, users, action)
}

func (t waTransport) IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error) {
	return t.cli.IsOnWhatsApp(ctx, phones)
}

func (t waTransport) GetUserInfo(ctx context.Context, jids []types.JID) (map[types.JID]types.UserInfo, error) {
	return t.cli.GetUserInfo(ctx, jids)
}

// maxAvatarBytes caps a profile picture download (WhatsApp's are ~50 KB).
const maxAvatarBytes = 4 << 20

func (t waTransport) ProfilePicture(ctx context.Context, jid types.JID) ([]byte, string, error) {
	info, err := t.cli.GetProfilePictureInfo(ctx, jid, &whatsmeow.GetProfilePictureParams{})
	if errors.Is(err, whatsmeow.ErrProfilePictureNotSet) || errors.Is(err, whatsmeow.ErrProfilePictureUnauthorized) || info == nil {
		return nil, "", nil
	} else if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.URL, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("profile picture: HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAvatarBytes))
	return data, info.ID, err
}
