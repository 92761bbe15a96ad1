// SPDX-License-Identifier: AGPL-3.0-or-later

// The gRPC connection to Olvid's bot daemon: dialled over TLS (or plain, by
// configuration), every call and stream carrying the client key in the
// `daemon-client-key` metadata; one typed client per daemon service; the
// mapping of gRPC status codes to the host's op results and login states;
// and the stand-in gate (a daemon that says it is Passerelle's test
// stand-in is refused, except by the test build).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// clientKeyHeader is the metadata the daemon authenticates every call by.
const clientKeyHeader = "daemon-client-key"

// standinVersionPrefix starts the DaemonVersion of Passerelle's stand-in.
const standinVersionPrefix = "passerelle-stand-in"

// errStandin is what the installed plugin says of the stand-in daemon.
var errStandin = errors.New("This Olvid daemon is Passerelle's test stand-in, not Olvid's daemon; " +
	"a deployed bridge does not talk to it.")

// maxRecvBytes bounds one message from the daemon (a photo comes whole in
// one answer; attachments come in chunks).
const maxRecvBytes = 32 << 20

// dialTimeout bounds the first exchange with the daemon (DaemonVersion).
const dialTimeout = 20 * time.Second

// keepaliveParams: a ping after 5 minutes without any frame, and the
// connection given up 20 s after an unanswered ping, only while a call or
// stream is open (the notification streams always are).  It finds a daemon
// whose host vanished without closing the connection.  5 minutes is what a
// gRPC server accepts by default (grpc-java's and grpc-go's
// permitKeepAliveTime): pinging more often gets the connection closed with
// "too many pings".  A daemon that stops or restarts closes the
// connection itself, which ends the streams at once.
var keepaliveParams = keepalive.ClientParameters{Time: 5 * time.Minute, Timeout: 20 * time.Second}

// daemonConfig is where and how to reach the daemon.
type daemonConfig struct {
	address string // host:port
	tls     bool
	tlsCA   string // PEM file; "" for the system's authorities
}

// clientKey adds the key to every call and stream (PerRPCCredentials).
type clientKey struct {
	key string
	tls bool
}

func (k clientKey) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	return map[string]string{clientKeyHeader: k.key}, nil
}

// RequireTransportSecurity: a plain connection is the admin's choice (tls:
// false), so the key goes on it too.
func (k clientKey) RequireTransportSecurity() bool { return k.tls }

// Daemon is one connection to the daemon with one client key, and its
// typed clients.  Safe for concurrent use; Close once.
type Daemon struct {
	conn    *grpc.ClientConn
	Version string // the daemon's DaemonVersion, read at dial

	// commands (services/v1 command_service)
	Tool       daemonpb.ToolCommandServiceClient
	Identity   daemonpb.IdentityCommandServiceClient
	Invitation daemonpb.InvitationCommandServiceClient
	Contact    daemonpb.ContactCommandServiceClient
	Keycloak   daemonpb.KeycloakCommandServiceClient
	Group      daemonpb.GroupCommandServiceClient
	Discussion daemonpb.DiscussionCommandServiceClient
	Message    daemonpb.MessageCommandServiceClient
	Attachment daemonpb.AttachmentCommandServiceClient
	Settings   daemonpb.SettingsCommandServiceClient

	// admin (services/v1 admin_service): only with the admin client key
	ClientKeyAdmin daemonpb.ClientKeyAdminServiceClient
	IdentityAdmin  daemonpb.IdentityAdminServiceClient
	BackupAdmin    daemonpb.BackupAdminServiceClient

	// notifications (services/v1 notification_service): one server stream
	// per notification type, nothing replayed after a reconnect
	InvitationNotif daemonpb.InvitationNotificationServiceClient
	ContactNotif    daemonpb.ContactNotificationServiceClient
	GroupNotif      daemonpb.GroupNotificationServiceClient
	DiscussionNotif daemonpb.DiscussionNotificationServiceClient
	MessageNotif    daemonpb.MessageNotificationServiceClient
	AttachmentNotif daemonpb.AttachmentNotificationServiceClient
}

// transportCredentials builds the connection's security from the config.
func transportCredentials(c daemonConfig) (credentials.TransportCredentials, error) {
	if !c.tls {
		return insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("cannot read plugins.olvid.%s: %w", cfgTLSCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("plugins.olvid.%s (%s) holds no PEM certificate", cfgTLSCA, c.tlsCA)
		}
		tc.RootCAs = pool
	}
	return credentials.NewTLS(tc), nil
}

// dialDaemon connects with clientKey and checks the daemon (checkDaemon):
// an error is the daemon's status (statusToResult/statusToState classify
// it), a configuration error, or errStandin.
func dialDaemon(ctx context.Context, c daemonConfig, key string) (*Daemon, error) {
	creds, err := transportCredentials(c)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(c.address,
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(clientKey{key: key, tls: c.tls}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes)),
		grpc.WithKeepaliveParams(keepaliveParams))
	if err != nil {
		return nil, fmt.Errorf("the Olvid daemon's address %q: %w", c.address, err)
	}
	d := newDaemon(conn)
	if err := d.checkDaemon(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return d, nil
}

func newDaemon(conn *grpc.ClientConn) *Daemon {
	return &Daemon{
		conn:            conn,
		Tool:            daemonpb.NewToolCommandServiceClient(conn),
		Identity:        daemonpb.NewIdentityCommandServiceClient(conn),
		Invitation:      daemonpb.NewInvitationCommandServiceClient(conn),
		Contact:         daemonpb.NewContactCommandServiceClient(conn),
		Keycloak:        daemonpb.NewKeycloakCommandServiceClient(conn),
		Group:           daemonpb.NewGroupCommandServiceClient(conn),
		Discussion:      daemonpb.NewDiscussionCommandServiceClient(conn),
		Message:         daemonpb.NewMessageCommandServiceClient(conn),
		Attachment:      daemonpb.NewAttachmentCommandServiceClient(conn),
		Settings:        daemonpb.NewSettingsCommandServiceClient(conn),
		ClientKeyAdmin:  daemonpb.NewClientKeyAdminServiceClient(conn),
		IdentityAdmin:   daemonpb.NewIdentityAdminServiceClient(conn),
		BackupAdmin:     daemonpb.NewBackupAdminServiceClient(conn),
		InvitationNotif: daemonpb.NewInvitationNotificationServiceClient(conn),
		ContactNotif:    daemonpb.NewContactNotificationServiceClient(conn),
		GroupNotif:      daemonpb.NewGroupNotificationServiceClient(conn),
		DiscussionNotif: daemonpb.NewDiscussionNotificationServiceClient(conn),
		MessageNotif:    daemonpb.NewMessageNotificationServiceClient(conn),
		AttachmentNotif: daemonpb.NewAttachmentNotificationServiceClient(conn),
	}
}

// checkDaemon asks the daemon's version (which also checks the key) and
// applies the stand-in gate.
func (d *Daemon) checkDaemon(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	r, err := d.Tool.DaemonVersion(ctx, &daemonpb.DaemonVersionRequest{})
	if err != nil {
		return err
	}
	if err := checkDaemonVersion(r.GetVersion()); err != nil {
		return err
	}
	d.Version = r.GetVersion()
	return nil
}

// checkDaemonVersion is the stand-in gate.
func checkDaemonVersion(v string) error {
	if strings.HasPrefix(v, standinVersionPrefix) && !standinAllowed {
		return errStandin
	}
	return nil
}

// Close ends the connection; calls and streams in progress fail (Canceled).
func (d *Daemon) Close() error { return d.conn.Close() }

// statusToResult is the host's op result for an error of a daemon call
// (nil: ResultOK).  Error carries the daemon's message for the agent.
func statusToResult(err error) pasdk.OpResult {
	if err == nil {
		return pasdk.OpResult{Code: pasdk.ResultOK}
	}
	r := pasdk.OpResult{Error: errorText(err)}
	switch codeOf(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		r.Code = pasdk.ResultForbidden
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
		r.Code = pasdk.ResultTemporary
	case codes.ResourceExhausted:
		r.Code = pasdk.ResultRateLimited
	case codes.NotFound:
		r.Code = pasdk.ResultNotFound
	case codes.Unimplemented:
		r.Code = pasdk.ResultUnsupported
	case codes.Unknown, codes.Internal, codes.DataLoss:
		r.Code = pasdk.ResultUncertain
	default: // InvalidArgument, FailedPrecondition, OutOfRange, AlreadyExists, not a status
		r.Code = pasdk.ResultPermanent
	}
	return r
}

// statusToState is the login state an error of the connection or of a
// stream leaves the login in.
func statusToState(err error) pasdk.LoginState {
	switch codeOf(err) {
	case codes.OK:
		return pasdk.StateConnected
	case codes.Unauthenticated, codes.PermissionDenied:
		return pasdk.StateBadCredentials
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted,
		codes.ResourceExhausted, codes.Internal, codes.Unknown:
		return pasdk.StateTransientDisconnect
	default:
		return pasdk.StateUnknownError
	}
}

// codeOf is err's gRPC code: OK for nil, the status of a daemon error,
// Canceled/DeadlineExceeded for our own context's end, FailedPrecondition
// otherwise (a configuration error, the stand-in gate: nothing to retry).
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return codes.FailedPrecondition
}

// errorText is err said to the agent: the daemon's own message for a
// status, err's text otherwise.
func errorText(err error) string {
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Unauthenticated, codes.PermissionDenied:
			return "The Olvid daemon refused this client key: " + s.Message()
		case codes.Unavailable:
			return "The Olvid daemon cannot be reached: " + s.Message()
		}
		return "The Olvid daemon: " + s.Message()
	}
	return err.Error()
}
