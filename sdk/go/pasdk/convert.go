// SPDX-License-Identifier: AGPL-3.0-or-later

// Conversions between the Go types of api.go and their C structs.  Go to C
// goes through an arena: every string and struct is copied into C memory
// (malloc) for the duration of one host call, then freed, so C never holds
// a pointer to Go memory.  C to Go copies into Go strings.

package pasdk

/*
#include "pasdk-shim.h"
*/
import "C"

import "unsafe"

// arena owns the C memory of one host call.
type arena struct {
	ptrs []unsafe.Pointer
}

// alloc returns n zeroed bytes of C memory.
func (a *arena) alloc(n uintptr) unsafe.Pointer {
	if n == 0 {
		n = 1
	}
	p := C.calloc(1, C.size_t(n))
	if p == nil {
		panic("pasdk: out of C memory")
	}
	a.ptrs = append(a.ptrs, p)
	return p
}

// str is s as a C string, NULL for "".
func (a *arena) str(s string) *C.char {
	if s == "" {
		return nil
	}
	return a.strAlways(s)
}

// strAlways is s as a C string, "" included.
func (a *arena) strAlways(s string) *C.char {
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p
}

// strArray is a C array of len(ss)+1 strings, the last NULL.
func (a *arena) strArray(ss []string) **C.char {
	arr := unsafe.Slice((**C.char)(a.alloc(uintptr(len(ss)+1)*unsafe.Sizeof((*C.char)(nil)))), len(ss)+1)
	for i, s := range ss {
		arr[i] = a.strAlways(s)
	}
	return &arr[0]
}

func (a *arena) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}

func cbool(b bool) C.bool {
	if b {
		return C.bool(true)
	}
	return C.bool(false)
}

func (a *arena) content(c *Content) *C.PaContent {
	if c == nil {
		return nil
	}
	p := (*C.PaContent)(a.alloc(C.sizeof_PaContent))
	p.struct_size = C.sizeof_PaContent
	p.kind = C.PaMsgKind(c.Kind)
	p.text = a.str(c.Text)
	p.html = a.str(c.HTML)
	p.media_path = a.str(c.MediaPath)
	p.media_name = a.str(c.MediaName)
	p.mimetype = a.str(c.Mimetype)
	p.media_size = C.uint64_t(c.MediaSize)
	p.width = C.uint32_t(c.Width)
	p.height = C.uint32_t(c.Height)
	p.duration_ms = C.uint32_t(c.DurationMS)
	p.latitude = C.double(c.Latitude)
	p.longitude = C.double(c.Longitude)
	p.reply_to = a.str(c.ReplyTo)
	p.forwarded_from = a.str(c.ForwardedFrom)
	p.flags = C.uint32_t(c.Flags)
	return p
}

func (a *arena) fillMember(p *C.PaMember, m *Member) {
	p.struct_size = C.sizeof_PaMember
	p.id = a.str(m.ID)
	p.name = a.str(m.Name)
	p.avatar_path = a.str(m.AvatarPath)
	p.identifier = a.str(m.Identifier)
	p.power = C.int32_t(m.Power)
}

func (a *arena) member(m *Member) *C.PaMember {
	if m == nil {
		return nil
	}
	p := (*C.PaMember)(a.alloc(C.sizeof_PaMember))
	a.fillMember(p, m)
	return p
}

func (a *arena) chat(c *ChatInfo) *C.PaChatInfo {
	if c == nil {
		return nil
	}
	p := (*C.PaChatInfo)(a.alloc(C.sizeof_PaChatInfo))
	p.struct_size = C.sizeof_PaChatInfo
	p.id = a.str(c.ID)
	p.kind = C.PaChatKind(c.Kind)
	p.name = a.str(c.Name)
	p.topic = a.str(c.Topic)
	p.avatar_path = a.str(c.AvatarPath)
	if c.Members != nil {
		arr := unsafe.Slice((*C.PaMember)(a.alloc(uintptr(len(c.Members))*C.sizeof_PaMember)), len(c.Members))
		for i := range c.Members {
			a.fillMember(&arr[i], &c.Members[i])
		}
		if len(c.Members) > 0 {
			p.members = &arr[0]
		} else {
			// An empty, non-nil list: "no members", not "unchanged".
			p.members = (*C.PaMember)(a.alloc(C.sizeof_PaMember))
		}
		p.n_members = C.size_t(len(c.Members))
	}
	p.members_complete = cbool(c.MembersComplete)
	if c.Features != nil {
		f := (*C.PaChatFeatures)(a.alloc(C.sizeof_PaChatFeatures))
		f.struct_size = C.sizeof_PaChatFeatures
		f.capabilities = C.uint64_t(c.Features.Capabilities)
		f.max_media_size = C.uint64_t(c.Features.MaxMediaSize)
		f.max_edit_age_s = C.uint32_t(c.Features.MaxEditAgeS)
		f.max_text_length = C.uint32_t(c.Features.MaxTextLength)
		p.features = f
	}
	p.disappearing_s = C.uint32_t(c.DisappearingS)
	p.read_only = cbool(c.ReadOnly)
	p.secret = cbool(c.Secret)
	return p
}

func (a *arena) event(e *Event) *C.PaEvent {
	p := (*C.PaEvent)(a.alloc(C.sizeof_PaEvent))
	p.struct_size = C.sizeof_PaEvent
	p._type = C.PaEventType(e.Type)
	p.chat_id = a.str(e.ChatID)
	p.sender_id = a.str(e.SenderID)
	p.timestamp_ms = C.int64_t(e.TimestampMS)
	p.stream_order = C.uint64_t(e.StreamOrder)
	p.message_id = a.str(e.MessageID)
	p.target_id = a.str(e.TargetID)
	p.txn_id = a.str(e.TxnID)
	p.from_me = cbool(e.FromMe)
	p.content = a.content(e.Content)
	p.reaction_key = a.str(e.ReactionKey)
	if len(e.ReactionKeys) > 0 {
		p.reaction_keys = a.strArray(e.ReactionKeys)
		p.n_reaction_keys = C.size_t(len(e.ReactionKeys))
	}
	p.chat = a.chat(e.Chat)
	p.contact = a.member(e.Contact)
	p.typing = cbool(e.Typing)
	p.typing_timeout_ms = C.uint32_t(e.TypingTimeoutMS)
	p.presence = C.PaPresence(e.Presence)
	p.status_text = a.str(e.StatusText)
	return p
}

func (a *arena) loginStep(s *LoginStep) *C.PaLoginStep {
	p := (*C.PaLoginStep)(a.alloc(C.sizeof_PaLoginStep))
	p.struct_size = C.sizeof_PaLoginStep
	p.kind = C.PaStepKind(s.Kind)
	p.step_id = a.str(s.StepID)
	p.instructions = a.str(s.Instructions)
	if len(s.Fields) > 0 {
		arr := unsafe.Slice((*C.PaField)(a.alloc(uintptr(len(s.Fields))*C.sizeof_PaField)), len(s.Fields))
		for i := range s.Fields {
			f := &s.Fields[i]
			arr[i].struct_size = C.sizeof_PaField
			arr[i].id = a.str(f.ID)
			arr[i].label = a.str(f.Label)
			arr[i]._type = C.PaFieldType(f.Type)
			arr[i].default_value = a.str(f.Default)
			arr[i].optional = cbool(f.Optional)
			if f.Choices != nil {
				arr[i].choices = a.strArray(f.Choices)
			}
		}
		p.fields = &arr[0]
		p.n_fields = C.size_t(len(s.Fields))
	}
	p.display_text = a.str(s.DisplayText)
	p.image_path = a.str(s.ImagePath)
	p.remote_id = a.str(s.RemoteID)
	p.remote_name = a.str(s.RemoteName)
	p.expires_s = C.uint32_t(s.ExpiresS)
	return p
}

func (a *arena) opResult(r *OpResult) *C.PaOpResult {
	p := (*C.PaOpResult)(a.alloc(C.sizeof_PaOpResult))
	p.struct_size = C.sizeof_PaOpResult
	p.code = C.PaResultCode(r.Code)
	p.legacy_id = a.str(r.LegacyID)
	p.legacy_ts_ms = C.int64_t(r.LegacyTSMS)
	p.cursor = a.str(r.Cursor)
	p.retry_after_ms = C.uint32_t(r.RetryAfterMS)
	p.error = a.str(r.Error)
	return p
}

// ------------------------------------------------------------ C to Go

// gostr is s as a Go string, "" for NULL.
func gostr(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// gostrs copies n C strings.
func gostrs(arr **C.char, n C.size_t) []string {
	if arr == nil || n == 0 {
		return nil
	}
	src := unsafe.Slice(arr, int(n))
	out := make([]string, len(src))
	for i, s := range src {
		out[i] = gostr(s)
	}
	return out
}

// has reports whether a struct of size `size` holds a member ending at `end`.
func has(size C.uint32_t, end uintptr) bool {
	return uintptr(size) >= end
}

func contentFromC(p *C.PaContent) *Content {
	if p == nil || !has(p.struct_size, unsafe.Offsetof(p.flags)+unsafe.Sizeof(p.flags)) {
		return nil
	}
	return &Content{
		Kind:          MsgKind(p.kind),
		Text:          gostr(p.text),
		HTML:          gostr(p.html),
		MediaPath:     gostr(p.media_path),
		MediaName:     gostr(p.media_name),
		Mimetype:      gostr(p.mimetype),
		MediaSize:     uint64(p.media_size),
		Width:         uint32(p.width),
		Height:        uint32(p.height),
		DurationMS:    uint32(p.duration_ms),
		Latitude:      float64(p.latitude),
		Longitude:     float64(p.longitude),
		ReplyTo:       gostr(p.reply_to),
		ForwardedFrom: gostr(p.forwarded_from),
		Flags:         uint32(p.flags),
	}
}

func memberFromC(p *C.PaMember) Member {
	return Member{
		ID:         gostr(p.id),
		Name:       gostr(p.name),
		AvatarPath: gostr(p.avatar_path),
		Identifier: gostr(p.identifier),
		Power:      int32(p.power),
	}
}

func chatFromC(p *C.PaChatInfo) *ChatInfo {
	if p == nil {
		return nil
	}
	c := &ChatInfo{
		ID:              gostr(p.id),
		Kind:            ChatKind(p.kind),
		Name:            gostr(p.name),
		Topic:           gostr(p.topic),
		AvatarPath:      gostr(p.avatar_path),
		MembersComplete: bool(p.members_complete),
		DisappearingS:   uint32(p.disappearing_s),
		ReadOnly:        bool(p.read_only),
	}
	// Appended in SDK 2.2: absent from a smaller struct.
	if uintptr(p.struct_size) >= unsafe.Offsetof(p.secret)+unsafe.Sizeof(p.secret) {
		c.Secret = bool(p.secret)
	}
	if p.members != nil {
		c.Members = []Member{}
		for _, m := range unsafe.Slice(p.members, int(p.n_members)) {
			c.Members = append(c.Members, memberFromC(&m))
		}
	}
	if f := p.features; f != nil {
		c.Features = &ChatFeatures{
			Capabilities:  uint64(f.capabilities),
			MaxMediaSize:  uint64(f.max_media_size),
			MaxEditAgeS:   uint32(f.max_edit_age_s),
			MaxTextLength: uint32(f.max_text_length),
		}
	}
	return c
}

// eventFromC reads a PaEvent back (the binding's tests check the round trip).
func eventFromC(p *C.PaEvent) *Event {
	e := &Event{
		Type:            EventType(p._type),
		ChatID:          gostr(p.chat_id),
		SenderID:        gostr(p.sender_id),
		TimestampMS:     int64(p.timestamp_ms),
		StreamOrder:     uint64(p.stream_order),
		MessageID:       gostr(p.message_id),
		TargetID:        gostr(p.target_id),
		TxnID:           gostr(p.txn_id),
		FromMe:          bool(p.from_me),
		Content:         contentFromC(p.content),
		ReactionKey:     gostr(p.reaction_key),
		ReactionKeys:    gostrs(p.reaction_keys, p.n_reaction_keys),
		Chat:            chatFromC(p.chat),
		Typing:          bool(p.typing),
		TypingTimeoutMS: uint32(p.typing_timeout_ms),
		Presence:        Presence(p.presence),
		StatusText:      gostr(p.status_text),
	}
	if p.contact != nil {
		m := memberFromC(p.contact)
		e.Contact = &m
	}
	return e
}
