// SPDX-License-Identifier: AGPL-3.0-or-later

// Matrix → Olvid helpers: files cut into chunks of at most 1 MiB, the
// result of a send that never left (NOT_CONNECTED, retried by the host)
// told apart from one whose answer was lost (UNCERTAIN, never resent),
// against real gRPC connections; the list of directory matches.
package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

func TestSendChunks(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (5<<20)/32) // 2.5 MiB
	var sizes []int
	var got []byte
	err := sendChunks(bytes.NewReader(data), uint64(len(data)), func(p []byte) error {
		sizes = append(sizes, len(p))
		got = append(got, p...)
		return nil
	})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("err %v, %d of %d bytes", err, len(got), len(data))
	}
	if want := []int{1 << 20, 1 << 20, 1 << 19}; len(sizes) != 3 || sizes[0] != want[0] || sizes[1] != want[1] || sizes[2] != want[2] {
		t.Fatalf("chunks %v, want %v", sizes, want)
	}
	// a file that changed size after its metadata was sent is not completed
	if err := sendChunks(bytes.NewReader(data[:10]), 11, func([]byte) error { return nil }); err == nil {
		t.Fatal("a short file was sent as complete")
	}
	// the stream's failure stops the upload at once
	calls := 0
	boom := errors.New("boom")
	if err := sendChunks(bytes.NewReader(data), uint64(len(data)), func([]byte) error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// slowTool never answers DaemonVersion before the caller gives up.
type slowTool struct {
	daemonpb.UnimplementedToolCommandServiceServer
}

func (slowTool) DaemonVersion(ctx context.Context, _ *daemonpb.DaemonVersionRequest) (*daemonpb.DaemonVersionResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (slowTool) Ping(context.Context, *daemonpb.PingRequest) (*daemonpb.PingResponse, error) {
	return nil, status.Error(codes.PermissionDenied, "not an admin of this group")
}

func dialTool(t *testing.T, addr string) daemonpb.ToolCommandServiceClient {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return daemonpb.NewToolCommandServiceClient(conn)
}

func TestSentCallResult(t *testing.T) {
	// Nothing listens: the request never left, the host may retry.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	var call sentCall
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = dialTool(t, closed).DaemonVersion(ctx, &daemonpb.DaemonVersionRequest{}, call.opt())
	if r := call.result(err); r.Code != pasdk.ResultNotConnected {
		t.Fatalf("refused connection: %+v (%v)", r, err)
	}

	// A daemon that took the request and never answered: UNCERTAIN.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	daemonpb.RegisterToolCommandServiceServer(srv, slowTool{})
	go srv.Serve(ln)
	defer srv.Stop()
	tool := dialTool(t, ln.Addr().String())
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	var lost sentCall
	_, err = tool.DaemonVersion(short, &daemonpb.DaemonVersionRequest{}, lost.opt())
	if r := lost.result(err); r.Code != pasdk.ResultUncertain || r.Error == "" {
		t.Fatalf("lost answer: %+v (%v)", r, err)
	}

	// A refusal is the daemon's answer: FORBIDDEN with its reason.
	var refused sentCall
	_, err = tool.Ping(ctx, &daemonpb.PingRequest{}, refused.opt())
	if r := refused.result(err); r.Code != pasdk.ResultForbidden || !strings.Contains(r.Error, "not an admin") {
		t.Fatalf("refusal: %+v", r)
	}
	if r := refused.result(nil); r.Code != pasdk.ResultOK {
		t.Fatalf("success: %+v", r)
	}
}

func TestLookupResultNeverUncertain(t *testing.T) {
	if r := lookupResult(errors.New("This Olvid identity is not in that group.")); r.Code != pasdk.ResultNotFound {
		t.Fatalf("plain error: %+v", r)
	}
	if r := lookupResult(status.Error(codes.Internal, "x")); r.Code != pasdk.ResultTemporary {
		t.Fatalf("internal error of a lookup: %+v", r)
	}
}

func TestMatchesText(t *testing.T) {
	users := []*daemonpb.KeycloakUser{
		{KeycloakId: "k2", DisplayName: "Marie Dupont"},
		{KeycloakId: "k1", DisplayName: "Marc Dupont", Details: &daemonpb.IdentityDetails{
			Position: strPtr("Conseiller"), Company: strPtr("Cabinet")}},
	}
	got := matchesText("Dupont", users)
	want := "2 people in your Olvid directory match “Dupont”; start one of them with its own command:\n" +
		"- Marc Dupont (Conseiller, Cabinet): `start olvid k1`\n" +
		"- Marie Dupont: `start olvid k2`"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	var many []*daemonpb.KeycloakUser
	for i := 0; i < maxListed+3; i++ {
		many = append(many, &daemonpb.KeycloakUser{KeycloakId: "k", DisplayName: "A"})
	}
	if !strings.HasSuffix(matchesText("A", many), "- and 3 more: give more of the name.") {
		t.Fatal("a long list is not cut")
	}
}

func strPtr(s string) *string { return &s }

func TestInOrder(t *testing.T) {
	l := &Login{}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	defer l.cancel()
	type step struct {
		wait func() bool
		done func()
	}
	var steps []step
	for i := 0; i < 3; i++ {
		w, d := l.inOrder("cabc")
		steps = append(steps, step{w, d})
	}
	other, otherDone := l.inOrder("cdef") // another chat does not wait
	if !other() {
		t.Fatal("another chat waited")
	}
	otherDone()
	got := make(chan int, 3)
	for i := 2; i >= 0; i-- { // started last first
		go func(i int) {
			if steps[i].wait() {
				got <- i
			}
			steps[i].done()
		}(i)
	}
	for want := 0; want < 3; want++ {
		if i := <-got; i != want {
			t.Fatalf("op %d ran in place %d", i, want)
		}
	}
	l.outMu.Lock()
	n := len(l.outTail)
	l.outMu.Unlock()
	if n != 0 {
		t.Fatalf("%d chats left in the queue map", n)
	}
	// a login that stops releases the ops still waiting
	w1, _ := l.inOrder("cabc")
	w2, _ := l.inOrder("cabc")
	_ = w1
	l.cancel()
	if w2() {
		t.Fatal("an op ran after the login stopped")
	}
}
