// SPDX-License-Identifier: AGPL-3.0-or-later

//go:build !pa_testsource

// The deployed plugin talks to WhatsApp's servers only: no test source is
// compiled in, so no configuration can switch one on.
package main

func newTransport(l *Login) transport { return waTransport{cli: l.cli} }
