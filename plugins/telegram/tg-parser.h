/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Parser for Telegram Desktop "Export chat history" result.json files: a
 * single-chat export (the chat object with messages[]) or a full export
 * (chats.list[]).  The file is buffered up to a configurable cap and parsed
 * with jansson; messages are then handed to a callback one by one, chat by
 * chat, with text rendered as plain text and as Matrix-safe HTML. */
#ifndef TG_PARSER_H
#define TG_PARSER_H

#include <glib.h>

G_BEGIN_DECLS

#define TG_PARSER_ERROR (tg_parser_error_quark ())
GQuark tg_parser_error_quark (void);

typedef enum {
  TG_PARSER_ERROR_FAILED,    /* misuse at run time, e.g. feed after finish */
  TG_PARSER_ERROR_TOO_LARGE, /* input exceeds the configured cap */
  TG_PARSER_ERROR_UTF8,      /* invalid UTF-8 or NUL byte; message names the offset */
  TG_PARSER_ERROR_JSON,      /* malformed JSON; message names line, column, offset */
  TG_PARSER_ERROR_FORMAT,    /* valid JSON but no messages[] nor chats.list[] */
  TG_PARSER_ERROR_TIMEZONE,  /* unknown IANA time zone */
  TG_PARSER_ERROR_ABORTED,   /* the callback returned FALSE without an error */
} TgParserError;

#define TG_PARSER_DEFAULT_MAX_BYTES (G_GUINT64_CONSTANT (2) << 30) /* 2 GiB */
#define TG_PARSER_MAX_WARNINGS 100

typedef enum {
  TG_MESSAGE_REGULAR, /* "type": "message" */
  TG_MESSAGE_SERVICE, /* "type": "service": text is the rendered action */
} TgMessageType;

typedef enum {
  TG_MEDIA_NONE,
  TG_MEDIA_PHOTO,
  TG_MEDIA_FILE, /* a file without a known media_type */
  TG_MEDIA_STICKER,
  TG_MEDIA_VOICE_MESSAGE,
  TG_MEDIA_VIDEO_MESSAGE,
  TG_MEDIA_ANIMATION,
  TG_MEDIA_VIDEO_FILE,
  TG_MEDIA_AUDIO_FILE,
} TgMediaKind;

typedef struct {
  const char *name; /* NULL if absent */
  const char *type; /* "personal_chat", "private_group"...; NULL if absent */
  gint64 id;        /* 0 if absent */
  guint index;      /* position in chats.list (0 for a single-chat export) */
} TgChat;

/* One message.  Every pointer is owned by the parser and valid only during
 * the callback.  Optional strings are NULL when absent. */
typedef struct {
  const TgChat *chat;
  gint64 id;                /* 0 if absent */
  TgMessageType type;
  gint64 ts_ms;             /* UTC; date_unixtime, else `date` read in the parser's zone */
  const char *from;         /* display name of the sender (service: the actor) */
  const char *from_id;      /* "user123", "channel456" */
  const char *text;         /* plain text (caption for media), never NULL */
  const char *html;         /* the same as HTML, every input character escaped, never NULL */
  gboolean has_formatting;  /* html carries markup beyond escaping */
  gint64 reply_to_id;       /* reply_to_message_id, 0 if none */
  gboolean edited;
  gint64 edited_ts_ms;      /* 0 if unknown */
  const char *forwarded_from;
  TgMediaKind media;
  const char *media_path;   /* relative path in the export, NULL if not included */
  gboolean media_not_included; /* "(File not included. ...)" */
  const char *mime_type;
  gint width, height;       /* photo/video size, 0 if unknown */
  gint duration_s;          /* 0 if unknown */
  gboolean has_location;
  double latitude, longitude;
  const char *poll_question;
  const char *const *poll_answers; /* NULL-terminated, NULL if no poll */
  const char *contact_name;  /* "first last" */
  const char *contact_phone;
  const char *action;        /* service action name ("create_group"...), else NULL */
} TgMessage;

/* Return FALSE to stop: tg_parser_finish() then fails with the error set
 * here (or TG_PARSER_ERROR_ABORTED). */
typedef gboolean (*TgCallback) (const TgMessage *msg, gpointer user_data, GError **error);

typedef struct {
  guint n_chats;
  guint64 n_messages;   /* delivered to the callback */
  guint64 n_service;
  guint64 n_media;
  guint64 n_media_not_included;
  guint64 n_skipped;    /* entries with wrong types, not delivered */
  GPtrArray *warnings;  /* of char*, the first TG_PARSER_MAX_WARNINGS reasons */
  gint64 first_ts_ms;   /* 0 when there were no messages */
  gint64 last_ts_ms;
} TgSummary;

typedef struct _TgParser TgParser;

/* A parser reading `date` fields in `tz_name` (IANA; NULL: Europe/Paris). */
TgParser *tg_parser_new (const char *tz_name, TgCallback cb, gpointer user_data,
                         GError **error);

/* Input larger than `max_bytes` is refused (default 2 GiB). */
void tg_parser_set_max_bytes (TgParser *self, guint64 max_bytes);

/* Buffers more input, in chunks of any size. */
gboolean tg_parser_feed (TgParser *self, const char *buf, gsize len, GError **error);

/* Parses what was fed, runs the callback for each message and fills `out`
 * (may be NULL; release with tg_summary_clear()). */
gboolean tg_parser_finish (TgParser *self, TgSummary *out, GError **error);

/* Convenience: feed a whole file (size checked before reading) and finish. */
gboolean tg_parser_parse_file (TgParser *self, const char *path, TgSummary *out,
                               GError **error);

void tg_parser_free (TgParser *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TgParser, tg_parser_free)

void tg_summary_clear (TgSummary *summary);


G_END_DECLS

#endif
