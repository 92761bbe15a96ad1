// SPDX-License-Identifier: AGPL-3.0-or-later

package waconv

// ToHTML renders WhatsApp markup as the SDK's HTML subset ("" when plain).
func ToHTML(text string, mention func(userID string) (name string, ok bool)) string { return "" }

// FromHTML renders the SDK's HTML subset as WhatsApp markup.
func FromHTML(html string) string { return html }
