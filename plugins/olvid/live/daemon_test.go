// SPDX-License-Identifier: AGPL-3.0-or-later

// The daemon connection against an in-process gRPC server: the client key
// on calls and streams, a wrong key, the stand-in gate, the status mapping;
// and the login's lifetime (Free, onFree, spawn).
package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// fakeDaemon answers DaemonVersion and MessageReceived, and records the
// client key of every call and stream; a wrong key is UNAUTHENTICATED.
type fakeDaemon struct {
	daemonpb.UnimplementedToolCommandServiceServer
	daemonpb.UnimplementedMessageNotificationServiceServer
	version string
	key     string

	mu   sync.Mutex
	seen []string // "<method> <key>"
}

func (f *fakeDaemon) check(ctx context.Context, method string) error {
	md, _ := metadata.FromIncomingContext(ctx)
	keys := md.Get(clientKeyHeader)
	got := ""
	if len(keys) == 1 {
		got = keys[0]
	}
	f.mu.Lock()
	f.seen = append(f.seen, method+" "+got)
	f.mu.Unlock()
	if got != f.key {
		return status.Error(codes.Unauthenticated, "unknown client key")
	}
	return nil
}

func (f *fakeDaemon) DaemonVersion(ctx context.Context, _ *daemonpb.DaemonVersionRequest) (*daemonpb.DaemonVersionResponse, error) {
	if err := f.check(ctx, "DaemonVersion"); err != nil {
		return nil, err
	}
	return &daemonpb.DaemonVersionResponse{Version: f.version}, nil
}

func (f *fakeDaemon) MessageReceived(_ *daemonpb.SubscribeToMessageReceivedNotification,
	s grpc.ServerStreamingServer[daemonpb.MessageReceivedNotification]) error {
	if err := f.check(s.Context(), "MessageReceived"); err != nil {
		return err
	}
	return s.Send(&daemonpb.MessageReceivedNotification{Message: &daemonpb.Message{Body: "hello"}})
}

func startFake(t *testing.T, f *fakeDaemon) daemonConfig {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	daemonpb.RegisterToolCommandServiceServer(srv, f)
	daemonpb.RegisterMessageNotificationServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return daemonConfig{address: lis.Addr().String(), tls: false}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientKeyOnCallsAndStreams(t *testing.T) {
	f := &fakeDaemon{version: "1.4.2", key: "k-identity"}
	cfg := startFake(t, f)
	ctx := testCtx(t)
	d, err := dialDaemon(ctx, cfg, "k-identity")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer d.Close()
	if d.Version != "1.4.2" {
		t.Fatalf("Version = %q", d.Version)
	}
	st, err := d.MessageNotif.MessageReceived(ctx, &daemonpb.SubscribeToMessageReceivedNotification{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Recv()
	if err != nil || n.GetMessage().GetBody() != "hello" {
		t.Fatalf("stream: %v %v", n, err)
	}
	f.mu.Lock()
	seen := append([]string(nil), f.seen...)
	f.mu.Unlock()
	want := []string{"DaemonVersion k-identity", "MessageReceived k-identity"}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("the daemon saw %q, want %q", seen, want)
	}
}

func TestWrongKeyIsBadCredentials(t *testing.T) {
	cfg := startFake(t, &fakeDaemon{version: "1.4.2", key: "right"})
	_, err := dialDaemon(testCtx(t), cfg, "wrong")
	if statusToState(err) != pasdk.StateBadCredentials || statusToResult(err).Code != pasdk.ResultForbidden {
		t.Fatalf("wrong key: %v (state %v)", err, statusToState(err))
	}
}

func TestStandinGate(t *testing.T) {
	cfg := startFake(t, &fakeDaemon{version: "passerelle-stand-in 1", key: "k"})
	d, err := dialDaemon(testCtx(t), cfg, "k")
	if standinAllowed {
		if err != nil {
			t.Fatalf("the test build refused the stand-in: %v", err)
		}
		d.Close()
		return
	}
	if !errors.Is(err, errStandin) {
		t.Fatalf("the stand-in was not refused: %v", err)
	}
	if err.Error() != "This Olvid daemon is Passerelle's test stand-in, not Olvid's daemon; a deployed bridge does not talk to it." {
		t.Fatalf("sentence: %q", err)
	}
	if statusToResult(err).Code != pasdk.ResultPermanent || statusToState(err) != pasdk.StateUnknownError {
		t.Fatalf("the gate's error is retried: %v %v", statusToResult(err), statusToState(err))
	}
}

func TestUnreachableIsTransient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = dialDaemon(ctx, daemonConfig{address: addr}, "k")
	if statusToState(err) != pasdk.StateTransientDisconnect {
		t.Fatalf("unreachable daemon: %v (state %v)", err, statusToState(err))
	}
}

func TestBadCAFile(t *testing.T) {
	_, err := dialDaemon(testCtx(t), daemonConfig{address: "127.0.0.1:1", tls: true,
		tlsCA: "/nonexistent/ca.pem"}, "k")
	if err == nil || statusToResult(err).Code != pasdk.ResultPermanent {
		t.Fatalf("a missing CA file: %v", err)
	}
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		err   error
		code  pasdk.ResultCode
		state pasdk.LoginState
	}{
		{nil, pasdk.ResultOK, pasdk.StateConnected},
		{status.Error(codes.Unauthenticated, "x"), pasdk.ResultForbidden, pasdk.StateBadCredentials},
		{status.Error(codes.PermissionDenied, "x"), pasdk.ResultForbidden, pasdk.StateBadCredentials},
		{status.Error(codes.Unavailable, "x"), pasdk.ResultTemporary, pasdk.StateTransientDisconnect},
		{status.Error(codes.DeadlineExceeded, "x"), pasdk.ResultTemporary, pasdk.StateTransientDisconnect},
		{status.Error(codes.Canceled, "x"), pasdk.ResultTemporary, pasdk.StateTransientDisconnect},
		{status.Error(codes.ResourceExhausted, "x"), pasdk.ResultRateLimited, pasdk.StateTransientDisconnect},
		{status.Error(codes.NotFound, "x"), pasdk.ResultNotFound, pasdk.StateUnknownError},
		{status.Error(codes.InvalidArgument, "x"), pasdk.ResultPermanent, pasdk.StateUnknownError},
		{status.Error(codes.FailedPrecondition, "x"), pasdk.ResultPermanent, pasdk.StateUnknownError},
		{status.Error(codes.AlreadyExists, "x"), pasdk.ResultPermanent, pasdk.StateUnknownError},
		{status.Error(codes.Unimplemented, "x"), pasdk.ResultUnsupported, pasdk.StateUnknownError},
		{status.Error(codes.Internal, "x"), pasdk.ResultUncertain, pasdk.StateTransientDisconnect},
		{context.Canceled, pasdk.ResultTemporary, pasdk.StateTransientDisconnect},
		{context.DeadlineExceeded, pasdk.ResultTemporary, pasdk.StateTransientDisconnect},
		{errors.New("config"), pasdk.ResultPermanent, pasdk.StateUnknownError},
	} {
		r := statusToResult(tc.err)
		if r.Code != tc.code || statusToState(tc.err) != tc.state {
			t.Errorf("%v: result %v state %v, want %v %v", tc.err, r.Code, statusToState(tc.err), tc.code, tc.state)
		}
		if (tc.err == nil) != (r.Error == "") {
			t.Errorf("%v: error text %q", tc.err, r.Error)
		}
	}
	if got := statusToResult(status.Error(codes.Unauthenticated, "bad key")).Error; got != "The Olvid daemon refused this client key: bad key" {
		t.Errorf("text: %q", got)
	}
}

// configHost is a pasdk.Host that answers the configuration only (any
// other call panics on the nil embedded Host).
type configHost struct {
	pasdk.Host
	strs map[string]string
}

func (h configHost) ConfigString(k string) (string, bool) { v, ok := h.strs[k]; return v, ok }
func (h configHost) ConfigInt(string) int64               { return 0 }
func (h configHost) ConfigBool(string) bool               { return false }

func TestLoginLifecycle(t *testing.T) {
	if _, err := newLogin(configHost{strs: map[string]string{}}, false); err == nil {
		t.Fatal("a login without daemon_address was created")
	}
	pl, err := newLogin(configHost{strs: map[string]string{cfgDaemonAddress: "127.0.0.1:1"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	l := pl.(*Login)
	if l.cfg.identityDisplay != "{name} (Tchap)" || l.cfg.daemon.address != "127.0.0.1:1" {
		t.Fatalf("config: %+v", l.cfg)
	}
	var order []int
	var mu sync.Mutex
	note := func(i int) func() {
		return func() { mu.Lock(); order = append(order, i); mu.Unlock() }
	}
	l.onFree(note(1))
	l.onFree(note(2))
	stopped := make(chan struct{})
	l.spawn(func() { <-l.ctx.Done(); time.Sleep(10 * time.Millisecond); close(stopped) })
	l.Free()
	select {
	case <-stopped:
	default:
		t.Fatal("Free returned before its goroutine ended")
	}
	ran := false
	l.spawn(func() { ran = true })
	l.onFree(note(3))
	if ran || len(order) != 3 || order[0] != 2 || order[1] != 1 || order[2] != 3 {
		t.Fatalf("after Free: spawn ran %v, onFree order %v", ran, order)
	}
}
