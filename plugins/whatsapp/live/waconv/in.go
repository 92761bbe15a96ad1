// SPDX-License-Identifier: AGPL-3.0-or-later

// Incoming WhatsApp messages (waE2E protobufs) to what the plugin emits.

package waconv

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

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
	Kind InKind
	// Content (InMessage, InEdit): Kind, Text, HTML, ReplyTo (the WhatsApp
	// id of the quoted message), ForwardedFrom, media metadata, location,
	// Flags.  MediaPath is left to the plugin, which downloads Media.
	Content      pasdk.Content
	Media        whatsmeow.DownloadableMessage // non-nil when the message carries a file to download
	MediaType    whatsmeow.MediaType
	Inline       *Inline // a vCard: the plugin sends it as a file message after the text
	TargetID     string
	ReactionKey  string
	TimerS       uint32 // InTimer: the new timer; messages: their ephemeral expiration (0 none)
	ViewOnce     bool
	LiveLocation bool
	PollOptions  []string // a poll's options, to render votes later
	Mentions     []string // user ids mentioned
}

// maxDepth bounds wrappers and edits within edits: real messages nest a
// few levels, hostile ones could nest thousands.
const maxDepth = 16

// FromWA converts one incoming message (raw or already unwrapped by
// whatsmeow).  mention names a mentioned user id, ok false when unknown.
func FromWA(info *types.MessageInfo, msg *waE2E.Message, mention func(userID string) (string, bool)) In {
	if info == nil {
		info = &types.MessageInfo{}
	}
	return fromWA(info, msg, mention, 0)
}

func fromWA(info *types.MessageInfo, msg *waE2E.Message, mention func(string) (string, bool), depth int) In {
	var in In
	var assoc *waE2E.MessageAssociation
	msg, in.ViewOnce, assoc = unwrap(msg)
	if msg == nil || depth > maxDepth {
		return In{Kind: InIgnore}
	}
	switch ty := assoc.GetAssociationType(); {
	case depth > 0:
	case ty == waE2E.MessageAssociation_HD_IMAGE_DUAL_UPLOAD, ty == waE2E.MessageAssociation_HD_VIDEO_DUAL_UPLOAD,
		ty == waE2E.MessageAssociation_HEVC_VIDEO_DUAL_UPLOAD, ty == waE2E.MessageAssociation_MOTION_PHOTO:
		// A better copy of a photo or video already sent: the first copy
		// stays; an edit of the copy's caption edits the first one.
		pm := msg.GetProtocolMessage()
		parent := assoc.GetParentMessageKey().GetID()
		if pm == nil || parent == "" {
			return In{Kind: InIgnore}
		}
		e := protocol(info, pm, mention, depth)
		if e.Kind == InEdit {
			e.TargetID = parent
			return e
		}
		return In{Kind: InIgnore}
	}
	if pm := msg.GetProtocolMessage(); pm != nil {
		return protocol(info, pm, mention, depth)
	}
	if rm := msg.GetReactionMessage(); rm != nil {
		return In{Kind: InReaction, TargetID: rm.GetKey().GetID(), ReactionKey: rm.GetText()}
	}
	if pu := msg.GetPollUpdateMessage(); pu != nil {
		return In{Kind: InPollVote, TargetID: pu.GetPollCreationMessageKey().GetID()}
	}
	if !content(&in, msg) {
		name, noise := unknownField(msg)
		if noise {
			return In{Kind: InIgnore}
		}
		in.Content = pasdk.Content{
			Kind:  pasdk.MsgNotice,
			Text:  "unsupported message type " + name + "; open WhatsApp on your phone to see it",
			Flags: pasdk.ContentSystem,
		}
	}
	in.Kind = InMessage
	ci := contextOf(msg)
	in.TimerS = ci.GetExpiration()
	if id := ci.GetStanzaID(); id != "" {
		if elsewhere(info, ci.GetRemoteJID()) {
			// A reply to a status, or a private reply to a group's
			// message: the quoted message is not in this room, so
			// its text is quoted instead.
			if q := quotedText(ci.GetQuotedMessage()); q != "" && formatted(in.Content.Kind) {
				in.Content.Text = joinNonEmpty("\n", quote(q), in.Content.Text)
			}
		} else {
			in.Content.ReplyTo = id
		}
	}
	mentioned := map[string]string{} // digits → user id
	for _, s := range ci.GetMentionedJID() {
		if j, err := ParseJID(s); err == nil && (j.Server == types.DefaultUserServer || j.Server == types.HiddenUserServer) {
			uid := UserID(j)
			in.Mentions = append(in.Mentions, uid)
			mentioned[j.User] = uid
		}
	}
	if formatted(in.Content.Kind) && in.Content.Text != "" {
		resolve := func(uid string) (string, bool) {
			digits, _, _ := strings.Cut(uid, "@")
			real, ok := mentioned[digits]
			if !ok || real != uid {
				return "", false
			}
			if mention != nil {
				if name, ok := mention(real); ok && name != "" {
					return name, true
				}
			}
			if j, err := ParseJID(real); err == nil && PhoneOf(j) != "" {
				return PhoneOf(j), true
			}
			return "", false
		}
		in.Content.HTML, in.Content.Text = render(in.Content.Text, resolve)
	}
	forwarded(&in.Content, ci)
	return in
}

// formatted: the kinds whose text is written by a user, in WhatsApp markup.
func formatted(k pasdk.MsgKind) bool {
	switch k {
	case pasdk.MsgText, pasdk.MsgImage, pasdk.MsgVideo, pasdk.MsgFile:
		return true
	}
	return false
}

// elsewhere: the quoted message's chat is another one than the message's
// (a status, a group's message answered in private).  A DM's chat may be
// named by its LID or its number, so only groups and broadcasts count.
func elsewhere(info *types.MessageInfo, remote string) bool {
	if remote == "" {
		return false
	}
	j, err := types.ParseJID(remote)
	if err != nil {
		return false
	}
	if j.Server != types.GroupServer && j.Server != types.BroadcastServer {
		return false
	}
	return j.ToNonAD() != info.Chat.ToNonAD()
}

// quotedText is the text of a quoted message, "" when it has none.
func quotedText(m *waE2E.Message) string {
	m, _, _ = unwrap(m)
	return firstOf(m.GetConversation(), m.GetExtendedTextMessage().GetText(), m.GetImageMessage().GetCaption(),
		m.GetVideoMessage().GetCaption(), m.GetDocumentMessage().GetCaption(), m.GetDocumentMessage().GetFileName())
}

// quote puts "> " before each line of s.
func quote(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return strings.Join(lines, "\n")
}

// unwrap takes the message out of its wrappers (device-sent copies,
// disappearing, view-once, captioned documents, edits, bot invocations…).
func unwrap(msg *waE2E.Message) (*waE2E.Message, bool, *waE2E.MessageAssociation) {
	viewOnce := false
	var assoc *waE2E.MessageAssociation
	for i := 0; msg != nil && i < maxDepth; i++ {
		if assoc == nil {
			assoc = msg.GetMessageContextInfo().GetMessageAssociation()
		}
		var inner *waE2E.Message
		switch {
		case msg.GetDeviceSentMessage().GetMessage() != nil:
			inner = msg.GetDeviceSentMessage().GetMessage()
		case msg.GetEphemeralMessage().GetMessage() != nil:
			inner = msg.GetEphemeralMessage().GetMessage()
		case msg.GetViewOnceMessage().GetMessage() != nil:
			inner, viewOnce = msg.GetViewOnceMessage().GetMessage(), true
		case msg.GetViewOnceMessageV2().GetMessage() != nil:
			inner, viewOnce = msg.GetViewOnceMessageV2().GetMessage(), true
		case msg.GetViewOnceMessageV2Extension().GetMessage() != nil:
			inner, viewOnce = msg.GetViewOnceMessageV2Extension().GetMessage(), true
		case msg.GetDocumentWithCaptionMessage().GetMessage() != nil:
			inner = msg.GetDocumentWithCaptionMessage().GetMessage()
		case msg.GetEditedMessage().GetMessage() != nil:
			inner = msg.GetEditedMessage().GetMessage()
		case msg.GetBotInvokeMessage().GetMessage() != nil:
			inner = msg.GetBotInvokeMessage().GetMessage()
		case msg.GetAssociatedChildMessage().GetMessage() != nil:
			inner = msg.GetAssociatedChildMessage().GetMessage()
		case msg.GetGroupMentionedMessage().GetMessage() != nil:
			inner = msg.GetGroupMentionedMessage().GetMessage()
		case msg.GetLottieStickerMessage().GetMessage() != nil:
			inner = msg.GetLottieStickerMessage().GetMessage()
		case msg.GetSpoilerMessage().GetMessage() != nil:
			inner = msg.GetSpoilerMessage().GetMessage()
		default:
			return msg, viewOnce, assoc
		}
		msg = inner
	}
	return msg, viewOnce, assoc
}

func protocol(info *types.MessageInfo, pm *waE2E.ProtocolMessage, mention func(string) (string, bool), depth int) In {
	target := pm.GetKey().GetID()
	revokeAttr := info.Edit == types.EditAttributeSenderRevoke || info.Edit == types.EditAttributeAdminRevoke
	editAttr := info.Edit == types.EditAttributeMessageEdit || info.Edit == types.EditAttributeAdminEdit
	switch {
	case target != "" && (pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT || (editAttr && pm.GetEditedMessage() != nil)):
		sub := *info
		sub.Edit = types.EditAttributeEmpty
		e := fromWA(&sub, pm.GetEditedMessage(), mention, depth+1)
		if e.Kind != InMessage {
			return In{Kind: InIgnore}
		}
		e.Kind, e.TargetID, e.Media, e.MediaType, e.Inline = InEdit, target, nil, "", nil
		switch e.Content.Kind {
		case pasdk.MsgImage, pasdk.MsgVideo, pasdk.MsgAudio, pasdk.MsgVoice, pasdk.MsgFile, pasdk.MsgSticker:
			// A caption edit: only the text changes.
			e.Content = pasdk.Content{Kind: pasdk.MsgText, Text: e.Content.Text, HTML: e.Content.HTML}
		}
		return e
	case target != "" && ((pm.Type != nil && pm.GetType() == waE2E.ProtocolMessage_REVOKE) || revokeAttr):
		return In{Kind: InRevoke, TargetID: target}
	case pm.GetType() == waE2E.ProtocolMessage_EPHEMERAL_SETTING:
		return In{Kind: InTimer, TimerS: pm.GetEphemeralExpiration()}
	case pm.GetType() == waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION:
		return In{Kind: InHistoryRequest}
	}
	return In{Kind: InIgnore}
}

// content fills in.Content (and media, inline files, poll options) from
// the first kind of content msg carries; false when it carries none known.
func content(in *In, msg *waE2E.Message) bool {
	c := &in.Content
	switch {
	case msg.Conversation != nil:
		c.Kind, c.Text = pasdk.MsgText, msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		c.Kind, c.Text = pasdk.MsgText, msg.GetExtendedTextMessage().GetText()
	case msg.ImageMessage != nil:
		m := msg.GetImageMessage()
		media(in, pasdk.MsgImage, m, whatsmeow.MediaImage, m.GetMimetype(), m.GetCaption(), "image", m.GetFileLength())
		c.Width, c.Height = m.GetWidth(), m.GetHeight()
		in.ViewOnce = in.ViewOnce || m.GetViewOnce()
	case msg.VideoMessage != nil || msg.PtvMessage != nil:
		m := msg.GetVideoMessage()
		if m == nil {
			m = msg.GetPtvMessage()
		}
		base := "video"
		if m.GetGifPlayback() {
			base = "animation"
		}
		media(in, pasdk.MsgVideo, m, whatsmeow.MediaVideo, m.GetMimetype(), m.GetCaption(), base, m.GetFileLength())
		c.Width, c.Height, c.DurationMS = m.GetWidth(), m.GetHeight(), m.GetSeconds()*1000
		in.ViewOnce = in.ViewOnce || m.GetViewOnce()
	case msg.AudioMessage != nil:
		m := msg.GetAudioMessage()
		kind, base := pasdk.MsgAudio, "audio"
		if m.GetPTT() {
			kind, base = pasdk.MsgVoice, "voice message"
		}
		media(in, kind, m, whatsmeow.MediaAudio, m.GetMimetype(), "", base, m.GetFileLength())
		c.DurationMS = m.GetSeconds() * 1000
		in.ViewOnce = in.ViewOnce || m.GetViewOnce()
	case msg.DocumentMessage != nil:
		m := msg.GetDocumentMessage()
		media(in, pasdk.MsgFile, m, whatsmeow.MediaDocument, m.GetMimetype(), m.GetCaption(), "document", m.GetFileLength())
		if n := firstOf(m.GetFileName(), m.GetTitle()); n != "" {
			c.MediaName = n
		}
	case msg.StickerMessage != nil:
		m := msg.GetStickerMessage()
		mt := m.GetMimetype()
		if mt == "" {
			mt = "image/webp"
		}
		media(in, pasdk.MsgSticker, m, whatsmeow.MediaImage, mt, "", "sticker", m.GetFileLength())
		c.Width, c.Height = m.GetWidth(), m.GetHeight()
	case msg.LocationMessage != nil:
		m := msg.GetLocationMessage()
		c.Kind, c.Latitude, c.Longitude = pasdk.MsgLocation, m.GetDegreesLatitude(), m.GetDegreesLongitude()
		c.Text = joinNonEmpty(", ", m.GetName(), m.GetAddress())
		if m.GetIsLive() {
			in.LiveLocation = true
			c.Text = joinNonEmpty(": ", "Live location", c.Text)
		}
	case msg.LiveLocationMessage != nil:
		m := msg.GetLiveLocationMessage()
		c.Kind, c.Latitude, c.Longitude = pasdk.MsgLocation, m.GetDegreesLatitude(), m.GetDegreesLongitude()
		c.Text = joinNonEmpty(": ", "Live location", m.GetCaption())
		in.LiveLocation = true
	case msg.ContactMessage != nil:
		contacts(in, "", []*waE2E.ContactMessage{msg.GetContactMessage()})
	case msg.ContactsArrayMessage != nil:
		contacts(in, msg.GetContactsArrayMessage().GetDisplayName(), msg.GetContactsArrayMessage().GetContacts())
	case msg.PollCreationMessage != nil, msg.PollCreationMessageV2 != nil, msg.PollCreationMessageV3 != nil,
		msg.PollCreationMessageV5 != nil, msg.PollCreationMessageV6 != nil:
		poll(in, firstPoll(msg))
	case msg.CallLogMesssage != nil:
		c.Kind, c.Flags, c.Text = pasdk.MsgNotice, pasdk.ContentSystem, callLog(msg.GetCallLogMesssage())
	case msg.Call != nil:
		c.Kind, c.Flags = pasdk.MsgNotice, pasdk.ContentSystem
		c.Text = "📞 Call; answer it in WhatsApp on your phone"
	case msg.ScheduledCallCreationMessage != nil:
		m := msg.GetScheduledCallCreationMessage()
		kind := "voice"
		if m.GetCallType() == waE2E.ScheduledCallCreationMessage_VIDEO {
			kind = "video"
		}
		c.Kind = pasdk.MsgText
		c.Text = fmt.Sprintf("📅 Scheduled %s call: %s, %s", kind, firstOf(m.GetTitle(), "(no title)"),
			utcTime(m.GetScheduledTimestampMS()/1000))
	case msg.GroupInviteMessage != nil:
		m := msg.GetGroupInviteMessage()
		c.Kind = pasdk.MsgText
		c.Text = fmt.Sprintf("Invitation to join the WhatsApp group “%s”: https://chat.whatsapp.com/%s",
			firstOf(m.GetGroupName(), m.GetGroupJID()), m.GetInviteCode())
		if e := m.GetInviteExpiration(); e > 0 {
			c.Text += " (valid until " + utcTime(e) + ")"
		}
		c.Text = joinNonEmpty("\n", c.Text, m.GetCaption())
	case msg.EventMessage != nil:
		m := msg.GetEventMessage()
		c.Kind = pasdk.MsgText
		head := "📅 Event: " + m.GetName()
		if m.GetIsCanceled() {
			head = "📅 Event cancelled: " + m.GetName()
		}
		var when string
		if m.GetStartTime() > 0 {
			when = "Starts " + utcTime(m.GetStartTime())
		}
		c.Text = joinNonEmpty("\n", head, m.GetDescription(), when,
			joinNonEmpty(", ", m.GetLocation().GetName(), m.GetLocation().GetAddress()), m.GetJoinLink())
	case msg.PinInChatMessage != nil:
		m := msg.GetPinInChatMessage()
		c.Kind, c.Flags, c.ReplyTo = pasdk.MsgNotice, pasdk.ContentSystem, m.GetKey().GetID()
		c.Text = "📌 Pinned a message"
		if m.GetType() == waE2E.PinInChatMessage_UNPIN_FOR_ALL {
			c.Text = "📌 Unpinned a message"
		}
	case msg.TemplateMessage != nil:
		c.Kind, c.Text = pasdk.MsgText, template(msg.GetTemplateMessage())
	case msg.HighlyStructuredMessage.GetHydratedHsm() != nil:
		c.Kind, c.Text = pasdk.MsgText, template(msg.GetHighlyStructuredMessage().GetHydratedHsm())
	case msg.ButtonsMessage != nil:
		m := msg.GetButtonsMessage()
		var buttons []string
		for _, b := range m.GetButtons() {
			buttons = append(buttons, "["+b.GetButtonText().GetDisplayText()+"]")
		}
		c.Kind = pasdk.MsgText
		c.Text = joinNonEmpty("\n", m.GetText(), m.GetContentText(), m.GetFooterText(), strings.Join(buttons, " "))
	case msg.ListMessage != nil:
		m := msg.GetListMessage()
		lines := []string{m.GetTitle(), m.GetDescription()}
		for _, s := range m.GetSections() {
			lines = append(lines, s.GetTitle())
			for _, r := range s.GetRows() {
				lines = append(lines, "- "+joinNonEmpty(": ", r.GetTitle(), r.GetDescription()))
			}
		}
		c.Kind, c.Text = pasdk.MsgText, joinNonEmpty("\n", append(lines, m.GetFooterText())...)
	case msg.InteractiveMessage != nil:
		m := msg.GetInteractiveMessage()
		c.Kind = pasdk.MsgText
		c.Text = joinNonEmpty("\n", m.GetHeader().GetTitle(), m.GetHeader().GetSubtitle(), m.GetBody().GetText(), m.GetFooter().GetText())
	case msg.TemplateButtonReplyMessage != nil:
		c.Kind, c.Text = pasdk.MsgText, msg.GetTemplateButtonReplyMessage().GetSelectedDisplayText()
	case msg.ButtonsResponseMessage != nil:
		c.Kind, c.Text = pasdk.MsgText, msg.GetButtonsResponseMessage().GetSelectedDisplayText()
	case msg.ListResponseMessage != nil:
		m := msg.GetListResponseMessage()
		c.Kind, c.Text = pasdk.MsgText, joinNonEmpty("\n", m.GetTitle(), m.GetDescription())
	case msg.InteractiveResponseMessage != nil:
		c.Kind, c.Text = pasdk.MsgText, msg.GetInteractiveResponseMessage().GetBody().GetText()
	default:
		return false
	}
	if c.Text == "" && (c.Kind == pasdk.MsgText) {
		c.Kind, c.Flags, c.Text = pasdk.MsgNotice, pasdk.ContentSystem, "empty message"
	}
	return true
}

func media(in *In, kind pasdk.MsgKind, m whatsmeow.DownloadableMessage, mt whatsmeow.MediaType, mimetype, caption, base string, size uint64) {
	c := &in.Content
	c.Kind, c.Mimetype, c.Text, c.MediaSize = kind, mimetype, caption, size
	c.MediaName = base + "." + extension(mimetype)
	in.Media, in.MediaType = m, mt
}

var extensions = map[string]string{
	"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
	"video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov", "video/webm": "webm",
	"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/aac": "aac", "audio/amr": "amr",
	"audio/wav": "wav", "application/pdf": "pdf", "text/plain": "txt", "text/vcard": "vcf",
	"application/zip": "zip",
}

// extension of a mimetype ("audio/ogg; codecs=opus" → "ogg"), "bin" if unknown.
func extension(mimetype string) string {
	base, _, _ := strings.Cut(mimetype, ";")
	if e, ok := extensions[strings.ToLower(strings.TrimSpace(base))]; ok {
		return e
	}
	return "bin"
}

// contacts renders shared contacts as text, their vCards as one file.
func contacts(in *In, title string, cards []*waE2E.ContactMessage) {
	var text []string
	var data strings.Builder
	for _, cm := range cards {
		name, phones := parseVCard(cm.GetVcard())
		name = firstOf(cm.GetDisplayName(), name, "(no name)")
		text = append(text, "👤 "+joinNonEmpty("\n", name, strings.Join(phones, "\n")))
		if v := strings.TrimSpace(cm.GetVcard()); v != "" {
			data.WriteString(v)
			data.WriteString("\r\n")
		}
	}
	in.Content.Kind = pasdk.MsgText
	in.Content.Text = strings.Join(text, "\n\n")
	if in.Content.Text == "" {
		in.Content.Text = "👤 " + firstOf(title, "(no contact)")
	}
	if data.Len() == 0 {
		return
	}
	name := "contacts.vcf"
	if len(cards) == 1 {
		name = fileName(firstOf(cards[0].GetDisplayName(), "contact")) + ".vcf"
	}
	in.Inline = &Inline{Name: name, Mimetype: "text/vcard", Data: []byte(data.String())}
}

// parseVCard gives a card's formatted name and its phone numbers and
// e-mail addresses, as written.
func parseVCard(v string) (name string, lines []string) {
	v = strings.ReplaceAll(v, "\r\n", "\n")
	v = strings.ReplaceAll(v, "\n ", "") // folded lines
	for _, l := range strings.Split(v, "\n") {
		key, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		if dot := strings.LastIndexByte(key, '.'); dot >= 0 && !strings.Contains(key[:dot], ";") {
			key = key[dot+1:] // "item1.TEL"
		}
		prop, _, _ := strings.Cut(strings.ToUpper(key), ";")
		val = strings.TrimSpace(strings.NewReplacer(`\,`, ",", `\;`, ";", `\n`, " ").Replace(val))
		switch prop {
		case "FN":
			if name == "" {
				name = val
			}
		case "TEL":
			if val != "" {
				lines = append(lines, "📞 "+val)
			}
		case "EMAIL":
			if val != "" {
				lines = append(lines, "✉️ "+val)
			}
		}
	}
	return name, lines
}

// fileName keeps a display name usable as a file name.
func fileName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" || s == "." || s == ".." {
		return "contact"
	}
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	return s
}

func firstPoll(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{msg.GetPollCreationMessage(), msg.GetPollCreationMessageV2(),
		msg.GetPollCreationMessageV3(), msg.GetPollCreationMessageV5(), msg.GetPollCreationMessageV6()} {
		if p != nil {
			return p
		}
	}
	return nil
}

func poll(in *In, p *waE2E.PollCreationMessage) {
	lines := []string{"📊 Poll: " + p.GetName()}
	for i, o := range p.GetOptions() {
		in.PollOptions = append(in.PollOptions, o.GetOptionName())
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, o.GetOptionName()))
	}
	if p.GetSelectableOptionsCount() != 1 && len(p.GetOptions()) > 1 {
		lines = append(lines, "(several answers allowed)")
	}
	in.Content.Kind, in.Content.Text = pasdk.MsgText, strings.Join(lines, "\n")
}

// PollVoteText renders a decrypted vote: whatsmeow gives the SHA-256
// hashes of the chosen options' names.
func PollVoteText(selected [][]byte, options []string) string {
	if len(selected) == 0 {
		return "withdrew their vote"
	}
	chosen := map[[32]byte]bool{}
	invalid := 0
	for _, h := range selected {
		if len(h) == 32 {
			chosen[[32]byte(h)] = true
		} else {
			invalid++
		}
	}
	var names []string
	for _, o := range options {
		if h := sha256.Sum256([]byte(o)); chosen[h] {
			names = append(names, o)
			delete(chosen, h)
		}
	}
	if unknown := len(chosen) + invalid; unknown > 0 {
		word := "option"
		if unknown > 1 {
			word = "options"
		}
		names = append(names, fmt.Sprintf("%d unknown %s", unknown, word))
	}
	return "voted for: " + strings.Join(names, ", ")
}

func callLog(m *waE2E.CallLogMessage) string {
	kind, icon := "voice", "📞"
	if m.GetIsVideo() {
		kind, icon = "video", "📹"
	}
	var s string
	switch m.GetCallOutcome() {
	case waE2E.CallLogMessage_MISSED, waE2E.CallLogMessage_SILENCED_BY_DND, waE2E.CallLogMessage_SILENCED_UNKNOWN_CALLER:
		s = "Missed " + kind + " call"
	case waE2E.CallLogMessage_FAILED:
		s = "Failed " + kind + " call"
	case waE2E.CallLogMessage_REJECTED:
		s = "Declined " + kind + " call"
	case waE2E.CallLogMessage_ACCEPTED_ELSEWHERE:
		s = strings.ToUpper(kind[:1]) + kind[1:] + " call answered on another device"
	case waE2E.CallLogMessage_ONGOING:
		s = strings.ToUpper(kind[:1]) + kind[1:] + " call in progress"
	default:
		s = strings.ToUpper(kind[:1]) + kind[1:] + " call"
		if d := m.GetDurationSecs(); d > 0 {
			s += " (" + duration(d) + ")"
		}
	}
	return icon + " " + s
}

func duration(s int64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%d s", s)
	case s < 3600:
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
	return fmt.Sprintf("%d h %d min", s/3600, (s%3600)/60)
}

func utcTime(unix int64) string {
	return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04 UTC")
}

func template(m *waE2E.TemplateMessage) string {
	t := m.GetHydratedTemplate()
	if t == nil {
		t = m.GetHydratedFourRowTemplate()
	}
	if t == nil {
		im := m.GetInteractiveMessageTemplate()
		return joinNonEmpty("\n", im.GetHeader().GetTitle(), im.GetBody().GetText(), im.GetFooter().GetText())
	}
	var buttons []string
	for _, b := range t.GetHydratedButtons() {
		switch {
		case b.GetQuickReplyButton() != nil:
			buttons = append(buttons, "["+b.GetQuickReplyButton().GetDisplayText()+"]")
		case b.GetUrlButton() != nil:
			buttons = append(buttons, "["+b.GetUrlButton().GetDisplayText()+"] "+b.GetUrlButton().GetURL())
		case b.GetCallButton() != nil:
			buttons = append(buttons, "["+b.GetCallButton().GetDisplayText()+"] "+b.GetCallButton().GetPhoneNumber())
		}
	}
	return joinNonEmpty("\n", t.GetHydratedTitleText(), t.GetHydratedContentText(), t.GetHydratedFooterText(), strings.Join(buttons, "\n"))
}

// forwarded marks a forwarded message: the channel's name when WhatsApp
// gives it, else a first line (WhatsApp never names the original author).
func forwarded(c *pasdk.Content, ci *waE2E.ContextInfo) {
	if !ci.GetIsForwarded() {
		return
	}
	if n := ci.GetForwardedNewsletterMessageInfo().GetNewsletterName(); n != "" {
		c.ForwardedFrom = n
		return
	}
	line := "↪ Forwarded"
	if ci.GetForwardingScore() >= 5 {
		line = "↪ Forwarded many times"
	}
	if c.HTML != "" {
		c.HTML = "<i>" + line + "</i><br>" + c.HTML
	}
	c.Text = joinNonEmpty("\n", line, c.Text)
}

// contextOf finds the contextInfo of whatever content msg carries.
func contextOf(msg *waE2E.Message) *waE2E.ContextInfo {
	var ci *waE2E.ContextInfo
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
			return true
		}
		sub := v.Message()
		f := sub.Descriptor().Fields().ByName("contextInfo")
		if f == nil || !sub.Has(f) {
			return true
		}
		if c, ok := sub.Get(f).Message().Interface().(*waE2E.ContextInfo); ok {
			ci = c
			return false
		}
		return true
	})
	return ci
}

// Fields that carry no content of their own.
var noiseFields = map[protoreflect.Name]bool{
	"messageContextInfo":                         true,
	"senderKeyDistributionMessage":               true,
	"fastRatchetKeySenderKeyDistributionMessage": true,
	"keepInChatMessage":                          true,
	"stickerSyncRmrMessage":                      true,
	"albumMessage":                               true, // its pictures come as messages of their own
	"eventCoverImage":                            true, // a picture for an event already shown
	"encEventResponseMessage":                    true, // "going" / "not going" to an event
}

// unknownField names the first content field content() does not know;
// noise is true when msg carries nothing but protocol fields.
func unknownField(msg *waE2E.Message) (name string, noise bool) {
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if noiseFields[fd.Name()] {
			return true
		}
		name = string(fd.Name())
		return false
	})
	if name != "" {
		return name, false
	}
	if raw := msg.ProtoReflect().GetUnknown(); len(raw) > 0 {
		if num, _, n := protowire.ConsumeTag(raw); n > 0 {
			return fmt.Sprintf("#%d", num), false
		}
	}
	return "", true
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

func firstOf(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}
