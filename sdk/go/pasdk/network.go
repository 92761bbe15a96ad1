// SPDX-License-Identifier: AGPL-3.0-or-later

// Register and the descriptor: the PaNetwork, its config keys, login flows
// and PaLoginOps, built in C memory on the first call of
// pa_plugin_get_network (after every init() of the plugin ran) and kept for
// the life of the process.

package pasdk

/*
#include "pasdk-shim.h"
*/
import "C"

import (
	"sync"
	"unsafe"
)

var (
	netMu      sync.Mutex
	registered *Network
	descriptor *C.PaNetwork
)

// Register makes n the plugin's network.  Call it once, from an init() of
// the plugin's main package.  The binding keeps the pointer and reads the
// Network on the first call from the host, after every init() ran, so
// other init() functions may still fill it.
func Register(n *Network) {
	netMu.Lock()
	defer netMu.Unlock()
	if registered != nil && registered != n {
		panic("pasdk: Register called twice")
	}
	registered = n
}

func network() *Network {
	netMu.Lock()
	defer netMu.Unlock()
	return registered
}

// opsMask names the PaLoginOps members the value ops implements.
func opsMask(ops Login) C.uint32_t {
	if ops == nil {
		return 0
	}
	var m C.uint32_t
	set := func(ok bool, bit C.uint32_t) {
		if ok {
			m |= bit
		}
	}
	_, ok := ops.(LoginFlows)
	set(ok, C.PASDK_OP_FLOWS)
	_, ok = ops.(Connector)
	set(ok, C.PASDK_OP_CONNECT)
	_, ok = ops.(LogoutOp)
	set(ok, C.PASDK_OP_LOGOUT)
	_, ok = ops.(PersistListener)
	set(ok, C.PASDK_OP_PERSISTED)
	_, ok = ops.(SendOp)
	set(ok, C.PASDK_OP_SEND)
	_, ok = ops.(EditOp)
	set(ok, C.PASDK_OP_EDIT)
	_, ok = ops.(RedactOp)
	set(ok, C.PASDK_OP_REDACT)
	_, ok = ops.(ReactOp)
	set(ok, C.PASDK_OP_REACT)
	_, ok = ops.(MarkReadOp)
	set(ok, C.PASDK_OP_MARK_READ)
	_, ok = ops.(TypingOp)
	set(ok, C.PASDK_OP_TYPING)
	_, ok = ops.(SetChatInfoOp)
	set(ok, C.PASDK_OP_SET_CHAT_INFO)
	_, ok = ops.(MembershipOp)
	set(ok, C.PASDK_OP_MEMBERSHIP)
	_, ok = ops.(ResolveOp)
	set(ok, C.PASDK_OP_RESOLVE)
	_, ok = ops.(ListContactsOp)
	set(ok, C.PASDK_OP_LIST_CONTACTS)
	_, ok = ops.(CreateDMOp)
	set(ok, C.PASDK_OP_CREATE_DM)
	_, ok = ops.(CreateGroupOp)
	set(ok, C.PASDK_OP_CREATE_GROUP)
	_, ok = ops.(ChatInfoOp)
	set(ok, C.PASDK_OP_CHAT_INFO)
	_, ok = ops.(UserInfoOp)
	set(ok, C.PASDK_OP_USER_INFO)
	_, ok = ops.(FetchHistoryOp)
	set(ok, C.PASDK_OP_FETCH_HISTORY)
	return m
}

// buildNetwork copies n into C memory that is never freed.
func buildNetwork(n *Network) *C.PaNetwork {
	var a arena // kept: the descriptor lives as long as the process
	p := (*C.PaNetwork)(a.alloc(C.sizeof_PaNetwork))
	p.magic = C.PA_PLUGIN_MAGIC
	p.abi_major = C.PA_PLUGIN_ABI_MAJOR
	p.abi_minor = C.PA_PLUGIN_ABI_MINOR
	p.struct_size = C.sizeof_PaNetwork
	p.name = a.str(n.Name)
	p.display_name = a.str(n.DisplayName)
	p.version = a.str(n.Version)
	p.capabilities = C.uint64_t(n.Capabilities)
	p.logins_per_worker = C.uint32_t(n.LoginsPerWorker)
	if len(n.ConfigKeys) > 0 {
		arr := unsafe.Slice((*C.PaConfigKey)(a.alloc(uintptr(len(n.ConfigKeys))*C.sizeof_PaConfigKey)), len(n.ConfigKeys))
		for i, k := range n.ConfigKeys {
			arr[i].struct_size = C.sizeof_PaConfigKey
			arr[i].key = a.str(k.Key)
			arr[i]._type = C.PaConfigType(k.Type)
			// No default only when Default is "" and HasDefault false.
			if k.HasDefault || k.Default != "" {
				arr[i].default_value = a.strAlways(k.Default)
			}
			arr[i].description = a.str(k.Description)
			arr[i].secret = cbool(k.Secret)
			arr[i].required = cbool(k.Required)
		}
		p.config_keys = &arr[0]
		p.n_config_keys = C.size_t(len(arr))
	}
	if len(n.LoginFlows) > 0 {
		arr := unsafe.Slice((*C.PaLoginFlow)(a.alloc(uintptr(len(n.LoginFlows))*C.sizeof_PaLoginFlow)), len(n.LoginFlows))
		for i, f := range n.LoginFlows {
			arr[i].struct_size = C.sizeof_PaLoginFlow
			arr[i].id = a.str(f.ID)
			arr[i].name = a.str(f.Name)
			arr[i].description = a.str(f.Description)
		}
		p.login_flows = &arr[0]
		p.n_login_flows = C.size_t(len(arr))
	}
	C.pasdk_network_set_funcs(p, opsMask(n.Ops), cbool(n.NewLogin != nil),
		cbool(n.NormalizeID != nil), unsafe.Pointer(n.CImport))
	return p
}

//export pasdkNetwork
func pasdkNetwork() *C.PaNetwork {
	netMu.Lock()
	defer netMu.Unlock()
	if descriptor == nil && registered != nil {
		descriptor = buildNetwork(registered)
	}
	return descriptor
}

// errorC is err's text in malloc'd memory (the caller's *error).
func errorC(err **C.char, msg string) {
	if err != nil {
		*err = C.CString(msg)
	}
}

//export pasdkInit
func pasdkInit(err **C.char) (ok C.bool) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("Init", r)
			errorC(err, "the plugin failed to start (a bug, logged)")
			ok = false
		}
	}()
	n := network()
	if n == nil {
		errorC(err, "the plugin registered no network")
		return false
	}
	if n.Init != nil {
		if e := n.Init(theHost); e != nil {
			errorC(err, e.Error())
			return false
		}
	}
	return true
}

//export pasdkShutdown
func pasdkShutdown() {
	defer recoverOp("Shutdown", 0)
	if n := network(); n != nil && n.Shutdown != nil {
		n.Shutdown(theHost)
	}
}

//export pasdkNormalizeID
func pasdkNormalizeID(kind C.int, id *C.char) (out *C.char) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("NormalizeID", r)
			out = nil
		}
	}()
	n := network()
	if n == nil || n.NormalizeID == nil {
		return nil
	}
	norm, ok := n.NormalizeID(IDKind(kind), gostr(id))
	if !ok {
		return nil
	}
	return C.CString(norm)
}
