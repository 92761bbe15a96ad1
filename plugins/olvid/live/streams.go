// SPDX-License-Identifier: AGPL-3.0-or-later

// The daemon's notification streams: one server stream per notification
// type the plugin follows, each with its receive loop.  openStreams counts
// a stream open only once the daemon sent its headers (the subscription is
// live server-side), so the catch-up that follows closes every gap.  When
// one stream ends, the others are closed and the session is told once.
package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	"passerelle/plugins/olvid/live/daemonpb"
	"passerelle/sdk/go/pasdk"
)

// recvLoop reads one stream until it ends; its error says why.
type recvLoop func() error

// subscribe waits for a stream's headers and returns its receive loop,
// which hands every notification to handle.
func subscribe[N any](st grpc.ServerStreamingClient[N], err error, handle func(*N)) (recvLoop, error) {
	if err != nil {
		return nil, err
	}
	if _, err := st.Header(); err != nil {
		return nil, err
	}
	return func() error {
		for {
			n, err := st.Recv()
			if err != nil {
				return err
			}
			handle(n)
		}
	}, nil
}

// openStreams opens every notification stream (contract).
func (l *Login) openStreams(ctx context.Context, lost func(error)) error {
	d, err := l.daemonOrErr()
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	loops, err := l.subscribeAll(sctx, d)
	if err != nil {
		cancel()
		return err
	}
	var once sync.Once
	for _, loop := range loops {
		loop := loop
		l.spawn(func() {
			err := loop()
			if ctx.Err() != nil {
				return
			}
			once.Do(func() {
				cancel()
				lost(err)
			})
		})
	}
	l.onFree(cancel)
	return nil
}

// subscribeAll opens the streams one after the other; the first error
// stops (the caller cancels the ones opened).
func (l *Login) subscribeAll(ctx context.Context, d *Daemon) ([]recvLoop, error) {
	var loops []recvLoop
	add := func(loop recvLoop, err error) error {
		if err != nil {
			return err
		}
		loops = append(loops, loop)
		return nil
	}
	msg := func(m *daemonpb.Message) { l.handleMessage(ctx, m) }
	mn, gn, cn, dn, in := d.MessageNotif, d.GroupNotif, d.ContactNotif, d.DiscussionNotif, d.InvitationNotif
	opens := []func() error{
		func() error {
			st, err := mn.MessageReceived(ctx, &daemonpb.SubscribeToMessageReceivedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageReceivedNotification) { msg(n.GetMessage()) }))
		},
		func() error {
			st, err := mn.MessageSent(ctx, &daemonpb.SubscribeToMessageSentNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageSentNotification) { l.onSent(ctx, n.GetMessage()) }))
		},
		func() error {
			st, err := mn.MessageDeleted(ctx, &daemonpb.SubscribeToMessageDeletedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageDeletedNotification) { l.onDeleted(ctx, n.GetMessage()) }))
		},
		func() error {
			st, err := mn.MessageBodyUpdated(ctx, &daemonpb.SubscribeToMessageBodyUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageBodyUpdatedNotification) { l.onBodyUpdated(ctx, n.GetMessage()) }))
		},
		func() error {
			st, err := mn.MessageDelivered(ctx, &daemonpb.SubscribeToMessageDeliveredNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageDeliveredNotification) {
				l.onReceipt(ctx, n.GetMessage(), pasdk.EvDeliveryReceipt)
			}))
		},
		func() error {
			st, err := mn.MessageRead(ctx, &daemonpb.SubscribeToMessageReadNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageReadNotification) {
				l.onReceipt(ctx, n.GetMessage(), pasdk.EvReadReceipt)
			}))
		},
		func() error {
			st, err := mn.MessageLocationReceived(ctx, &daemonpb.SubscribeToMessageLocationReceivedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageLocationReceivedNotification) { msg(n.GetMessage()) }))
		},
		func() error {
			st, err := mn.MessageLocationSharingStart(ctx, &daemonpb.SubscribeToMessageLocationSharingStartNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageLocationSharingStartNotification) { l.onSent(ctx, n.GetMessage()) }))
		},
		func() error {
			st, err := mn.MessageLocationSharingUpdate(ctx, &daemonpb.SubscribeToMessageLocationSharingUpdateNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageLocationSharingUpdateNotification) {
				l.onLocationUpdate(ctx, n.GetMessage(), false)
			}))
		},
		func() error {
			st, err := mn.MessageLocationSharingEnd(ctx, &daemonpb.SubscribeToMessageLocationSharingEndNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageLocationSharingEndNotification) {
				l.onLocationUpdate(ctx, n.GetMessage(), true)
			}))
		},
		func() error {
			st, err := mn.MessageReactionAdded(ctx, &daemonpb.SubscribeToMessageReactionAddedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageReactionAddedNotification) {
				l.onReaction(ctx, n.GetMessage(), n.GetReaction(), false)
			}))
		},
		func() error {
			st, err := mn.MessageReactionUpdated(ctx, &daemonpb.SubscribeToMessageReactionUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageReactionUpdatedNotification) {
				l.onReaction(ctx, n.GetMessage(), n.GetReaction(), false)
			}))
		},
		func() error {
			st, err := mn.MessageReactionRemoved(ctx, &daemonpb.SubscribeToMessageReactionRemovedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.MessageReactionRemovedNotification) {
				l.onReaction(ctx, n.GetMessage(), n.GetReaction(), true)
			}))
		},
		func() error {
			st, err := cn.ContactNew(ctx, &daemonpb.SubscribeToContactNewNotification{})
			return add(subscribe(st, err, func(n *daemonpb.ContactNewNotification) { l.onContact(ctx, d, n.GetContact()) }))
		},
		func() error {
			st, err := cn.ContactDetailsUpdated(ctx, &daemonpb.SubscribeToContactDetailsUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.ContactDetailsUpdatedNotification) { l.onContact(ctx, d, n.GetContact()) }))
		},
		func() error {
			st, err := cn.ContactPhotoUpdated(ctx, &daemonpb.SubscribeToContactPhotoUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.ContactPhotoUpdatedNotification) { l.onContact(ctx, d, n.GetContact()) }))
		},
		func() error {
			st, err := gn.GroupNew(ctx, &daemonpb.SubscribeToGroupNewNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupNewNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupNameUpdated(ctx, &daemonpb.SubscribeToGroupNameUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupNameUpdatedNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupPhotoUpdated(ctx, &daemonpb.SubscribeToGroupPhotoUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupPhotoUpdatedNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupDescriptionUpdated(ctx, &daemonpb.SubscribeToGroupDescriptionUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupDescriptionUpdatedNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupMemberJoined(ctx, &daemonpb.SubscribeToGroupMemberJoinedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupMemberJoinedNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupMemberLeft(ctx, &daemonpb.SubscribeToGroupMemberLeftNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupMemberLeftNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupOwnPermissionsUpdated(ctx, &daemonpb.SubscribeToGroupOwnPermissionsUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupOwnPermissionsUpdatedNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := gn.GroupMemberPermissionsUpdated(ctx, &daemonpb.SubscribeToGroupMemberPermissionsUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.GroupMemberPermissionsUpdatedNotification) { l.emitGroup(ctx, d, n.GetGroup()) }))
		},
		func() error {
			st, err := dn.DiscussionNew(ctx, &daemonpb.SubscribeToDiscussionNewNotification{})
			return add(subscribe(st, err, func(n *daemonpb.DiscussionNewNotification) {
				if _, err := l.chatOfDiscussionWith(ctx, d, n.GetDiscussion()); err != nil {
					l.logf(pasdk.LogWarning, "new discussion %d: %v", n.GetDiscussion().GetId(), err)
				}
			}))
		},
		func() error {
			st, err := dn.DiscussionSettingsUpdated(ctx, &daemonpb.SubscribeToDiscussionSettingsUpdatedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.DiscussionSettingsUpdatedNotification) {
				l.onSettings(ctx, d, n.GetDiscussion(), n.GetNewSettings())
			}))
		},
		func() error {
			st, err := in.InvitationReceived(ctx, &daemonpb.SubscribeToInvitationReceivedNotification{})
			return add(subscribe(st, err, func(n *daemonpb.InvitationReceivedNotification) { l.noticeInvitation(n.GetInvitation()) }))
		},
	}
	for _, open := range opens {
		if err := open(); err != nil {
			return nil, err
		}
	}
	return loops, nil
}

// onSent: a message of the agent's identity sent from elsewhere (ours
// were marked seen by rememberSent and are skipped).
func (l *Login) onSent(ctx context.Context, m *daemonpb.Message) { l.handleMessage(ctx, m) }

// onContact: a contact's name or photo changed, or a new contact.
func (l *Login) onContact(ctx context.Context, d *Daemon, c *daemonpb.Contact) {
	if c.GetHasOneToOneDiscussion() {
		if _, err := l.emitContactChat(ctx, c.GetId()); err == nil {
			return
		}
	}
	l.emitContactInfo(ctx, d, c)
}

// onSettings: a discussion's ephemeral settings changed: the chat's
// disappearing timer, and a notice in the room for what Matrix cannot say.
func (l *Login) onSettings(ctx context.Context, d *Daemon, disc *daemonpb.Discussion, s *daemonpb.DiscussionSettings) {
	chat, err := l.chatOfDiscussionWith(ctx, d, disc)
	if err != nil {
		return
	}
	switch id := disc.GetIdentifier().(type) {
	case *daemonpb.Discussion_ContactId:
		l.emitContactChat(ctx, id.ContactId)
	case *daemonpb.Discussion_GroupId:
		if r, err := d.Group.GroupGet(ctx, &daemonpb.GroupGetRequest{GroupId: id.GroupId}); err == nil {
			l.emitGroup(ctx, d, r.GetGroup())
		}
	}
	if text := settingsNotice(s); text != "" {
		now := time.Now().UnixMilli()
		l.host.Emit(&pasdk.Event{Type: pasdk.EvMessage, ChatID: chat, SenderID: l.selfUserID(), FromMe: true,
			TimestampMS: now, MessageID: fmt.Sprintf("settings-%d-%d", disc.GetId(), now),
			Content: &pasdk.Content{Kind: pasdk.MsgNotice, Text: text, Flags: pasdk.ContentSystem}})
	}
}
