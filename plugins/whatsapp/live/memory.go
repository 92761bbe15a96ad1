// SPDX-License-Identifier: AGPL-3.0-or-later

// Memory of an idle login.  A ministry runs thousands of logins, one worker
// each: what a burst (the connection's first minutes, a history sync) made
// the Go heap grow to is given back to the system once the burst is over,
// rather than kept until the runtime's scavenger gets to it.

package main

import (
	"runtime/debug"
	"time"
)

// settleDelay is how long after a burst the worker gives memory back.
const settleDelay = 10 * time.Second

// releaseMemoryLater returns the heap's free pages to the system once
// settleDelay has passed without the login being freed.
func (l *Login) releaseMemoryLater() {
	l.spawn(func() {
		select {
		case <-l.ctx.Done():
		case <-time.After(settleDelay):
			debug.FreeOSMemory()
		}
	})
}
