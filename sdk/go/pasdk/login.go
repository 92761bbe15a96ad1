// SPDX-License-Identifier: AGPL-3.0-or-later

// The PaLoginOps trampolines: C calls these exported functions with the
// login's cgo.Handle; each finds the Go Login, converts the arguments to Go
// values and calls the method of the optional interface.  Every one
// recovers a panic (logged with its stack, the op answered PERMANENT).

package pasdk

/*
#include "pasdk-shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// A login and the Host its calls go through (the PaHost login_new got).
type loginEntry struct {
	l    Login
	host Host
}

func loginOf(h C.uintptr_t) Login {
	return cgo.Handle(h).Value().(*loginEntry).l
}

func hostOf(h C.uintptr_t) Host {
	return cgo.Handle(h).Value().(*loginEntry).host
}

// recoverIn is recoverOp for an operation of the login h: the answer goes
// through the login's own Host.
func recoverIn(h C.uintptr_t, where string, op uint64) {
	if r := recover(); r != nil {
		logPanic(where, r)
		if op != 0 {
			hostOf(h).OpResult(op, &OpResult{Code: ResultPermanent,
				Error: "the plugin failed while handling this (a bug, logged)"})
		}
	}
}

// unsupported answers an op whose interface the login lacks (its Network.Ops
// promised more than the login implements).
func unsupported(h C.uintptr_t, op uint64) {
	hostOf(h).OpResult(op, &OpResult{Code: ResultUnsupported})
}

//export pasdkLoginNew
func pasdkLoginNew(host unsafe.Pointer, saved C.bool, err **C.char) (h C.uintptr_t) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("NewLogin", r)
			errorC(err, "the plugin failed to create the login (a bug, logged)")
			h = 0
		}
	}()
	n := network()
	if n == nil || n.NewLogin == nil {
		errorC(err, "this network has no login")
		return 0
	}
	lh := cHost{p: host}
	l, e := n.NewLogin(lh, bool(saved))
	if e != nil {
		errorC(err, e.Error())
		return 0
	}
	if l == nil {
		errorC(err, "the plugin created no login")
		return 0
	}
	return C.uintptr_t(cgo.NewHandle(&loginEntry{l: l, host: lh}))
}

//export pasdkLoginFree
func pasdkLoginFree(h C.uintptr_t) {
	defer cgo.Handle(h).Delete()
	defer recoverIn(h, "Free", 0)
	loginOf(h).Free()
}

//export pasdkLoginStart
func pasdkLoginStart(h C.uintptr_t, flow *C.char) {
	defer recoverIn(h, "Start", 0)
	if l, ok := loginOf(h).(LoginFlows); ok {
		l.Start(gostr(flow))
	}
}

//export pasdkLoginSubmit
func pasdkLoginSubmit(h C.uintptr_t, step *C.char, ids, values **C.char, n C.size_t) {
	defer recoverIn(h, "Submit", 0)
	l, ok := loginOf(h).(LoginFlows)
	if !ok {
		return
	}
	k, v := gostrs(ids, n), gostrs(values, n)
	fields := make(map[string]string, len(k))
	for i := range k {
		fields[k[i]] = v[i]
	}
	l.Submit(gostr(step), fields)
}

//export pasdkLoginCancel
func pasdkLoginCancel(h C.uintptr_t) {
	defer recoverIn(h, "Cancel", 0)
	if l, ok := loginOf(h).(LoginFlows); ok {
		l.Cancel()
	}
}

//export pasdkConnect
func pasdkConnect(h C.uintptr_t, up C.bool) {
	defer recoverIn(h, "Connect", 0)
	if l, ok := loginOf(h).(Connector); ok {
		if up {
			l.Connect()
		} else {
			l.Disconnect()
		}
	}
}

//export pasdkLogout
func pasdkLogout(h C.uintptr_t, op C.uint64_t) {
	defer recoverIn(h, "Logout", uint64(op))
	if l, ok := loginOf(h).(LogoutOp); ok {
		l.Logout(uint64(op))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkEventPersisted
func pasdkEventPersisted(h C.uintptr_t, seq C.uint64_t) {
	defer recoverIn(h, "EventPersisted", 0)
	if l, ok := loginOf(h).(PersistListener); ok {
		l.EventPersisted(uint64(seq))
	}
}

//export pasdkSend
func pasdkSend(h C.uintptr_t, op C.uint64_t, chat *C.char, c *C.PaContent, txn *C.char) {
	defer recoverIn(h, "Send", uint64(op))
	if l, ok := loginOf(h).(SendOp); ok {
		l.Send(uint64(op), gostr(chat), contentFromC(c), gostr(txn))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkEdit
func pasdkEdit(h C.uintptr_t, op C.uint64_t, chat, target *C.char, c *C.PaContent) {
	defer recoverIn(h, "Edit", uint64(op))
	if l, ok := loginOf(h).(EditOp); ok {
		l.Edit(uint64(op), gostr(chat), gostr(target), contentFromC(c))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkRedact
func pasdkRedact(h C.uintptr_t, op C.uint64_t, chat, target *C.char) {
	defer recoverIn(h, "Redact", uint64(op))
	if l, ok := loginOf(h).(RedactOp); ok {
		l.Redact(uint64(op), gostr(chat), gostr(target))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkReact
func pasdkReact(h C.uintptr_t, op C.uint64_t, chat, target, key *C.char, remove C.bool) {
	defer recoverIn(h, "React", uint64(op))
	if l, ok := loginOf(h).(ReactOp); ok {
		l.React(uint64(op), gostr(chat), gostr(target), gostr(key), bool(remove))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkMarkRead
func pasdkMarkRead(h C.uintptr_t, op C.uint64_t, chat, msg *C.char) {
	defer recoverIn(h, "MarkRead", uint64(op))
	if l, ok := loginOf(h).(MarkReadOp); ok {
		l.MarkRead(uint64(op), gostr(chat), gostr(msg))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkTyping
func pasdkTyping(h C.uintptr_t, op C.uint64_t, chat *C.char, typing C.bool) {
	defer recoverIn(h, "Typing", uint64(op))
	if l, ok := loginOf(h).(TypingOp); ok {
		l.Typing(uint64(op), gostr(chat), bool(typing))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkSetChatInfo
func pasdkSetChatInfo(h C.uintptr_t, op C.uint64_t, chat *C.char, field C.int, value *C.char) {
	defer recoverIn(h, "SetChatInfo", uint64(op))
	l, ok := loginOf(h).(SetChatInfoOp)
	if !ok {
		unsupported(h, uint64(op))
		return
	}
	var v *string
	if value != nil {
		s := C.GoString(value)
		v = &s
	}
	l.SetChatInfo(uint64(op), gostr(chat), ChatField(field), v)
}

//export pasdkSetMembership
func pasdkSetMembership(h C.uintptr_t, op C.uint64_t, chat, user *C.char, join C.bool) {
	defer recoverIn(h, "SetMembership", uint64(op))
	if l, ok := loginOf(h).(MembershipOp); ok {
		l.SetMembership(uint64(op), gostr(chat), gostr(user), bool(join))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkResolveIdentifier
func pasdkResolveIdentifier(h C.uintptr_t, op C.uint64_t, ident *C.char, mode C.int) {
	defer recoverIn(h, "ResolveIdentifier", uint64(op))
	if l, ok := loginOf(h).(ResolveOp); ok {
		l.ResolveIdentifier(uint64(op), gostr(ident), ResolveMode(mode))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkListContacts
func pasdkListContacts(h C.uintptr_t, op C.uint64_t) {
	defer recoverIn(h, "ListContacts", uint64(op))
	if l, ok := loginOf(h).(ListContactsOp); ok {
		l.ListContacts(uint64(op))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkCreateDM
func pasdkCreateDM(h C.uintptr_t, op C.uint64_t, user *C.char) {
	defer recoverIn(h, "CreateDM", uint64(op))
	if l, ok := loginOf(h).(CreateDMOp); ok {
		l.CreateDM(uint64(op), gostr(user))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkCreateGroup
func pasdkCreateGroup(h C.uintptr_t, op C.uint64_t, name *C.char, ids **C.char, n C.size_t) {
	defer recoverIn(h, "CreateGroup", uint64(op))
	if l, ok := loginOf(h).(CreateGroupOp); ok {
		l.CreateGroup(uint64(op), gostr(name), gostrs(ids, n))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkGetChatInfo
func pasdkGetChatInfo(h C.uintptr_t, op C.uint64_t, chat *C.char) {
	defer recoverIn(h, "GetChatInfo", uint64(op))
	if l, ok := loginOf(h).(ChatInfoOp); ok {
		l.GetChatInfo(uint64(op), gostr(chat))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkGetUserInfo
func pasdkGetUserInfo(h C.uintptr_t, op C.uint64_t, user *C.char) {
	defer recoverIn(h, "GetUserInfo", uint64(op))
	if l, ok := loginOf(h).(UserInfoOp); ok {
		l.GetUserInfo(uint64(op), gostr(user))
	} else {
		unsupported(h, uint64(op))
	}
}

//export pasdkFetchHistory
func pasdkFetchHistory(h C.uintptr_t, op C.uint64_t, chat, cursor *C.char, count C.uint32_t, forward C.bool) {
	defer recoverIn(h, "FetchHistory", uint64(op))
	if l, ok := loginOf(h).(FetchHistoryOp); ok {
		l.FetchHistory(uint64(op), gostr(chat), gostr(cursor), uint32(count), bool(forward))
	} else {
		unsupported(h, uint64(op))
	}
}
