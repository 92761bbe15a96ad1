// SPDX-License-Identifier: AGPL-3.0-or-later

// goecho.so: the smallest Go plugin, for the tests of the Go binding through
// the real worker (test-goecho.c).  A login flow asks a name; a sent
// message is answered OK, then echoed back from a goroutine (Emit from
// another thread) with a notice run on the main thread (Invoke); the text
// "panic" panics, which the binding answers PERMANENT.  Never installed.

package main

import (
	"fmt"

	"passerelle/sdk/go/pasdk"
)

var version = "dev"

type echoLogin struct {
	h    pasdk.Host
	name string
}

func (l *echoLogin) Free() {}

func (l *echoLogin) Start(flowID string) {
	l.h.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: "name",
		Instructions: "Your name?",
		Fields:       []pasdk.Field{{ID: "name", Label: "Name", Type: pasdk.FieldText}}})
}

func (l *echoLogin) Submit(stepID string, fields map[string]string) {
	l.name = fields["name"]
	l.h.LoginStep(&pasdk.LoginStep{Kind: pasdk.StepComplete, StepID: "done",
		RemoteID: l.name, RemoteName: l.name})
	l.h.LoginState(pasdk.StateConnected, "")
}

func (l *echoLogin) Cancel() {}

func (l *echoLogin) EventPersisted(seq uint64) {
	l.h.Notice(fmt.Sprintf("persisted %d", seq))
}

func (l *echoLogin) Send(op uint64, chatID string, c *pasdk.Content, txnID string) {
	if c.Text == "panic" {
		panic("goecho was told to panic")
	}
	id := fmt.Sprintf("echo-%d", op)
	l.h.OpResult(op, &pasdk.OpResult{Code: pasdk.ResultOK, LegacyID: id})
	go func() {
		l.h.Emit(&pasdk.Event{Type: pasdk.EvMessage, ChatID: chatID, SenderID: chatID,
			MessageID: id + "-reply",
			Content:   &pasdk.Content{Kind: pasdk.MsgText, Text: c.Text, ReplyTo: id},
			Chat:      &pasdk.ChatInfo{ID: chatID, Kind: pasdk.ChatDM}})
		l.h.Invoke(func() { l.h.Notice("invoked: " + c.Text) })
	}()
}

var network = &pasdk.Network{
	Name:         "goecho",
	DisplayName:  "Go echo",
	Version:      version,
	Capabilities: pasdk.CapLogin,
	LoginFlows:   []pasdk.LoginFlow{{ID: "name", Name: "Name"}},
	NewLogin: func(h pasdk.Host, saved bool) (pasdk.Login, error) {
		return &echoLogin{h: h}, nil
	},
	Ops: (*echoLogin)(nil),
}

func init() { pasdk.Register(network) }

func main() {}
