// SPDX-License-Identifier: AGPL-3.0-or-later

// The flows that create a new identity in the ministry's daemon with the
// admin client key: `directory` (bound to the ministry's Olvid directory,
// IdentityKeycloakNew with the configured link: the directory gives the
// identity its name) and `invitation` (IdentityNew named after the agent,
// then its invitation link shown as a QR code and as text).
package main

import (
	"context"
	"strings"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// startDirectory creates the identity bound to the ministry's directory.
// The published API takes the directory's configuration link and nothing
// else: the directory decides the identity's name and details.
func (l *Login) startDirectory(f *loginFlow) {
	if l.cfg.keycloakLink == "" {
		l.endFlow(f)
		l.host.Notice("This ministry has no Olvid directory set for the bridge: the administrator must set plugins.olvid." +
			cfgKeycloakLink + " (the directory's configuration link) first. Meanwhile, `login olvid invitation` " +
			"creates an identity that cabinet members add with its invitation link.")
		return
	}
	l.host.Notice("Creating your Olvid identity in the ministry's directory…")
	l.spawn(func() {
		d, err := l.adminDial(f.ctx)
		if err != nil {
			l.fail(f, failureText("reach the Olvid server", err))
			return
		}
		defer d.Close()
		ctx, cancel := context.WithTimeout(f.ctx, callTimeout)
		defer cancel()
		r, err := d.IdentityAdmin.IdentityKeycloakNew(ctx,
			&daemonpb.IdentityKeycloakNewRequest{ConfigurationLink: l.cfg.keycloakLink})
		if err != nil {
			l.fail(f, failureText("create the identity in the ministry's directory", err))
			return
		}
		l.finishWithNewKey(f, d, r.GetIdentity())
	})
}

// askName asks the agent's name for the invitation flow's identity.
func (l *Login) askName(f *loginFlow, why string) {
	l.step(f, &pasdk.LoginStep{Kind: pasdk.StepUserInput, StepID: stepName,
		Instructions: strings.TrimSpace(why + " Your Olvid identity will be named \"" + l.cfg.identityDisplay +
			"\", where {name} is your name as cabinet members know it (for example Jean Dupont)."),
		Fields: []pasdk.Field{{ID: "name", Label: "name (first and last)", Type: pasdk.FieldText}}})
}

// identityDetails is the identity's name from the display format: the
// first word is the first name, the rest the last name.
func identityDetails(format, name string) *daemonpb.IdentityDetails {
	display := strings.Join(strings.Fields(strings.ReplaceAll(format, "{name}", name)), " ")
	first, last, _ := strings.Cut(display, " ")
	d := &daemonpb.IdentityDetails{FirstName: &first}
	if last != "" {
		d.LastName = &last
	}
	return d
}

// runInvitation creates the identity, finishes the flow, then shows its
// invitation link (the flow does not wait for anyone to scan it).
func (l *Login) runInvitation(f *loginFlow, name string) {
	if name == "" || len(name) > 100 {
		l.askName(f, "That is not a name.")
		return
	}
	d, err := l.adminDial(f.ctx)
	if err != nil {
		l.fail(f, failureText("reach the Olvid server", err))
		return
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(f.ctx, callTimeout)
	defer cancel()
	r, err := d.IdentityAdmin.IdentityNew(ctx, &daemonpb.IdentityNewRequest{
		IdentityDetails: identityDetails(l.cfg.identityDisplay, name)})
	if err != nil {
		l.fail(f, failureText("create the identity", err))
		return
	}
	identity := r.GetIdentity()
	link, err := d.IdentityAdmin.IdentityAdminGetInvitationLink(ctx,
		&daemonpb.IdentityAdminGetInvitationLinkRequest{IdentityId: identity.GetId()})
	if !l.finishWithNewKey(f, d, identity) {
		return
	}
	if err != nil {
		l.host.Notice("Your identity is ready, but its invitation link could not be read (" + errorText(err) +
			"). Cabinet members can still add you through the ministry's directory, or an administrator can give you the link.")
		return
	}
	l.showInvitation(link.GetInvitationLink())
}
