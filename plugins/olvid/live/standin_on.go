// SPDX-License-Identifier: AGPL-3.0-or-later

//go:build pa_standin

// The test build of olvid.so (tests/plugins/olvid-standin, never installed):
// it talks to Passerelle's stand-in daemon of the integration tests.
package main

const standinAllowed = true
