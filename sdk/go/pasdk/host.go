// SPDX-License-Identifier: AGPL-3.0-or-later

// The Host of a Go plugin: the host table network->init received, seen
// through Go values.  Every method copies its arguments into C memory for
// the duration of the call (an arena) and frees them after; the host copies
// what it keeps.  Safe from any goroutine: each PaHostApi function it calls
// is [any thread], and Invoke queues Go functions for the main thread.

package pasdk

/*
#include "pasdk-shim.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"sync"
	"unsafe"
)

// cHost calls the host table through one PaHost: a login's own (p, the
// one login_new got), or, p nil, the network's (init's).
type cHost struct{ p unsafe.Pointer }

// theHost is the network's Host (the one init got): configuration, logs,
// Invoke; what concerns a login goes through that login's own Host.
var theHost Host = cHost{}

func (h cHost) Log(level LogLevel, message string) {
	var a arena
	defer a.free()
	C.pasdk_call_log(h.p, C.PaLogLevel(level), a.strAlways(message))
}

func (h cHost) Emit(ev *Event) (seq uint64) {
	if ev == nil {
		return 0
	}
	defer func() {
		if r := recover(); r != nil {
			logPanic("Emit", r)
			seq = 0
		}
	}()
	var a arena
	defer a.free()
	return uint64(C.pasdk_call_emit(h.p, a.event(ev)))
}

func (h cHost) DataDir() string {
	return gostr(C.pasdk_call_data_dir(h.p))
}

func (h cHost) BudgetLeft() int64 {
	return int64(C.pasdk_call_budget_left(h.p))
}

func (h cHost) LoginStep(step *LoginStep) {
	if step == nil {
		return
	}
	var a arena
	defer a.free()
	C.pasdk_call_login_step(h.p, a.loginStep(step))
}

func (h cHost) LoginState(state LoginState, message string) {
	var a arena
	defer a.free()
	C.pasdk_call_login_state(h.p, C.PaLoginState(state), a.str(message))
}

func (h cHost) OpResult(op uint64, r *OpResult) {
	if r == nil {
		r = &OpResult{Code: ResultOK}
	}
	var a arena
	defer a.free()
	C.pasdk_call_op_result(h.p, C.uint64_t(op), a.opResult(r))
}

func (h cHost) OpContact(op uint64, m *Member) {
	if m == nil {
		return
	}
	var a arena
	defer a.free()
	C.pasdk_call_op_contact(h.p, C.uint64_t(op), a.member(m))
}

func (h cHost) Notice(text string) {
	var a arena
	defer a.free()
	C.pasdk_call_notice(h.p, a.strAlways(text))
}

func (h cHost) MetaSet(scope MetaScope, id, value string) {
	var a arena
	defer a.free()
	C.pasdk_call_meta_set(h.p, C.PaMetaScope(scope), a.strAlways(id), a.strAlways(value))
}

func (h cHost) MetaGet(scope MetaScope, id string) (string, bool) {
	var a arena
	defer a.free()
	v := C.pasdk_call_meta_get(h.p, C.PaMetaScope(scope), a.strAlways(id))
	if v == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(v))
	return C.GoString(v), true
}

func (h cHost) ConfigString(key string) (string, bool) {
	var a arena
	defer a.free()
	v := C.pasdk_call_config_string(h.p, a.strAlways(key))
	if v == nil {
		return "", false
	}
	return C.GoString(v), true
}

func (h cHost) ConfigInt(key string) int64 {
	var a arena
	defer a.free()
	return int64(C.pasdk_call_config_int(h.p, a.strAlways(key)))
}

func (h cHost) ConfigBool(key string) bool {
	var a arena
	defer a.free()
	return bool(C.pasdk_call_config_bool(h.p, a.strAlways(key)))
}

func (h cHost) SecretStore(name string, data []byte) bool {
	var a arena
	defer a.free()
	var p unsafe.Pointer
	if data != nil {
		p = a.alloc(uintptr(len(data)))
		copy(unsafe.Slice((*byte)(p), len(data)), data)
	}
	return C.pasdk_call_secret_store(h.p, a.strAlways(name), p, C.size_t(len(data))) == 1
}

func (h cHost) SecretLoad(name string) ([]byte, bool) {
	var a arena
	defer a.free()
	var n C.size_t
	var supported C.bool
	p := C.pasdk_call_secret_load(h.p, a.strAlways(name), &n, &supported)
	if p == nil {
		return nil, false
	}
	defer C.free(p)
	return C.GoBytes(p, C.int(n)), true
}

// The invoke queue: Invoke appends, and each api->invoke the host runs
// pops one function, so the functions of one goroutine run in its order.
var (
	invokeMu    sync.Mutex
	invokeQueue []func()
)

func (h cHost) Invoke(fn func()) {
	if fn == nil {
		return
	}
	invokeMu.Lock()
	invokeQueue = append(invokeQueue, fn)
	invokeMu.Unlock()
	// Without a host (before init, after shutdown) nothing runs it.
	C.pasdk_call_invoke(h.p)
}

//export pasdkRunInvoke
func pasdkRunInvoke() {
	invokeMu.Lock()
	if len(invokeQueue) == 0 {
		invokeMu.Unlock()
		return
	}
	fn := invokeQueue[0]
	invokeQueue[0] = nil
	invokeQueue = invokeQueue[1:]
	invokeMu.Unlock()
	defer recoverOp("invoked function", 0)
	fn()
}

// logPanic logs a recovered panic and its stack through the host at ERROR.
func logPanic(where string, r any) {
	theHost.Log(LogError, fmt.Sprintf("panic in %s: %v\n%s", where, r, debug.Stack()))
}

// recoverOp, deferred by every trampoline: a panic is logged, and the
// operation op (when not 0) is answered PERMANENT.
func recoverOp(where string, op uint64) {
	if r := recover(); r != nil {
		logPanic(where, r)
		if op != 0 {
			theHost.OpResult(op, &OpResult{Code: ResultPermanent,
				Error: "the plugin failed while handling this (a bug, logged)"})
		}
	}
}
