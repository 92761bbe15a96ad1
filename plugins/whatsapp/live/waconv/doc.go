// SPDX-License-Identifier: AGPL-3.0-or-later

// Package waconv converts between WhatsApp (whatsmeow's types and waE2E
// protobufs) and Passerelle's SDK values: identifiers, WhatsApp markup and
// the SDK's HTML subset, incoming messages, outgoing messages.  Every
// function is pure: no network, no files, no cgo.
package waconv
