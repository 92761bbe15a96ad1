// SPDX-License-Identifier: AGPL-3.0-or-later

// whatsmeow's logger, wired to the host's log: whatsmeow recovers panics in
// event handlers and reports them only through its logger, so a silent
// logger would make events vanish.
package main

import (
	"fmt"

	waLog "go.mau.fi/whatsmeow/util/log"

	"passerelle/sdk/go/pasdk"
)

type hostLogger struct {
	host   pasdk.Host
	module string
	debug  bool // whatsmeow's debug lines (every frame) are kept only when asked
}

func newHostLogger(h pasdk.Host, module string, debug bool) waLog.Logger {
	return &hostLogger{host: h, module: module, debug: debug}
}

func (l *hostLogger) log(level pasdk.LogLevel, msg string, args []any) {
	l.host.Log(level, l.module+": "+fmt.Sprintf(msg, args...))
}

func (l *hostLogger) Errorf(msg string, args ...any) { l.log(pasdk.LogError, msg, args) }
func (l *hostLogger) Warnf(msg string, args ...any)  { l.log(pasdk.LogWarning, msg, args) }
func (l *hostLogger) Infof(msg string, args ...any)  { l.log(pasdk.LogInfo, msg, args) }
func (l *hostLogger) Debugf(msg string, args ...any) {
	if l.debug {
		l.log(pasdk.LogDebug, msg, args)
	}
}

func (l *hostLogger) Sub(module string) waLog.Logger {
	return &hostLogger{host: l.host, module: l.module + "/" + module, debug: l.debug}
}
