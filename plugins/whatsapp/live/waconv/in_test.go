// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of incoming messages: every kind built with real waE2E types, and a fuzz target.

package waconv

import (
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"passerelle/sdk/go/pasdk"
)

const (
	alice    = "33612345678@s.whatsapp.net"
	aliceLID = "123456789012@lid"
	group    = "120363012345678901@g.us"
)

func key(id string) *waCommon.MessageKey {
	return &waCommon.MessageKey{RemoteJID: proto.String(group), ID: proto.String(id), Participant: proto.String(alice)}
}

func fp(m *waE2E.Message) *waE2E.FutureProofMessage { return &waE2E.FutureProofMessage{Message: m} }

const vcardJean = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Dupont;Jean;;;\r\nFN:Jean Dupont\r\n" +
	"item1.TEL;waid=33698765432:+33 6 98 76 54 32\r\nitem1.X-ABLabel:Mobile\r\nEMAIL;type=INTERNET:jean@exemple.fr\r\nEND:VCARD"
const vcardMarie = "BEGIN:VCARD\nVERSION:3.0\nFN:Marie-Hélène d\\, Arc\nTEL;type=CELL:+32 470 12 34 56\nEND:VCARD"

var (
	image = &waE2E.ImageMessage{
		URL: proto.String("https://mmg.whatsapp.net/x"), DirectPath: proto.String("/v/t62/x"),
		Mimetype: proto.String("image/jpeg"), Caption: proto.String("Vue de la *plage* 🏖️"),
		FileSHA256: []byte{1}, FileEncSHA256: []byte{2}, MediaKey: []byte{3},
		FileLength: proto.Uint64(123456), Width: proto.Uint32(1280), Height: proto.Uint32(960),
	}
	bareImage = &waE2E.ImageMessage{Mimetype: proto.String("image/png"), DirectPath: proto.String("/p")}
	gif       = &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), GifPlayback: proto.Bool(true),
		Seconds: proto.Uint32(3), Width: proto.Uint32(320), Height: proto.Uint32(240), FileLength: proto.Uint64(9000)}
	ptv   = &waE2E.VideoMessage{Mimetype: proto.String("video/mp4"), Seconds: proto.Uint32(12)}
	voice = &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true),
		Seconds: proto.Uint32(7), FileLength: proto.Uint64(4242)}
	song = &waE2E.AudioMessage{Mimetype: proto.String("audio/mpeg"), Seconds: proto.Uint32(185)}
	doc  = &waE2E.DocumentMessage{Mimetype: proto.String("application/pdf"), FileName: proto.String("Facture n°12.pdf"),
		Title: proto.String("Facture"), Caption: proto.String("la facture"), FileLength: proto.Uint64(88000)}
	titled  = &waE2E.DocumentMessage{Mimetype: proto.String("application/zip"), Title: proto.String("archive.zip")}
	sticker = &waE2E.StickerMessage{Mimetype: proto.String("image/webp"), Width: proto.Uint32(512), Height: proto.Uint32(512)}
)

type inCase struct {
	name string
	edit types.EditAttribute
	msg  *waE2E.Message
	want In
}

func inCases() []inCase {
	text := func(s string) pasdk.Content { return pasdk.Content{Kind: pasdk.MsgText, Text: s} }
	notice := func(s string) pasdk.Content {
		return pasdk.Content{Kind: pasdk.MsgNotice, Text: s, Flags: pasdk.ContentSystem}
	}
	unknownRaw := &waE2E.Message{}
	raw := protowire.AppendTag(nil, 9999, protowire.BytesType)
	raw = protowire.AppendBytes(raw, []byte("x"))
	if err := proto.Unmarshal(raw, unknownRaw); err != nil {
		panic(err)
	}
	skdm := &waE2E.SenderKeyDistributionMessage{GroupID: proto.String(group), AxolotlSenderKeyDistributionMessage: []byte{1, 2}}
	return []inCase{
		{name: "conversation", msg: &waE2E.Message{Conversation: proto.String("Bonjour, ça va ?")},
			want: In{Kind: InMessage, Content: text("Bonjour, ça va ?")}},
		{name: "conversation with markup", msg: &waE2E.Message{Conversation: proto.String("c'est *très* _important_")},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgText, Text: "c'est *très* _important_",
				HTML: "c&#39;est <b>très</b> <i>important</i>"}}},
		{name: "reply with mentions and timer", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("@33612345678 et @123456789012 : d'accord"),
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("3EB0QUOTED"), Participant: proto.String(alice),
				QuotedMessage: &waE2E.Message{Conversation: proto.String("on y va ?")},
				MentionedJID:  []string{alice, aliceLID}, Expiration: proto.Uint32(86400)}}},
			want: In{Kind: InMessage, TimerS: 86400, Mentions: []string{alice, aliceLID}, Content: pasdk.Content{
				Kind: pasdk.MsgText, Text: "@Élise et @Bob <b> : d'accord", ReplyTo: "3EB0QUOTED",
				HTML: "@Élise et @Bob &lt;b&gt; : d&#39;accord"}}},
		{name: "mention not listed stays digits", msg: &waE2E.Message{Conversation: proto.String("@33612345678 bonjour")},
			want: In{Kind: InMessage, Content: text("@33612345678 bonjour")}},
		{name: "mention of an unnamed phone", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("salut @33700000001"), ContextInfo: &waE2E.ContextInfo{MentionedJID: []string{"33700000001@s.whatsapp.net"}}}},
			want: In{Kind: InMessage, Mentions: []string{"33700000001@s.whatsapp.net"}, Content: pasdk.Content{
				Kind: pasdk.MsgText, Text: "salut @+33700000001", HTML: "salut @+33700000001"}}},
		{name: "link preview kept as text", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("regarde https://exemple.fr/un_article"), MatchedText: proto.String("https://exemple.fr/un_article"),
			Title: proto.String("Un article"), Description: proto.String("Résumé"), JPEGThumbnail: []byte{0xff, 0xd8}}},
			want: In{Kind: InMessage, Content: text("regarde https://exemple.fr/un_article")}},
		{name: "forwarded", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("la blague du jour"), ContextInfo: &waE2E.ContextInfo{IsForwarded: proto.Bool(true), ForwardingScore: proto.Uint32(1)}}},
			want: In{Kind: InMessage, Content: text("↪ Forwarded\nla blague du jour")}},
		{name: "forwarded many times, formatted", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("*urgent*"), ContextInfo: &waE2E.ContextInfo{IsForwarded: proto.Bool(true), ForwardingScore: proto.Uint32(7)}}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgText, Text: "↪ Forwarded many times\n*urgent*",
				HTML: "<i>↪ Forwarded many times</i><br><b>urgent</b>"}}},
		{name: "forwarded from a channel", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("actualité"), ContextInfo: &waE2E.ContextInfo{IsForwarded: proto.Bool(true),
				ForwardedNewsletterMessageInfo: &waE2E.ContextInfo_ForwardedNewsletterMessageInfo{NewsletterName: proto.String("Le Journal")}}}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgText, Text: "actualité", ForwardedFrom: "Le Journal"}}},
		{name: "reply to a status", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("joli"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("S1"), RemoteJID: proto.String("status@broadcast"),
				QuotedMessage: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("mes vacances\nà Nice")}}}}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgText, Text: "> mes vacances\n> à Nice\njoli",
				HTML: "<blockquote>mes vacances<br>à Nice</blockquote>joli"}}},
		{name: "private reply to another group's message", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("en privé"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("G1"), RemoteJID: proto.String("120363099999999999@g.us")}}},
			want: In{Kind: InMessage, Content: text("en privé")}},
		{name: "reply naming this group", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("oui"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("G2"), RemoteJID: proto.String(group)}}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgText, Text: "oui", ReplyTo: "G2"}}},
		{name: "reply naming a DM by its number", msg: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("oui"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("D1"), RemoteJID: proto.String(alice)}}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgText, Text: "oui", ReplyTo: "D1"}}},
		{name: "disappearing", msg: &waE2E.Message{EphemeralMessage: fp(&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
			Text: proto.String("éphémère"), ContextInfo: &waE2E.ContextInfo{Expiration: proto.Uint32(604800)}}})},
			want: In{Kind: InMessage, TimerS: 604800, Content: text("éphémère")}},
		{name: "device sent", msg: &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{
			DestinationJID: proto.String(alice), Message: &waE2E.Message{Conversation: proto.String("depuis mon téléphone")}}},
			want: In{Kind: InMessage, Content: text("depuis mon téléphone")}},
		{name: "bot invoke", msg: &waE2E.Message{BotInvokeMessage: fp(&waE2E.Message{Conversation: proto.String("réponse du bot")})},
			want: In{Kind: InMessage, Content: text("réponse du bot")}},
		{name: "group mentioned", msg: &waE2E.Message{GroupMentionedMessage: fp(&waE2E.Message{Conversation: proto.String("@tous")})},
			want: In{Kind: InMessage, Content: text("@tous")}},
		{name: "sender key and text", msg: &waE2E.Message{SenderKeyDistributionMessage: skdm, Conversation: proto.String("premier")},
			want: In{Kind: InMessage, Content: text("premier")}},
		{name: "image", msg: &waE2E.Message{ImageMessage: image},
			want: In{Kind: InMessage, Media: image, MediaType: whatsmeow.MediaImage, Content: pasdk.Content{
				Kind: pasdk.MsgImage, Text: "Vue de la *plage* 🏖️", HTML: "Vue de la <b>plage</b> 🏖️",
				MediaName: "image.jpg", Mimetype: "image/jpeg", MediaSize: 123456, Width: 1280, Height: 960}}},
		{name: "view once", msg: &waE2E.Message{ViewOnceMessageV2: fp(&waE2E.Message{ImageMessage: bareImage})},
			want: In{Kind: InMessage, ViewOnce: true, Media: bareImage, MediaType: whatsmeow.MediaImage, Content: pasdk.Content{
				Kind: pasdk.MsgImage, MediaName: "image.png", Mimetype: "image/png"}}},
		{name: "view once v1 and extension", msg: &waE2E.Message{ViewOnceMessage: fp(&waE2E.Message{ViewOnceMessageV2Extension: fp(&waE2E.Message{AudioMessage: voice})})},
			want: In{Kind: InMessage, ViewOnce: true, Media: voice, MediaType: whatsmeow.MediaAudio, Content: pasdk.Content{
				Kind: pasdk.MsgVoice, MediaName: "voice message.ogg", Mimetype: "audio/ogg; codecs=opus", MediaSize: 4242, DurationMS: 7000}}},
		{name: "album child", msg: &waE2E.Message{AssociatedChildMessage: fp(&waE2E.Message{ImageMessage: bareImage})},
			want: In{Kind: InMessage, Media: bareImage, MediaType: whatsmeow.MediaImage, Content: pasdk.Content{
				Kind: pasdk.MsgImage, MediaName: "image.png", Mimetype: "image/png"}}},
		{name: "album announcement", msg: &waE2E.Message{AlbumMessage: &waE2E.AlbumMessage{ExpectedImageCount: proto.Uint32(3)}},
			want: In{Kind: InIgnore}},
		{name: "gif", msg: &waE2E.Message{VideoMessage: gif},
			want: In{Kind: InMessage, Media: gif, MediaType: whatsmeow.MediaVideo, Content: pasdk.Content{
				Kind: pasdk.MsgVideo, MediaName: "animation.mp4", Mimetype: "video/mp4", MediaSize: 9000,
				Width: 320, Height: 240, DurationMS: 3000}}},
		{name: "round video", msg: &waE2E.Message{PtvMessage: ptv},
			want: In{Kind: InMessage, Media: ptv, MediaType: whatsmeow.MediaVideo, Content: pasdk.Content{
				Kind: pasdk.MsgVideo, MediaName: "video.mp4", Mimetype: "video/mp4", DurationMS: 12000}}},
		{name: "audio", msg: &waE2E.Message{AudioMessage: song},
			want: In{Kind: InMessage, Media: song, MediaType: whatsmeow.MediaAudio, Content: pasdk.Content{
				Kind: pasdk.MsgAudio, MediaName: "audio.mp3", Mimetype: "audio/mpeg", DurationMS: 185000}}},
		{name: "document with caption", msg: &waE2E.Message{DocumentWithCaptionMessage: fp(&waE2E.Message{DocumentMessage: doc})},
			want: In{Kind: InMessage, Media: doc, MediaType: whatsmeow.MediaDocument, Content: pasdk.Content{
				Kind: pasdk.MsgFile, Text: "la facture", MediaName: "Facture n°12.pdf", Mimetype: "application/pdf", MediaSize: 88000}}},
		{name: "document named by its title", msg: &waE2E.Message{DocumentMessage: titled},
			want: In{Kind: InMessage, Media: titled, MediaType: whatsmeow.MediaDocument, Content: pasdk.Content{
				Kind: pasdk.MsgFile, MediaName: "archive.zip", Mimetype: "application/zip"}}},
		{name: "sticker", msg: &waE2E.Message{StickerMessage: sticker},
			want: In{Kind: InMessage, Media: sticker, MediaType: whatsmeow.MediaImage, Content: pasdk.Content{
				Kind: pasdk.MsgSticker, MediaName: "sticker.webp", Mimetype: "image/webp", Width: 512, Height: 512}}},
		{name: "lottie sticker", msg: &waE2E.Message{LottieStickerMessage: fp(&waE2E.Message{StickerMessage: sticker})},
			want: In{Kind: InMessage, Media: sticker, MediaType: whatsmeow.MediaImage, Content: pasdk.Content{
				Kind: pasdk.MsgSticker, MediaName: "sticker.webp", Mimetype: "image/webp", Width: 512, Height: 512}}},
		{name: "location", msg: &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(48.8584), DegreesLongitude: proto.Float64(2.2945),
			Name: proto.String("Tour Eiffel"), Address: proto.String("Champ de Mars, Paris")}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgLocation, Latitude: 48.8584, Longitude: 2.2945,
				Text: "Tour Eiffel, Champ de Mars, Paris"}}},
		{name: "location marked live", msg: &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(45.76), DegreesLongitude: proto.Float64(4.83), IsLive: proto.Bool(true)}},
			want: In{Kind: InMessage, LiveLocation: true, Content: pasdk.Content{Kind: pasdk.MsgLocation, Latitude: 45.76,
				Longitude: 4.83, Text: "Live location"}}},
		{name: "live location", msg: &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{
			DegreesLatitude: proto.Float64(43.2965), DegreesLongitude: proto.Float64(5.3698), Caption: proto.String("j'arrive")}},
			want: In{Kind: InMessage, LiveLocation: true, Content: pasdk.Content{Kind: pasdk.MsgLocation, Latitude: 43.2965,
				Longitude: 5.3698, Text: "Live location: j'arrive"}}},
		{name: "contact", msg: &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Jean Dupont"), Vcard: proto.String(vcardJean)}},
			want: In{Kind: InMessage, Content: text("👤 Jean Dupont\n📞 +33 6 98 76 54 32\n✉️ jean@exemple.fr"),
				Inline: &Inline{Name: "Jean Dupont.vcf", Mimetype: "text/vcard", Data: []byte(vcardJean + "\r\n")}}},
		{name: "contacts", msg: &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{DisplayName: proto.String("2 contacts"),
			Contacts: []*waE2E.ContactMessage{{DisplayName: proto.String("Jean Dupont"), Vcard: proto.String(vcardJean)}, {Vcard: proto.String(vcardMarie)}}}},
			want: In{Kind: InMessage, Content: text("👤 Jean Dupont\n📞 +33 6 98 76 54 32\n✉️ jean@exemple.fr\n\n👤 Marie-Hélène d, Arc\n📞 +32 470 12 34 56"),
				Inline: &Inline{Name: "contacts.vcf", Mimetype: "text/vcard", Data: []byte(vcardJean + "\r\n" + vcardMarie + "\r\n")}}},
		{name: "contact without card", msg: &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("a/b")}},
			want: In{Kind: InMessage, Content: text("👤 a/b")}},
		{name: "poll", msg: &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("Quel jour ?"),
			SelectableOptionsCount: proto.Uint32(1), EncKey: []byte{9},
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Lundi")}, {OptionName: proto.String("Mardi")}}}},
			want: In{Kind: InMessage, PollOptions: []string{"Lundi", "Mardi"}, Content: text("📊 Poll: Quel jour ?\n1. Lundi\n2. Mardi")}},
		{name: "poll v3, several answers", msg: &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Pizzas"),
			SelectableOptionsCount: proto.Uint32(0),
			Options:                []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Reine")}, {OptionName: proto.String("4 fromages")}}}},
			want: In{Kind: InMessage, PollOptions: []string{"Reine", "4 fromages"}, Content: text("📊 Poll: Pizzas\n1. Reine\n2. 4 fromages\n(several answers allowed)")}},
		{name: "poll v2", msg: &waE2E.Message{PollCreationMessageV2: &waE2E.PollCreationMessage{Name: proto.String("Oui ?"),
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("Oui")}}}},
			want: In{Kind: InMessage, PollOptions: []string{"Oui"}, Content: text("📊 Poll: Oui ?\n1. Oui")}},
		{name: "poll vote", msg: &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{PollCreationMessageKey: key("POLL1"),
			Vote: &waE2E.PollEncValue{EncPayload: []byte{1}, EncIV: []byte{2}}}},
			want: In{Kind: InPollVote, TargetID: "POLL1"}},
		{name: "reaction", msg: &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: key("M1"), Text: proto.String("❤️")}},
			want: In{Kind: InReaction, TargetID: "M1", ReactionKey: "❤️"}},
		{name: "reaction removed", msg: &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: key("M1"), Text: proto.String("")}},
			want: In{Kind: InReaction, TargetID: "M1"}},
		{name: "revoke", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: key("M2"), Type: waE2E.ProtocolMessage_REVOKE.Enum()}},
			want: In{Kind: InRevoke, TargetID: "M2"}},
		{name: "admin revoke by attribute", edit: types.EditAttributeAdminRevoke,
			msg:  &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: key("M3")}},
			want: In{Kind: InRevoke, TargetID: "M3"}},
		{name: "protocol message without type", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: key("M3")}},
			want: In{Kind: InIgnore}},
		{name: "edit", edit: types.EditAttributeMessageEdit, msg: &waE2E.Message{EditedMessage: fp(&waE2E.Message{
			ProtocolMessage: &waE2E.ProtocolMessage{Key: key("M4"), Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
				EditedMessage: &waE2E.Message{Conversation: proto.String("corrigé *enfin*")}}})},
			want: In{Kind: InEdit, TargetID: "M4", Content: pasdk.Content{Kind: pasdk.MsgText, Text: "corrigé *enfin*", HTML: "corrigé <b>enfin</b>"}}},
		{name: "edit by attribute only", edit: types.EditAttributeMessageEdit, msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Key: key("M5"), EditedMessage: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("v2")}}}},
			want: In{Kind: InEdit, TargetID: "M5", Content: text("v2")}},
		{name: "caption edit", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: key("M6"),
			Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), EditedMessage: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("nouvelle légende")}}}},
			want: In{Kind: InEdit, TargetID: "M6", Content: text("nouvelle légende")}},
		{name: "timer on", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum(),
			EphemeralExpiration: proto.Uint32(7776000)}},
			want: In{Kind: InTimer, TimerS: 7776000}},
		{name: "timer off", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum()}},
			want: In{Kind: InTimer}},
		{name: "history sync", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
			HistorySyncNotification: &waE2E.HistorySyncNotification{FileLength: proto.Uint64(10)}}},
			want: In{Kind: InHistoryRequest}},
		{name: "app state keys", msg: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_APP_STATE_SYNC_KEY_SHARE.Enum(),
			AppStateSyncKeyShare: &waE2E.AppStateSyncKeyShare{}}},
			want: In{Kind: InIgnore}},
		{name: "sender key only", msg: &waE2E.Message{SenderKeyDistributionMessage: skdm, MessageContextInfo: &waE2E.MessageContextInfo{}},
			want: In{Kind: InIgnore}},
		{name: "empty", msg: &waE2E.Message{}, want: In{Kind: InIgnore}},
		{name: "nil", msg: nil, want: In{Kind: InIgnore}},
		{name: "missed video call", msg: &waE2E.Message{CallLogMesssage: &waE2E.CallLogMessage{IsVideo: proto.Bool(true),
			CallOutcome: waE2E.CallLogMessage_MISSED.Enum()}},
			want: In{Kind: InMessage, Content: notice("📹 Missed video call")}},
		{name: "voice call", msg: &waE2E.Message{CallLogMesssage: &waE2E.CallLogMessage{CallOutcome: waE2E.CallLogMessage_CONNECTED.Enum(),
			DurationSecs: proto.Int64(192)}},
			want: In{Kind: InMessage, Content: notice("📞 Voice call (3 min 12 s)")}},
		{name: "call", msg: &waE2E.Message{Call: &waE2E.Call{CallKey: []byte{1}}},
			want: In{Kind: InMessage, Content: notice("📞 Call; answer it in WhatsApp on your phone")}},
		{name: "group invite", msg: &waE2E.Message{GroupInviteMessage: &waE2E.GroupInviteMessage{GroupJID: proto.String(group),
			InviteCode: proto.String("AbC123"), GroupName: proto.String("Famille"), InviteExpiration: proto.Int64(1767225600),
			Caption: proto.String("rejoins-nous")}},
			want: In{Kind: InMessage, Content: text("Invitation to join the WhatsApp group “Famille”: https://chat.whatsapp.com/AbC123 (valid until 2026-01-01 00:00 UTC)\nrejoins-nous")}},
		{name: "pin", msg: &waE2E.Message{PinInChatMessage: &waE2E.PinInChatMessage{Key: key("M7"), Type: waE2E.PinInChatMessage_PIN_FOR_ALL.Enum()}},
			want: In{Kind: InMessage, Content: pasdk.Content{Kind: pasdk.MsgNotice, Flags: pasdk.ContentSystem, Text: "📌 Pinned a message", ReplyTo: "M7"}}},
		{name: "template", msg: &waE2E.Message{TemplateMessage: &waE2E.TemplateMessage{HydratedTemplate: &waE2E.TemplateMessage_HydratedFourRowTemplate{
			HydratedContentText: proto.String("Votre colis arrive demain"), HydratedFooterText: proto.String("La Poste"),
			HydratedButtons: []*waE2E.HydratedTemplateButton{
				{HydratedButton: &waE2E.HydratedTemplateButton_QuickReplyButton{QuickReplyButton: &waE2E.HydratedTemplateButton_HydratedQuickReplyButton{DisplayText: proto.String("OK")}}},
				{HydratedButton: &waE2E.HydratedTemplateButton_UrlButton{UrlButton: &waE2E.HydratedTemplateButton_HydratedURLButton{DisplayText: proto.String("Suivre"), URL: proto.String("https://exemple.fr/suivi")}}},
			}}}},
			want: In{Kind: InMessage, Content: text("Votre colis arrive demain\nLa Poste\n[OK]\n[Suivre] https://exemple.fr/suivi")}},
		{name: "buttons", msg: &waE2E.Message{ButtonsMessage: &waE2E.ButtonsMessage{ContentText: proto.String("Confirmez-vous ?"),
			Buttons: []*waE2E.ButtonsMessage_Button{{ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: proto.String("Oui")}},
				{ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: proto.String("Non")}}}}},
			want: In{Kind: InMessage, Content: text("Confirmez-vous ?\n[Oui] [Non]")}},
		{name: "list", msg: &waE2E.Message{ListMessage: &waE2E.ListMessage{Title: proto.String("Menu"), Sections: []*waE2E.ListMessage_Section{
			{Title: proto.String("Plats"), Rows: []*waE2E.ListMessage_Row{{Title: proto.String("Quiche"), Description: proto.String("lorraine")}}}}}},
			want: In{Kind: InMessage, Content: text("Menu\nPlats\n- Quiche: lorraine")}},
		{name: "button reply", msg: &waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{
			Response: &waE2E.ButtonsResponseMessage_SelectedDisplayText{SelectedDisplayText: "Oui"}}},
			want: In{Kind: InMessage, Content: text("Oui")}},
		{name: "template reply", msg: &waE2E.Message{TemplateButtonReplyMessage: &waE2E.TemplateButtonReplyMessage{SelectedDisplayText: proto.String("OK")}},
			want: In{Kind: InMessage, Content: text("OK")}},
		{name: "list reply", msg: &waE2E.Message{ListResponseMessage: &waE2E.ListResponseMessage{Title: proto.String("Quiche")}},
			want: In{Kind: InMessage, Content: text("Quiche")}},
		{name: "interactive reply", msg: &waE2E.Message{InteractiveResponseMessage: &waE2E.InteractiveResponseMessage{
			Body: &waE2E.InteractiveResponseMessage_Body{Text: proto.String("Choisi : B")}}},
			want: In{Kind: InMessage, Content: text("Choisi : B")}},
		{name: "event", msg: &waE2E.Message{EventMessage: &waE2E.EventMessage{Name: proto.String("Apéro"), StartTime: proto.Int64(1767287700),
			Location: &waE2E.LocationMessage{Name: proto.String("Chez Paul")}}},
			want: In{Kind: InMessage, Content: text("📅 Event: Apéro\nStarts 2026-01-01 17:15 UTC\nChez Paul")}},
		{name: "HD copy of a photo", msg: &waE2E.Message{
			MessageContextInfo: &waE2E.MessageContextInfo{MessageAssociation: &waE2E.MessageAssociation{
				AssociationType: waE2E.MessageAssociation_HD_IMAGE_DUAL_UPLOAD.Enum(), ParentMessageKey: key("SD1")}},
			AssociatedChildMessage: fp(&waE2E.Message{ImageMessage: bareImage})},
			want: In{Kind: InIgnore}},
		{name: "caption edit of an HD copy", edit: types.EditAttributeMessageEdit, msg: &waE2E.Message{
			MessageContextInfo: &waE2E.MessageContextInfo{MessageAssociation: &waE2E.MessageAssociation{
				AssociationType: waE2E.MessageAssociation_HD_IMAGE_DUAL_UPLOAD.Enum(), ParentMessageKey: key("SD2")}},
			EditedMessage: fp(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: key("HD2"), Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
				EditedMessage: &waE2E.Message{AssociatedChildMessage: fp(&waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("mieux")}})}}})},
			want: In{Kind: InEdit, TargetID: "SD2", Content: text("mieux")}},
		{name: "event response", msg: &waE2E.Message{EncEventResponseMessage: &waE2E.EncEventResponseMessage{EncPayload: []byte{1}}},
			want: In{Kind: InIgnore}},
		{name: "highly structured", msg: &waE2E.Message{HighlyStructuredMessage: &waE2E.HighlyStructuredMessage{
			HydratedHsm: &waE2E.TemplateMessage{HydratedTemplate: &waE2E.TemplateMessage_HydratedFourRowTemplate{
				HydratedContentText: proto.String("Code : 123456")}}}},
			want: In{Kind: InMessage, Content: text("Code : 123456")}},
		{name: "product", msg: &waE2E.Message{ProductMessage: &waE2E.ProductMessage{}},
			want: In{Kind: InMessage, Content: notice("unsupported message type productMessage; open WhatsApp on your phone to see it")}},
		{name: "unknown to this proto", msg: unknownRaw,
			want: In{Kind: InMessage, Content: notice("unsupported message type #9999; open WhatsApp on your phone to see it")}},
	}
}

func TestFromWA(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range inCases() {
		if seen[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		seen[c.name] = true
		info := &types.MessageInfo{ID: "ID1", Edit: c.edit}
		info.Chat, _ = types.ParseJID(group)
		info.Sender, _ = types.ParseJID(alice)
		got := FromWA(info, c.msg, names)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestFromWANilInfoAndResolver(t *testing.T) {
	got := FromWA(nil, &waE2E.Message{Conversation: proto.String("*x*")}, nil)
	if got.Kind != InMessage || got.Content.HTML != "<b>x</b>" {
		t.Errorf("got %+v", got)
	}
}

func TestNestedEditsStop(t *testing.T) {
	m := &waE2E.Message{Conversation: proto.String("fond")}
	for i := 0; i < 100; i++ {
		m = &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: key("E"), Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), EditedMessage: m}}
	}
	if got := FromWA(nil, m, nil); got.Kind != InIgnore {
		t.Errorf("got %+v", got)
	}
}

func TestPollVoteText(t *testing.T) {
	opts := []string{"Lundi", "Mardi", "Mercredi"}
	h := func(s string) []byte { x := sha256.Sum256([]byte(s)); return x[:] }
	cases := []struct {
		sel  [][]byte
		want string
	}{
		{nil, "withdrew their vote"},
		{[][]byte{h("Mardi")}, "voted for: Mardi"},
		{[][]byte{h("Mercredi"), h("Lundi")}, "voted for: Lundi, Mercredi"},
		{[][]byte{h("Dimanche")}, "voted for: 1 unknown option"},
		{[][]byte{h("Lundi"), {1, 2}, h("Jeudi")}, "voted for: Lundi, 2 unknown options"},
		{[][]byte{h("Mardi"), h("Mardi")}, "voted for: Mardi"},
	}
	for _, c := range cases {
		if got := PollVoteText(c.sel, opts); got != c.want {
			t.Errorf("PollVoteText(%d) = %q, want %q", len(c.sel), got, c.want)
		}
	}
}

func FuzzFromWA(f *testing.F) {
	for _, c := range inCases() {
		if c.msg == nil {
			continue
		}
		b, err := proto.Marshal(c.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, string(c.edit))
	}
	f.Fuzz(func(t *testing.T, b []byte, edit string) {
		var m waE2E.Message
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		in := FromWA(&types.MessageInfo{Edit: types.EditAttribute(edit)}, &m, names)
		if in.Kind == InMessage && in.Content.Text == "" && in.Media == nil && in.Content.Kind != pasdk.MsgLocation {
			t.Fatalf("a message with nothing to show: %+v", in)
		}
		if strings.Contains(in.Content.HTML, "<script") {
			t.Fatalf("unescaped HTML: %q", in.Content.HTML)
		}
	})
}
