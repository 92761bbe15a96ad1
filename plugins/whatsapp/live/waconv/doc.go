// SPDX-License-Identifier: AGPL-3.0-or-later

// Package waconv converts between WhatsApp (whatsmeow's types and waE2E
// protobufs) and Passerelle's SDK values: identifiers, WhatsApp markup and
// the SDK's HTML subset, incoming messages, outgoing messages.  Every
// function is pure: no network, no files, no cgo; what needs the client
// (downloading media, decrypting poll votes, the LID store) stays in the
// plugin, which gets from here what to do it with (In.Media, In.TargetID).
//
// Names of people come from the plugin through a mention callback: given a
// user id ("33612345678@s.whatsapp.net" or "123456789@lid") it answers the
// name to show, ok false when it knows none.  FromWA only asks about the
// users a message really mentions (its contextInfo's mentionedJID).
//
// The conversion table, as the agent sees it, is in docs/whatsapp-messages.md.
package waconv
