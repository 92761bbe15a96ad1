// SPDX-License-Identifier: AGPL-3.0-or-later

// The live half of the whatsapp network: login flows, configuration keys,
// capabilities and identifier rules, added to the network that network.go
// declares (the export importer's half).
package main

import (
	"passerelle/plugins/whatsapp/live/waconv"
	"passerelle/sdk/go/pasdk"
)

// Configuration keys (plugins.whatsapp in config.yaml).
const (
	cfgHistoryConversations = "history_conversations"
	cfgHistoryDays          = "history_days"
	cfgHistoryMaxBytes      = "history_max_bytes"
	cfgStatusBroadcast      = "status_broadcast"
	cfgDeviceName           = "device_name"
	cfgDebugLog             = "whatsmeow_debug"
)

// liveCaps are the capabilities of a live WhatsApp login.
const liveCaps = pasdk.CapLogin | pasdk.CapGroups | pasdk.CapMedia | pasdk.CapEdits |
	pasdk.CapDeletes | pasdk.CapReactions | pasdk.CapReplies | pasdk.CapTyping |
	pasdk.CapReadReceipts | pasdk.CapPresence | pasdk.CapHistory | pasdk.CapFormatting |
	pasdk.CapDisappearing

func init() {
	network.Capabilities |= liveCaps
	// Each login is its own whatsmeow client, store and Host: logins may
	// share a worker process (one each unless workers.logins_per_worker
	// says more).
	network.LoginsPerWorker = 1
	network.LoginFlows = []pasdk.LoginFlow{
		{ID: flowQR, Name: "QR code", Description: "Scan a QR code with WhatsApp on your phone (Linked devices)."},
		{ID: flowPhone, Name: "Pairing code", Description: "Type an 8-character code into WhatsApp on your phone instead of scanning."},
	}
	network.ConfigKeys = append(network.ConfigKeys,
		pasdk.ConfigKey{Key: cfgHistoryConversations, Type: pasdk.ConfigInt, Default: "20", HasDefault: true,
			Description: "At link time, how many of the most recent conversations get their history bridged (0: none)."},
		pasdk.ConfigKey{Key: cfgHistoryDays, Type: pasdk.ConfigInt, Default: "30", HasDefault: true,
			Description: "At link time, how many days of history are bridged per conversation (0: no limit)."},
		pasdk.ConfigKey{Key: cfgHistoryMaxBytes, Type: pasdk.ConfigInt, Default: "104857600", HasDefault: true,
			Description: "At link time, the most bytes of media downloaded for history, over all conversations."},
		pasdk.ConfigKey{Key: cfgStatusBroadcast, Type: pasdk.ConfigBool, Default: "false", HasDefault: true,
			Description: "Bridge contacts' status updates (status@broadcast) into a room of their own."},
		pasdk.ConfigKey{Key: cfgDeviceName, Type: pasdk.ConfigString, Default: "Passerelle", HasDefault: true,
			Description: "The name the linked device has in WhatsApp's \"Linked devices\" list."},
		pasdk.ConfigKey{Key: cfgDebugLog, Type: pasdk.ConfigBool, Default: "false", HasDefault: true,
			Description: "Log whatsmeow's debug lines (every frame): for troubleshooting only."},
	)
	network.NewLogin = newLogin
	network.Ops = (*Login)(nil)
	network.NormalizeID = waconv.NormalizeID
}
