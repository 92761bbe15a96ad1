// SPDX-License-Identifier: AGPL-3.0-or-later

// Package pasdk is the Go binding of Passerelle's plugin SDK
// (include/passerelle/plugin.h, SDK 2.1).  A Go plugin is a main package
// built with -buildmode=c-shared that calls Register once from init(); this
// package implements the C ABI (pa_plugin_get_network, the PaLoginOps
// trampolines) and gives the plugin Go values only.
//
// What it designs out:
//   - no Go memory is ever handed to C: every struct passed to the host is
//     copied into C memory for the duration of the call (cgo's pointer rules);
//   - a panic in a plugin callback or in Emit is recovered, logged through the
//     host with its stack, and the operation it belonged to is answered
//     PERMANENT, never silently lost.
//
// This file holds the Go side of the API: the types mirror plugin.h member
// for member, with Go strings and slices instead of pointers and sizes.
package pasdk

import "unsafe"

// CImportFunc is a C function pointer (see Network.CImport).
type CImportFunc unsafe.Pointer

// LogLevel mirrors PaLogLevel.
type LogLevel int

const (
	LogDebug LogLevel = iota
	LogInfo
	LogWarning
	LogError
)

// Capability bits (PA_CAP_*).
const (
	CapLogin        uint64 = 1 << 0
	CapImport       uint64 = 1 << 1
	CapGroups       uint64 = 1 << 2
	CapMedia        uint64 = 1 << 3
	CapEdits        uint64 = 1 << 4
	CapDeletes      uint64 = 1 << 5
	CapReactions    uint64 = 1 << 6
	CapReplies      uint64 = 1 << 7
	CapTyping       uint64 = 1 << 8
	CapReadReceipts uint64 = 1 << 9
	CapPresence     uint64 = 1 << 10
	CapHistory      uint64 = 1 << 11
	CapFormatting   uint64 = 1 << 12
	CapDisappearing uint64 = 1 << 13
)

// ConfigType mirrors PaConfigType.
type ConfigType int

const (
	ConfigString ConfigType = iota
	ConfigInt
	ConfigBool
	ConfigPath
)

// ConfigKey mirrors PaConfigKey.  Default "" with HasDefault false means no default.
type ConfigKey struct {
	Key         string
	Type        ConfigType
	Default     string
	HasDefault  bool
	Description string
	Secret      bool
	Required    bool
}

// MsgKind mirrors PaMsgKind.
type MsgKind int

const (
	MsgText MsgKind = iota
	MsgNotice
	MsgEmote
	MsgImage
	MsgVideo
	MsgAudio
	MsgVoice
	MsgFile
	MsgSticker
	MsgLocation
)

// Content flags (PA_CONTENT_*).
const (
	ContentEdited      uint32 = 1 << 0
	ContentDeleted     uint32 = 1 << 1
	ContentNotIncluded uint32 = 1 << 2
	ContentSystem      uint32 = 1 << 3
)

// Content mirrors PaContent.  Empty strings are passed to C as NULL.
type Content struct {
	Kind          MsgKind
	Text          string
	HTML          string
	MediaPath     string // ownership passes to the host when Emit returns non-zero
	MediaName     string
	Mimetype      string
	MediaSize     uint64
	Width, Height uint32
	DurationMS    uint32
	Latitude      float64
	Longitude     float64
	ReplyTo       string
	ForwardedFrom string
	Flags         uint32
}

// ChatKind mirrors PaChatKind.
type ChatKind int

const (
	ChatDM ChatKind = iota
	ChatGroup
)

// Member mirrors PaMember.
type Member struct {
	ID         string
	Name       string
	AvatarPath string
	Identifier string
	Power      int32
}

// ChatFeatures mirrors PaChatFeatures.
type ChatFeatures struct {
	Capabilities  uint64
	MaxMediaSize  uint64
	MaxEditAgeS   uint32
	MaxTextLength uint32
}

// ChatInfo mirrors PaChatInfo.  Members nil means "unchanged".
type ChatInfo struct {
	ID              string
	Kind            ChatKind
	Name            string
	Topic           string
	AvatarPath      string
	Members         []Member
	MembersComplete bool
	Features        *ChatFeatures
	DisappearingS   uint32
	ReadOnly        bool
	// Secret (SDK 2.2): end-to-end encrypted on the network with no server
	// copy; its portal is always encrypted, and never made without encryption.
	Secret bool
}

// ChatField mirrors PaChatField.
type ChatField int

const (
	ChatFieldName ChatField = iota
	ChatFieldTopic
	ChatFieldAvatar
	ChatFieldDisappearing
)

// Presence mirrors PaPresence.
type Presence int

const (
	PresenceOffline Presence = iota
	PresenceOnline
	PresenceUnavailable
)

// EventType mirrors PaEventType.
type EventType int

const (
	EvMessage         EventType = 1
	EvMessageUpsert   EventType = 2
	EvEdit            EventType = 3
	EvDelete          EventType = 4
	EvReaction        EventType = 5
	EvReactionRemove  EventType = 6
	EvReactionSync    EventType = 7
	EvReadReceipt     EventType = 8
	EvDeliveryReceipt EventType = 9
	EvMarkedUnread    EventType = 10
	EvTyping          EventType = 11
	EvPresence        EventType = 12
	EvChatInfo        EventType = 13
	EvChatResync      EventType = 14
	EvChatDelete      EventType = 15
	EvContactInfo     EventType = 16
	EvBackfillEnd     EventType = 17
)

// Event mirrors PaEvent.
type Event struct {
	Type            EventType
	ChatID          string
	SenderID        string
	TimestampMS     int64
	StreamOrder     uint64
	MessageID       string
	TargetID        string
	TxnID           string
	FromMe          bool
	Content         *Content
	ReactionKey     string
	ReactionKeys    []string
	Chat            *ChatInfo
	Contact         *Member
	Typing          bool
	TypingTimeoutMS uint32
	Presence        Presence
	StatusText      string
}

// FieldType mirrors PaFieldType.
type FieldType int

const (
	FieldText FieldType = iota
	FieldPassword
	FieldNumber
	FieldBool
	FieldChoice
	FieldPhone
	FieldCode
)

// Field mirrors PaField.
type Field struct {
	ID       string
	Label    string
	Type     FieldType
	Default  string
	Optional bool
	Choices  []string
}

// StepKind mirrors PaStepKind.
type StepKind int

const (
	StepUserInput StepKind = iota
	StepDisplayAndWait
	StepComplete
)

// LoginStep mirrors PaLoginStep.
type LoginStep struct {
	Kind         StepKind
	StepID       string
	Instructions string
	Fields       []Field
	DisplayText  string
	ImagePath    string // borrowed: never rewrite a file once named
	RemoteID     string
	RemoteName   string
	ExpiresS     uint32
}

// LoginFlow mirrors PaLoginFlow.
type LoginFlow struct {
	ID          string
	Name        string
	Description string
}

// LoginState mirrors PaLoginState.
type LoginState int

const (
	StateConnecting LoginState = iota
	StateConnected
	StateTransientDisconnect
	StateBadCredentials
	StateLoggedOut
	StateUnknownError
)

// MetaScope mirrors PaMetaScope.
type MetaScope int

const (
	MetaLogin MetaScope = iota
	MetaChat
	MetaContact
	MetaMessage
)

// ResolveMode mirrors PaResolveMode.
type ResolveMode int

const (
	ResolveIdentifier ResolveMode = iota
	ResolveSearch
)

// IDKind mirrors PaIdKind.
type IDKind int

const (
	IDUser IDKind = iota
	IDChat
)

// ResultCode mirrors PaResultCode.
type ResultCode int

const (
	ResultOK ResultCode = iota
	ResultNotConnected
	ResultUnsupported
	ResultTooLarge
	ResultRateLimited
	ResultNotFound
	ResultForbidden
	ResultTemporary
	ResultPermanent
	ResultUncertain
)

// OpResult mirrors PaOpResult.
type OpResult struct {
	Code         ResultCode
	LegacyID     string
	LegacyTSMS   int64
	Cursor       string
	RetryAfterMS uint32
	Error        string
}

// Host is the host table (PaHostApi) seen from Go.  Every method may be
// called from any goroutine (the binding only exposes the [any thread] calls
// and Invoke).  Tests give plugins a Host of their own (a recorder).
type Host interface {
	Log(level LogLevel, message string)
	// Emit returns the event's sequence number, 0 when the host refused it.
	Emit(ev *Event) uint64
	DataDir() string
	// BudgetLeft is -1 when unlimited.
	BudgetLeft() int64
	LoginStep(step *LoginStep)
	LoginState(state LoginState, message string)
	OpResult(op uint64, r *OpResult)
	OpContact(op uint64, m *Member)
	Notice(text string)
	MetaSet(scope MetaScope, id, value string)
	// MetaGet: ok false when no value is stored.
	MetaGet(scope MetaScope, id string) (value string, ok bool)
	ConfigString(key string) (value string, ok bool)
	ConfigInt(key string) int64
	ConfigBool(key string) bool
	// SecretStore with data nil deletes the secret.
	SecretStore(name string, data []byte) bool
	SecretLoad(name string) ([]byte, bool)
	// Invoke runs fn on the worker's main thread, in call order.
	Invoke(fn func())
}

// Network describes the plugin's network once (PaNetwork).
type Network struct {
	Name         string
	DisplayName  string
	Version      string
	Capabilities uint64
	ConfigKeys   []ConfigKey
	LoginFlows   []LoginFlow
	// Init may be nil.  The error's text is shown to the agent.
	Init func(h Host) error
	// Shutdown may be nil.
	Shutdown func(h Host)
	// NewLogin creates the login (nil for import-only networks).  Which
	// optional interfaces below the returned Login implements decides which
	// PaLoginOps members are non-NULL (all logins of a network must
	// implement the same set: the binding asks a zero value, see Ops).
	NewLogin func(h Host, saved bool) (Login, error)
	// Ops names the operations the logins implement, so the binding can
	// build PaLoginOps before any login exists: a Login value (typically a
	// nil pointer of the login's type) whose method set is inspected.
	Ops Login
	// NormalizeID may be nil; ok false when id is not a valid id.  Pure.
	NormalizeID func(kind IDKind, id string) (norm string, ok bool)
	// CImport, when not nil, is a C function of type
	//   bool (*)(PaHost *, const PaHostApi *, const char *path,
	//            const PaImportOptions *, char **error)
	// linked into the plugin: the network's export importer, written in C.
	CImport CImportFunc
	// LoginsPerWorker: 0, the logins cannot share a worker process; N >= 1,
	// they can, N by default (PaNetwork.logins_per_worker).  To say yes,
	// keep every login's state in its Login and call the Host NewLogin
	// gave it for whatever concerns that login (docs/plugin-guide.md).
	LoginsPerWorker uint32
}

// Login is one login (struct PaLogin).  Free is required; the rest are the
// optional interfaces below.  Every method is called on the worker's main
// thread and must return quickly: blocking work goes to a goroutine, which
// answers with Host.OpResult later.
type Login interface {
	Free()
}

// Login state machine (required when the network has login flows).
type LoginFlows interface {
	Start(flowID string)
	Submit(stepID string, fields map[string]string)
	Cancel()
}

type Connector interface {
	Connect()
	Disconnect()
}

type LogoutOp interface{ Logout(op uint64) }

type PersistListener interface{ EventPersisted(seq uint64) }

type SendOp interface {
	Send(op uint64, chatID string, c *Content, txnID string)
}

type EditOp interface {
	Edit(op uint64, chatID, targetID string, c *Content)
}

type RedactOp interface {
	Redact(op uint64, chatID, targetID string)
}

type ReactOp interface {
	React(op uint64, chatID, targetID, key string, remove bool)
}

type MarkReadOp interface {
	MarkRead(op uint64, chatID, messageID string)
}

type TypingOp interface {
	Typing(op uint64, chatID string, typing bool)
}

// SetChatInfoOp: value nil clears the field.
type SetChatInfoOp interface {
	SetChatInfo(op uint64, chatID string, field ChatField, value *string)
}

type MembershipOp interface {
	SetMembership(op uint64, chatID, userID string, join bool)
}

type ResolveOp interface {
	ResolveIdentifier(op uint64, identifier string, mode ResolveMode)
}

type ListContactsOp interface{ ListContacts(op uint64) }

type CreateDMOp interface {
	CreateDM(op uint64, userID string)
}

type CreateGroupOp interface {
	CreateGroup(op uint64, name string, userIDs []string)
}

type ChatInfoOp interface {
	GetChatInfo(op uint64, chatID string)
}

type UserInfoOp interface {
	GetUserInfo(op uint64, userID string)
}

// FetchHistoryOp: cursor "" means the newest.
type FetchHistoryOp interface {
	FetchHistory(op uint64, chatID, cursor string, count uint32, forward bool)
}
