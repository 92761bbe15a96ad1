// SPDX-License-Identifier: AGPL-3.0-or-later

//go:build !pa_standin

// The installed olvid.so: a daemon that says it is Passerelle's test
// stand-in is refused (daemon.go, checkDaemonVersion).
package main

const standinAllowed = false
