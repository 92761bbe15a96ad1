// SPDX-License-Identifier: AGPL-3.0-or-later

// The plugin's own small table of the messages it bridged: who sent each
// one (replies, edits and revokes must name the original sender), and for
// some the raw protobuf kept for later (a poll's options to read votes, a
// media message whose file must be downloaded again after a retry).
package main

import (
	"database/sql"
	"errors"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/types"
)

type msgStore struct {
	db *sql.DB
	mu sync.Mutex
	// canon keys a DM by its user's canonical JID (LID first), so a chat
	// seen under its phone number and under its LID is one chat.
	canon func(types.JID) types.JID
}

func (s *msgStore) key(chat types.JID) string {
	if s.canon != nil && (chat.Server == types.DefaultUserServer || chat.Server == types.HiddenUserServer) {
		chat = s.canon(chat)
	}
	return chat.String()
}

type msgRow struct {
	Sender types.JID
	FromMe bool
	TS     time.Time
	Kind   string // "", "poll", "media"
	Raw    []byte // the protobuf kept for Kind
}

func openMsgStore(path string) (*msgStore, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	_, err = db.Exec(`CREATE TABLE IF NOT EXISTS messages (
		chat TEXT NOT NULL, id TEXT NOT NULL, sender TEXT NOT NULL, from_me INTEGER NOT NULL,
		ts INTEGER NOT NULL, kind TEXT NOT NULL DEFAULT '', raw BLOB,
		PRIMARY KEY (chat, id))`)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &msgStore{db: db}, nil
}

func (s *msgStore) Close() { s.db.Close() }

// put records a message; a later put of the same id keeps the raw protobuf
// unless it brings one.
func (s *msgStore) put(chat types.JID, id string, r msgRow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.db.Exec(`INSERT INTO messages (chat, id, sender, from_me, ts, kind, raw) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (chat, id) DO UPDATE SET sender = excluded.sender, from_me = excluded.from_me,
		kind = CASE WHEN excluded.kind = '' THEN messages.kind ELSE excluded.kind END,
		raw = COALESCE(excluded.raw, messages.raw)`,
		s.key(chat), id, r.Sender.String(), r.FromMe, r.TS.UnixMilli(), r.Kind, r.Raw)
}

func (s *msgStore) get(chat types.JID, id string) (msgRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r msgRow
	var sender string
	var ts int64
	err := s.db.QueryRow(`SELECT sender, from_me, ts, kind, raw FROM messages WHERE chat = ? AND id = ?`,
		s.key(chat), id).Scan(&sender, &r.FromMe, &ts, &r.Kind, &r.Raw)
	if errors.Is(err, sql.ErrNoRows) || err != nil {
		return r, false
	}
	r.Sender, _ = types.ParseJID(sender)
	r.TS = time.UnixMilli(ts)
	return r, true
}

// oldest is the oldest known message of a chat (history requests start there).
func (s *msgStore) oldest(chat types.JID) (string, msgRow, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r msgRow
	var id, sender string
	var ts int64
	err := s.db.QueryRow(`SELECT id, sender, from_me, ts FROM messages WHERE chat = ? ORDER BY ts ASC LIMIT 1`,
		s.key(chat)).Scan(&id, &sender, &r.FromMe, &ts)
	if err != nil {
		return "", r, false
	}
	r.Sender, _ = types.ParseJID(sender)
	r.TS = time.UnixMilli(ts)
	return id, r, true
}
