// SPDX-License-Identifier: AGPL-3.0-or-later

// The WhatsApp network as the host sees it: its name, version and the
// capabilities every build has (the export importer).  The live login
// (whatsmeow) fills in the rest from its own init().

package main

import "passerelle/sdk/go/pasdk"

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

var network = &pasdk.Network{
	Name:         "whatsapp",
	DisplayName:  "WhatsApp",
	Version:      version,
	Capabilities: pasdk.CapImport | pasdk.CapGroups | pasdk.CapMedia,
}

func init() { pasdk.Register(network) }
