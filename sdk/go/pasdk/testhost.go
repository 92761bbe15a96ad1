// SPDX-License-Identifier: AGPL-3.0-or-later

// Go wrappers of the recording test host (pasdk-testhost.c) for the
// package's tests: _test.go files cannot use cgo themselves.

package pasdk

/*
#include "pasdk-testhost.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// testNet resets the binding to n (as a fresh process would see it) and
// returns its descriptor.
func testNet(n *Network) *C.PaNetwork {
	netMu.Lock()
	registered, descriptor = n, nil
	netMu.Unlock()
	C.pasdk_test_reset()
	return C.pa_plugin_get_network()
}

func cerr(e *C.char) error {
	defer C.free(unsafe.Pointer(e))
	if e == nil {
		return errors.New("(no error text)")
	}
	return errors.New(C.GoString(e))
}

func testInit(net *C.PaNetwork) error {
	var e *C.char
	if !C.pasdk_test_init(net, &e) {
		return cerr(e)
	}
	return nil
}

func testShutdown(net *C.PaNetwork) { C.pasdk_test_shutdown(net) }

func testLoginNew(net *C.PaNetwork) (*C.PaLogin, error) {
	var e *C.char
	l := C.pasdk_test_login_new(net, &e)
	if l == nil {
		return nil, cerr(e)
	}
	return l, nil
}

func testLoginFree(net *C.PaNetwork, l *C.PaLogin) { C.pasdk_test_login_free(net, l) }

func testSend(net *C.PaNetwork, l *C.PaLogin, op uint64, chat, text string) {
	var a arena
	defer a.free()
	C.pasdk_test_send(net, l, C.uint64_t(op), a.str(chat), a.str(text))
}

func testOpsMask(net *C.PaNetwork) uint32 { return uint32(C.pasdk_test_ops_mask(net)) }

func testEvents() []*Event {
	var out []*Event
	for i := C.size_t(0); i < C.pasdk_test_n_events(); i++ {
		out = append(out, eventFromC(C.pasdk_test_event(i)))
	}
	return out
}

func testLogs() []string {
	var out []string
	for i := C.size_t(0); i < C.pasdk_test_n_logs(); i++ {
		out = append(out, C.GoString(C.pasdk_test_log(i)))
	}
	return out
}

func testOpCode(op uint64) int { return int(C.pasdk_test_op_code(C.uint64_t(op))) }

func testRunInvokes() int { return int(C.pasdk_test_run_invokes()) }

// netInfo is what a test reads of a descriptor.
type netInfo struct {
	name, version           string
	abiMajor, abiMinor      int
	caps                    uint64
	loginsPerWorker         uint32
	configKeys, flows       []string
	hasLoginNew, hasImport  bool
	hasNormalize, hasInit   bool
	defaultOfFirstConfigKey *string
}

func testNetInfo(net *C.PaNetwork) netInfo {
	i := netInfo{
		name:            gostr(net.name),
		version:         gostr(net.version),
		abiMajor:        int(net.abi_major),
		abiMinor:        int(net.abi_minor),
		caps:            uint64(net.capabilities),
		loginsPerWorker: uint32(net.logins_per_worker),
		hasLoginNew:     net.login_new != nil,
		hasImport:       net.import_file != nil,
		hasNormalize:    net.normalize_id != nil,
		hasInit:         net.init != nil,
	}
	for _, k := range unsafe.Slice(net.config_keys, int(net.n_config_keys)) {
		i.configKeys = append(i.configKeys, gostr(k.key))
	}
	if net.n_config_keys > 0 && net.config_keys.default_value != nil {
		s := C.GoString(net.config_keys.default_value)
		i.defaultOfFirstConfigKey = &s
	}
	for _, f := range unsafe.Slice(net.login_flows, int(net.n_login_flows)) {
		i.flows = append(i.flows, gostr(f.id))
	}
	return i
}

// testNormalize calls net->normalize_id; ok false for NULL.
func testNormalize(net *C.PaNetwork, id string) (string, bool) {
	var a arena
	defer a.free()
	p := C.pasdk_test_normalize(net, a.strAlways(id))
	if p == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p), true
}

// sameNet: the entry point still returns net.
func sameNet(net *C.PaNetwork) bool { return C.pa_plugin_get_network() == net }

// testRecords: the login steps, states and contacts the host received, as text.
func testRecords() []string {
	var out []string
	for i := C.size_t(0); i < C.pasdk_test_n_records(); i++ {
		out = append(out, C.GoString(C.pasdk_test_record(i)))
	}
	return out
}
