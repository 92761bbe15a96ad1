// SPDX-License-Identifier: AGPL-3.0-or-later

// The Olvid network as the host sees it: its name, version, configuration
// keys (plugins.olvid in config.yaml), login flows and capabilities.  One
// login is one Olvid identity hosted in the ministry's bot daemon.
package main

import "passerelle/sdk/go/pasdk"

// version is set by the build (-ldflags "-X main.version=...").
var version = "dev"

// Configuration keys (plugins.olvid in config.yaml).
const (
	cfgDaemonAddress   = "daemon_address"
	cfgTLS             = "tls"
	cfgTLSCA           = "tls_ca"
	cfgAdminClientKey  = "admin_client_key"
	cfgKeycloakLink    = "keycloak_configuration_link"
	cfgIdentityDisplay = "identity_display"
	cfgMaxMediaBytes   = "max_media_bytes"
	cfgCatchupMessages = "catchup_messages"
)

// Login flows (`login olvid <flow>` in the management room).
const (
	flowDirectory  = "directory"
	flowInvitation = "invitation"
	flowRestore    = "restore"
	flowKey        = "key"
)

// Olvid's daemon has no typing indicator, presence or explicit mark-read:
// no CapTyping, CapPresence; read receipts go one way (Olvid to Matrix).
const olvidCaps = pasdk.CapLogin | pasdk.CapGroups | pasdk.CapMedia | pasdk.CapEdits |
	pasdk.CapDeletes | pasdk.CapReactions | pasdk.CapReplies | pasdk.CapReadReceipts |
	pasdk.CapDisappearing

var network = &pasdk.Network{
	Name:         "olvid",
	DisplayName:  "Olvid",
	Version:      version,
	Capabilities: olvidCaps,
	ConfigKeys: []pasdk.ConfigKey{
		{Key: cfgDaemonAddress, Type: pasdk.ConfigString, Required: true,
			Description: "The Olvid bot daemon's gRPC address, host:port."},
		{Key: cfgTLS, Type: pasdk.ConfigBool, Default: "true", HasDefault: true,
			Description: "Talk to the daemon over TLS (false only for a daemon on the same host or a private network)."},
		{Key: cfgTLSCA, Type: pasdk.ConfigString,
			Description: "A PEM file of the certificate authorities the daemon's certificate is checked against (default: the system's)."},
		{Key: cfgAdminClientKey, Type: pasdk.ConfigString, Secret: true,
			Description: "The daemon's admin client key: used only to create or restore an identity and to make its own client key."},
		{Key: cfgKeycloakLink, Type: pasdk.ConfigString,
			Description: "The configuration link of the ministry's Olvid directory (Keycloak), for the `directory` login."},
		{Key: cfgIdentityDisplay, Type: pasdk.ConfigString, Default: "{name} (Tchap)", HasDefault: true,
			Description: "The display name of an agent's Olvid identity; {name} is the agent's Matrix display name."},
		{Key: cfgMaxMediaBytes, Type: pasdk.ConfigInt, Default: "104857600", HasDefault: true,
			Description: "The largest attachment bridged either way, in bytes."},
		{Key: cfgCatchupMessages, Type: pasdk.ConfigInt, Default: "1000", HasDefault: true,
			Description: "The most unread messages one catch-up (at every connect) bridges."},
	},
	LoginFlows: []pasdk.LoginFlow{
		{ID: flowDirectory, Name: "Ministry directory",
			Description: "A new Olvid identity in the ministry's daemon, bound to the ministry's Olvid directory, so that cabinet members find you there."},
		{ID: flowInvitation, Name: "Invitation link",
			Description: "A new Olvid identity in the ministry's daemon; its invitation link and QR code are shown for Olvid users to add you."},
		{ID: flowRestore, Name: "Move an identity",
			Description: "Moves your existing Olvid identity into the ministry's daemon from an Olvid backup key (a migration: read the warning first)."},
		{ID: flowKey, Name: "Client key",
			Description: "Uses an identity already in the daemon, with the client key an admin gives you."},
	},
	NewLogin:    newLogin,
	Ops:         (*Login)(nil),
	NormalizeID: normalizeID,
	// Each login is its own gRPC client and Host: logins may share a worker
	// process (one each unless workers.logins_per_worker says more).
	LoginsPerWorker: 1,
}

func init() { pasdk.Register(network) }
