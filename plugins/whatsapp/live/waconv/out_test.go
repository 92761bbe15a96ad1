// SPDX-License-Identifier: AGPL-3.0-or-later

// Tests of outgoing messages, checked field by field and read back through FromWA.

package waconv

import (
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"passerelle/sdk/go/pasdk"
)

var upload = whatsmeow.UploadResponse{
	URL: "https://mmg.whatsapp.net/v/t62.7118-24/x.enc", DirectPath: "/v/t62.7118-24/x.enc",
	MediaKey: []byte{1, 1}, FileEncSHA256: []byte{2, 2}, FileSHA256: []byte{3, 3}, FileLength: 2048,
}

func check(t *testing.T, name string, got, want *waE2E.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", name, prototext.Format(got), prototext.Format(want))
	}
}

func TestTextMessage(t *testing.T) {
	alice := types.NewJID("33612345678", types.DefaultUserServer)
	aliceDevice := alice
	aliceDevice.Device = 3
	quoted := &waE2E.Message{Conversation: proto.String("la question")}
	cases := []struct {
		name  string
		c     pasdk.Content
		reply *ReplyTo
		timer uint32
		want  *waE2E.Message
	}{
		{"plain", pasdk.Content{Kind: pasdk.MsgText, Text: "Bonjour à tous"}, nil, 0,
			&waE2E.Message{Conversation: proto.String("Bonjour à tous")}},
		{"html", pasdk.Content{Kind: pasdk.MsgText, Text: "**gras** et _it_", HTML: "<strong>gras</strong> et <em>it</em>"}, nil, 0,
			&waE2E.Message{Conversation: proto.String("*gras* et _it_")}},
		{"notice", pasdk.Content{Kind: pasdk.MsgNotice, Text: "info"}, nil, 0,
			&waE2E.Message{Conversation: proto.String("info")}},
		{"emote", pasdk.Content{Kind: pasdk.MsgEmote, Text: "danse"}, nil, 0,
			&waE2E.Message{Conversation: proto.String("* danse")}},
		{"reply, rich fallback dropped", pasdk.Content{Kind: pasdk.MsgText, Text: "> <@a:b> q\n\noui",
			HTML: "<mx-reply><blockquote>q</blockquote></mx-reply>oui"}, &ReplyTo{ID: "3EB0", Sender: aliceDevice, Quoted: quoted}, 0,
			&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("oui"), ContextInfo: &waE2E.ContextInfo{
				StanzaID: proto.String("3EB0"), QuotedType: waE2E.ContextInfo_EXPLICIT.Enum(), Participant: proto.String("33612345678@s.whatsapp.net"), QuotedMessage: quoted}}}},
		{"reply without the quoted message", pasdk.Content{Kind: pasdk.MsgText, Text: "oui"}, &ReplyTo{ID: "3EB1"}, 0,
			&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("oui"), ContextInfo: &waE2E.ContextInfo{
				StanzaID: proto.String("3EB1"), QuotedType: waE2E.ContextInfo_EXPLICIT.Enum(), QuotedMessage: &waE2E.Message{Conversation: proto.String("")}}}}},
		{"disappearing", pasdk.Content{Kind: pasdk.MsgText, Text: "secret"}, nil, 86400,
			&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("secret"),
				ContextInfo: &waE2E.ContextInfo{Expiration: proto.Uint32(86400)}}}},
		{"html with nothing to show", pasdk.Content{Kind: pasdk.MsgText, Text: "texte", HTML: "<mx-reply>q</mx-reply>"}, nil, 0,
			&waE2E.Message{Conversation: proto.String("texte")}},
		{"empty reply id is no reply", pasdk.Content{Kind: pasdk.MsgText, Text: "x"}, &ReplyTo{}, 0,
			&waE2E.Message{Conversation: proto.String("x")}},
	}
	for _, c := range cases {
		check(t, c.name, TextMessage(&c.c, c.reply, c.timer), c.want)
	}
}

func TestMediaMessage(t *testing.T) {
	thumb := []byte{0xff, 0xd8, 0xff}
	reply := &ReplyTo{ID: "R1", Quoted: &waE2E.Message{Conversation: proto.String("q")}}
	replyCI := &waE2E.ContextInfo{StanzaID: proto.String("R1"), QuotedType: waE2E.ContextInfo_EXPLICIT.Enum(), QuotedMessage: &waE2E.Message{Conversation: proto.String("q")}, Expiration: proto.Uint32(3600)}
	u := upload
	cases := []struct {
		name  string
		c     pasdk.Content
		thumb []byte
		reply *ReplyTo
		timer uint32
		want  *waE2E.Message
	}{
		{"image", pasdk.Content{Kind: pasdk.MsgImage, Text: "la vue", MediaName: "vue.jpg", Mimetype: "image/jpeg", Width: 800, Height: 600},
			thumb, nil, 0, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("image/jpeg"), Caption: proto.String("la vue"),
				Width: proto.Uint32(800), Height: proto.Uint32(600), JPEGThumbnail: thumb}}},
		{"image named by its body, reply, timer", pasdk.Content{Kind: pasdk.MsgImage, Text: "IMG_0001.png", MediaName: "IMG_0001.png", Mimetype: "image/png"},
			nil, reply, 3600, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("image/png"), ContextInfo: replyCI}}},
		{"html caption", pasdk.Content{Kind: pasdk.MsgVideo, Text: "**vite**", HTML: "<b>vite</b>", MediaName: "v.mp4", Mimetype: "video/mp4", DurationMS: 12300},
			nil, nil, 0, &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("video/mp4"), Caption: proto.String("*vite*"), Seconds: proto.Uint32(13)}}},
		{"voice", pasdk.Content{Kind: pasdk.MsgVoice, Text: "Voice message", MediaName: "Voice message", Mimetype: "audio/ogg", DurationMS: 300},
			nil, nil, 0, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("audio/ogg; codecs=opus"), Seconds: proto.Uint32(1), PTT: proto.Bool(true)}}},
		{"audio", pasdk.Content{Kind: pasdk.MsgAudio, MediaName: "chanson.mp3", Mimetype: "audio/mpeg", DurationMS: 185000},
			nil, nil, 0, &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("audio/mpeg"), Seconds: proto.Uint32(185)}}},
		{"file", pasdk.Content{Kind: pasdk.MsgFile, Text: "le rapport", MediaName: "Rapport 2026.pdf", Mimetype: "application/pdf"},
			thumb, nil, 0, &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("application/pdf"), FileName: proto.String("Rapport 2026.pdf"),
				Title: proto.String("Rapport 2026.pdf"), Caption: proto.String("le rapport"), JPEGThumbnail: thumb}}}}},
		{"file without name or type", pasdk.Content{Kind: pasdk.MsgFile},
			nil, nil, 0, &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("application/octet-stream"), FileName: proto.String("file"), Title: proto.String("file")}}},
		{"sticker", pasdk.Content{Kind: pasdk.MsgSticker, Text: "😀", MediaName: "s.webp", Mimetype: "image/webp", Width: 512, Height: 512},
			nil, nil, 0, &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("image/webp"), Width: proto.Uint32(512), Height: proto.Uint32(512)}}},
		{"png sticker goes as an image", pasdk.Content{Kind: pasdk.MsgSticker, Text: "s.png", MediaName: "s.png", Mimetype: "image/png"},
			nil, nil, 0, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				URL: &u.URL, DirectPath: &u.DirectPath, MediaKey: u.MediaKey, FileEncSHA256: u.FileEncSHA256, FileSHA256: u.FileSHA256,
				FileLength: proto.Uint64(2048), Mimetype: proto.String("image/png")}}},
	}
	for _, c := range cases {
		check(t, c.name, MediaMessage(&c.c, upload, c.thumb, c.reply, c.timer), c.want)
	}
	// The size falls back to the content's when the upload has none.
	noLen := upload
	noLen.FileLength = 0
	m := MediaMessage(&pasdk.Content{Kind: pasdk.MsgImage, MediaSize: 77}, noLen, nil, nil, 0)
	if m.GetImageMessage().GetFileLength() != 77 || m.GetImageMessage().GetMimetype() != "image/jpeg" {
		t.Errorf("fallbacks: %s", prototext.Format(m))
	}
}

func TestMediaTypeFor(t *testing.T) {
	want := map[pasdk.MsgKind]whatsmeow.MediaType{
		pasdk.MsgImage: whatsmeow.MediaImage, pasdk.MsgSticker: whatsmeow.MediaImage, pasdk.MsgVideo: whatsmeow.MediaVideo,
		pasdk.MsgAudio: whatsmeow.MediaAudio, pasdk.MsgVoice: whatsmeow.MediaAudio, pasdk.MsgFile: whatsmeow.MediaDocument,
		pasdk.MsgText: whatsmeow.MediaDocument,
	}
	for k, v := range want {
		if got := MediaTypeFor(k); got != v {
			t.Errorf("MediaTypeFor(%d) = %q, want %q", k, got, v)
		}
	}
}

func TestLocationMessage(t *testing.T) {
	cases := []struct {
		text string
		name *string
	}{
		{"Tour Eiffel", proto.String("Tour Eiffel")},
		{"Location geo:48.858400,2.294500", nil},
		{"Location: geo:48.8584,2.2945", nil},
		{"Rendez-vous ici geo:48.8584,2.2945", proto.String("Rendez-vous ici")},
		{"", nil},
	}
	for _, c := range cases {
		got := LocationMessage(&pasdk.Content{Kind: pasdk.MsgLocation, Text: c.text, Latitude: 48.8584, Longitude: 2.2945}, &ReplyTo{ID: "L"}, 60)
		want := &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(48.8584), DegreesLongitude: proto.Float64(2.2945), Name: c.name,
			ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("L"), QuotedType: waE2E.ContextInfo_EXPLICIT.Enum(), QuotedMessage: &waE2E.Message{Conversation: proto.String("")},
				Expiration: proto.Uint32(60)}}}
		check(t, c.text, got, want)
	}
	c := pasdk.Content{Kind: pasdk.MsgLocation, Latitude: 1, Longitude: 2}
	check(t, "media of a location", MediaMessage(&c, upload, nil, nil, 0), LocationMessage(&c, nil, 0))
}

// What the plugin sends reads back, through FromWA, as what the agent sent.
func TestOutgoingReadsBack(t *testing.T) {
	contents := []pasdk.Content{
		{Kind: pasdk.MsgText, Text: "*gras* et _italique_", HTML: "<b>gras</b> et <i>italique</i>"},
		{Kind: pasdk.MsgImage, Text: "légende", MediaName: "image.jpg", Mimetype: "image/jpeg", Width: 10, Height: 20, MediaSize: 2048},
		{Kind: pasdk.MsgVideo, MediaName: "video.mp4", Mimetype: "video/mp4", DurationMS: 5000, MediaSize: 2048},
		{Kind: pasdk.MsgVoice, MediaName: "voice message.ogg", Mimetype: "audio/ogg; codecs=opus", DurationMS: 4000, MediaSize: 2048},
		{Kind: pasdk.MsgFile, Text: "voici", MediaName: "a.pdf", Mimetype: "application/pdf", MediaSize: 2048},
		{Kind: pasdk.MsgSticker, MediaName: "sticker.webp", Mimetype: "image/webp", Width: 512, Height: 512, MediaSize: 2048},
		{Kind: pasdk.MsgLocation, Text: "Gare de Lyon", Latitude: 48.844, Longitude: 2.374},
	}
	for _, c := range contents {
		var m *waE2E.Message
		switch c.Kind {
		case pasdk.MsgText:
			m = TextMessage(&c, &ReplyTo{ID: "Q"}, 0)
			c.ReplyTo = "Q"
		case pasdk.MsgLocation:
			m = LocationMessage(&c, nil, 0)
		default:
			m = MediaMessage(&c, upload, nil, nil, 0)
		}
		in := FromWA(nil, m, nil)
		if in.Kind != InMessage || in.Content != c {
			t.Errorf("%d:\n sent %+v\n read %+v", c.Kind, c, in.Content)
		}
	}
}
