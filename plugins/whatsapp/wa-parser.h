/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Streaming parser for WhatsApp "Export chat" .txt files (Android and iOS,
 * any locale we know of; UTF-8 with or without BOM, UTF-16 LE/BE).  Bytes are fed in chunks of any size; each complete
 * message is handed to a callback.  Memory stays bounded whatever the input
 * size: one reusable line buffer, one message buffer, and while the day/month
 * order of the file is still unknown, a bounded queue of undecided messages. */
#ifndef WA_PARSER_H
#define WA_PARSER_H

#include <glib.h>

G_BEGIN_DECLS

#define WA_PARSER_ERROR (wa_parser_error_quark ())
GQuark wa_parser_error_quark (void);

typedef enum {
  WA_PARSER_ERROR_FAILED,   /* misuse at run time, e.g. feed after finish */
  WA_PARSER_ERROR_TIMEZONE, /* unknown IANA time zone */
  WA_PARSER_ERROR_ABORTED,  /* the callback returned FALSE without an error */
} WaParserError;

/* Hard limits: input beyond them is truncated and counted, never fatal. */
#define WA_PARSER_MAX_MESSAGE_BYTES (256 * 1024) /* text of one message */
#define WA_PARSER_MAX_PENDING 10000              /* messages held while order unknown */
#define WA_PARSER_MAX_PENDING_BYTES (8 * 1024 * 1024)
#define WA_PARSER_MAX_SENDERS 10000              /* distinct senders tracked in summary */
#define WA_PARSER_MAX_UNPARSED_LINE_NOS 100

typedef enum {
  WA_KIND_TEXT,          /* ordinary message */
  WA_KIND_SYSTEM,        /* no sender: "X added Y", encryption notice, iOS U+200E lines */
  WA_KIND_MEDIA_OMITTED, /* "<Media omitted>", iOS "image omitted"; text = the placeholder */
  WA_KIND_ATTACHMENT,    /* "X (file attached)", iOS "<attached: X>"; text = caption */
  WA_KIND_DELETED,       /* "This message was deleted"...; text = the marker */
  WA_KIND_CALL,          /* "Missed voice call"...; has a sender; text = the marker */
} WaKind;

typedef enum {
  WA_DATE_ORDER_DAY_FIRST,   /* 31/12/23 */
  WA_DATE_ORDER_MONTH_FIRST, /* 12/31/23 */
  WA_DATE_ORDER_YEAR_FIRST,  /* 2023-12-31, 23. 12. 31. */
  WA_DATE_ORDER_YEAR_DAY_MONTH, /* 2023-31-12 */
} WaDateOrder;

typedef enum {
  WA_ORDER_SOURCE_EVIDENCE,    /* one order only gives valid dates (a day > 12...) */
  WA_ORDER_SOURCE_LOCALE,      /* no evidence; guessed from localized markers seen */
  WA_ORDER_SOURCE_DEFAULT,     /* no evidence, no hint: day first (year: latest) assumed */
  WA_ORDER_SOURCE_CHRONOLOGY,  /* several orders valid; the one that keeps the lines in
                                * order (then closest together) was taken */
} WaOrderSource;

/* One message.  Every pointer is owned by the parser and valid only during
 * the callback.  Strings are valid UTF-8 with U+200E/200F/202A-202E/2066-2069/
 * FEFF removed and U+00A0/U+202F turned into spaces. */
typedef struct {
  WaKind kind;
  gint64 ts_ms;           /* UTC ms since the epoch, local time read in the parser's zone */
  const char *sender;     /* raw display name (may be a phone number); NULL for SYSTEM */
  const char *text;       /* continuation lines joined with '\n', edited marker removed */
  const char *attachment; /* file name for ATTACHMENT, else NULL */
  gboolean edited;        /* a localized "<This message was edited>" was present */
  gboolean truncated;     /* text exceeded WA_PARSER_MAX_MESSAGE_BYTES and was cut */
  guint line_no;          /* 1-based line number of the header line */
} WaMessage;

/* Return FALSE to stop parsing: wa_parser_feed()/finish() then fail with the
 * error set here (or WA_PARSER_ERROR_ABORTED if none). */
typedef gboolean (*WaCallback) (const WaMessage *msg, gpointer user_data, GError **error);

typedef struct {
  char *name;
  guint64 count;
} WaSenderCount;

typedef struct {
  guint64 n_messages;       /* all kinds */
  guint64 n_text;
  guint64 n_system;
  guint64 n_media_omitted;
  guint64 n_attachments;
  guint64 n_deleted;
  guint64 n_calls;
  guint64 n_edited;
  guint64 n_truncated;      /* messages or lines cut at the size limits */
  gint64 first_ts_ms;       /* 0 when there were no messages */
  gint64 last_ts_ms;
  GPtrArray *senders;       /* of WaSenderCount*, first-seen order, at most MAX_SENDERS */
  guint64 n_untracked_sender_messages; /* messages from senders beyond MAX_SENDERS */
  guint64 n_lines;
  guint64 n_unparsed_lines; /* non-empty lines before the first header */
  GArray *unparsed_line_nos;/* of guint, the first WA_PARSER_MAX_UNPARSED_LINE_NOS */
  WaDateOrder date_order;
  WaOrderSource order_source;
  guint64 n_invalid_utf8;   /* invalid sequences replaced by U+FFFD */
  guint64 n_bytes;
} WaSummary;

typedef struct _WaParser WaParser;

/* A parser reading local times in `tz_name` (IANA name; NULL means
 * "Europe/Paris").  Returns NULL and sets `error` if the zone is unknown.
 * Non-existent local times (spring-forward gap) are read with the offset in
 * force before the gap; ambiguous ones (fall-back) as the first occurrence. */
WaParser *wa_parser_new (const char *tz_name, WaCallback cb, gpointer user_data,
                         GError **error);

/* Parse `len` more bytes; chunk boundaries may fall anywhere, even inside a
 * UTF-8 sequence.  Fails only if the callback fails or after finish. */
gboolean wa_parser_feed (WaParser *self, const char *buf, gsize len, GError **error);

/* End of input: flushes the last (possibly newline-less) line and the queued
 * messages, then fills `out` (may be NULL; release with wa_summary_clear()). */
gboolean wa_parser_finish (WaParser *self, WaSummary *out, GError **error);

void wa_parser_free (WaParser *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (WaParser, wa_parser_free)

/* Frees what a summary owns and zeroes it. */
void wa_summary_clear (WaSummary *summary);

/* A stable id for a sender that is a phone number written in international
 * form ("+33 6 12 34 56 78", "+1 (555) 010-9999", "0033 6..."): its digits only
 * ("33612345678", transfer full).  NULL if `sender` is not such a number
 * (names, local numbers without country code, fewer than 7 or more than 15
 * digits). */
char *wa_normalize_phone (const char *sender);

/* Short stable names for logs and reports. */
const char *wa_kind_to_string (WaKind kind);
const char *wa_date_order_to_string (WaDateOrder order);
/* How the order was decided, as a phrase for the import summary. */
const char *wa_order_source_to_string (WaOrderSource source);

G_END_DECLS

#endif
