/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pasdk-testhost.c — a host table for the binding's own Go tests
 * (pasdk_test.go, through testhost.go): it records what the plugin hands it
 * (a deep copy of each emitted PaEvent, op results, logs) and queues
 * invoke()d work until the test runs it, as a worker's main loop would.
 * Compiled into every Go plugin but never called there: nothing refers to
 * it outside the tests.
 */
#include "pasdk-testhost.h"

#include <stdio.h>
#include <string.h>

struct PaHost
{
  int unused;
};

static struct PaHost th_host;

#define TH_MAX 256

static PaEvent *th_events[TH_MAX];
static size_t th_n_events;
static char *th_logs[TH_MAX];
static size_t th_n_logs;
static uint64_t th_op_ids[TH_MAX];
static int th_op_codes[TH_MAX];
static size_t th_n_ops;
static PaInvokeFunc th_invoke_fns[TH_MAX];
static void *th_invoke_data[TH_MAX];
static size_t th_n_invokes;

static char *
th_strdup (const char *s)
{
  if (s == NULL)
    return NULL;
  size_t n = strlen (s) + 1;
  char *c = malloc (n);
  memcpy (c, s, n);
  return c;
}

static void *
th_dup (const void *p, size_t n)
{
  if (p == NULL)
    return NULL;
  void *c = malloc (n);
  memcpy (c, p, n);
  return c;
}

static void
th_member_copy (PaMember *m)
{
  m->id = th_strdup (m->id);
  m->name = th_strdup (m->name);
  m->avatar_path = th_strdup (m->avatar_path);
  m->identifier = th_strdup (m->identifier);
}

static void
th_member_clear (const PaMember *m)
{
  free ((char *) m->id);
  free ((char *) m->name);
  free ((char *) m->avatar_path);
  free ((char *) m->identifier);
}

static PaEvent *
th_event_copy (const PaEvent *e)
{
  PaEvent *c = th_dup (e, sizeof *e);
  c->chat_id = th_strdup (e->chat_id);
  c->sender_id = th_strdup (e->sender_id);
  c->message_id = th_strdup (e->message_id);
  c->target_id = th_strdup (e->target_id);
  c->txn_id = th_strdup (e->txn_id);
  c->reaction_key = th_strdup (e->reaction_key);
  c->status_text = th_strdup (e->status_text);
  if (e->content != NULL)
    {
      PaContent *ct = th_dup (e->content, sizeof *ct);
      ct->text = th_strdup (ct->text);
      ct->html = th_strdup (ct->html);
      ct->media_path = th_strdup (ct->media_path);
      ct->media_name = th_strdup (ct->media_name);
      ct->mimetype = th_strdup (ct->mimetype);
      ct->reply_to = th_strdup (ct->reply_to);
      ct->forwarded_from = th_strdup (ct->forwarded_from);
      c->content = ct;
    }
  if (e->reaction_keys != NULL)
    {
      char **keys = calloc (e->n_reaction_keys + 1, sizeof *keys);
      for (size_t i = 0; i < e->n_reaction_keys; i++)
        keys[i] = th_strdup (e->reaction_keys[i]);
      c->reaction_keys = (const char *const *) keys;
    }
  if (e->chat != NULL)
    {
      PaChatInfo *ch = th_dup (e->chat, sizeof *ch);
      ch->id = th_strdup (ch->id);
      ch->name = th_strdup (ch->name);
      ch->topic = th_strdup (ch->topic);
      ch->avatar_path = th_strdup (ch->avatar_path);
      if (ch->members != NULL)
        {
          PaMember *ms = th_dup (ch->members, (ch->n_members + 1) * sizeof *ms);
          for (size_t i = 0; i < ch->n_members; i++)
            th_member_copy (&ms[i]);
          ch->members = ms;
        }
      ch->features = th_dup (ch->features, sizeof *ch->features);
      c->chat = ch;
    }
  if (e->contact != NULL)
    {
      PaMember *m = th_dup (e->contact, sizeof *m);
      th_member_copy (m);
      c->contact = m;
    }
  return c;
}

static void
th_event_free (PaEvent *e)
{
  free ((char *) e->chat_id);
  free ((char *) e->sender_id);
  free ((char *) e->message_id);
  free ((char *) e->target_id);
  free ((char *) e->txn_id);
  free ((char *) e->reaction_key);
  free ((char *) e->status_text);
  if (e->content != NULL)
    {
      const PaContent *ct = e->content;
      free ((char *) ct->text);
      free ((char *) ct->html);
      free ((char *) ct->media_path);
      free ((char *) ct->media_name);
      free ((char *) ct->mimetype);
      free ((char *) ct->reply_to);
      free ((char *) ct->forwarded_from);
      free ((PaContent *) ct);
    }
  if (e->reaction_keys != NULL)
    {
      for (size_t i = 0; i < e->n_reaction_keys; i++)
        free ((char *) e->reaction_keys[i]);
      free ((char **) e->reaction_keys);
    }
  if (e->chat != NULL)
    {
      const PaChatInfo *ch = e->chat;
      free ((char *) ch->id);
      free ((char *) ch->name);
      free ((char *) ch->topic);
      free ((char *) ch->avatar_path);
      for (size_t i = 0; ch->members != NULL && i < ch->n_members; i++)
        th_member_clear (&ch->members[i]);
      free ((PaMember *) ch->members);
      free ((PaChatFeatures *) ch->features);
      free ((PaChatInfo *) ch);
    }
  if (e->contact != NULL)
    {
      th_member_clear (e->contact);
      free ((PaMember *) e->contact);
    }
  free (e);
}

static void
th_log (PaHost *host, PaLogLevel level, const char *message)
{
  if (th_n_logs < TH_MAX)
    th_logs[th_n_logs++] = th_strdup (message);
}

static uint64_t
th_emit (PaHost *host, const PaEvent *event)
{
  if (th_n_events >= TH_MAX)
    return 0;
  th_events[th_n_events++] = th_event_copy (event);
  return th_n_events;
}

static void
th_op_result (PaHost *host, uint64_t op_id, const PaOpResult *result)
{
  if (th_n_ops >= TH_MAX)
    return;
  th_op_ids[th_n_ops] = op_id;
  th_op_codes[th_n_ops] = (int) result->code;
  th_n_ops++;
}

static void
th_invoke (PaHost *host, PaInvokeFunc fn, void *user_data)
{
  if (th_n_invokes >= TH_MAX)
    return;
  th_invoke_fns[th_n_invokes] = fn;
  th_invoke_data[th_n_invokes] = user_data;
  th_n_invokes++;
}

static char *th_meta;

static void
th_meta_set (PaHost *host, PaMetaScope scope, const char *id, const char *value)
{
  free (th_meta);
  th_meta = th_strdup (value);
}

static char *
th_meta_get (PaHost *host, PaMetaScope scope, const char *id)
{
  return th_strdup (th_meta);
}

/* A login step or contact, as one line of text the Go test compares. */
static char *th_steps[TH_MAX];
static size_t th_n_steps;

static const char *
th_s (const char *s)
{
  return s != NULL ? s : "(null)";
}

static void
th_record (const char *line)
{
  if (th_n_steps < TH_MAX)
    th_steps[th_n_steps++] = th_strdup (line);
}

static void
th_login_step (PaHost *host, const PaLoginStep *step)
{
  char buf[4096];
  size_t n = (size_t) snprintf (buf, sizeof buf, "step %d %s %s [", (int) step->kind,
                                th_s (step->step_id), th_s (step->instructions));
  for (size_t i = 0; i < step->n_fields && n < sizeof buf; i++)
    {
      const PaField *f = &step->fields[i];
      n += (size_t) snprintf (buf + n, sizeof buf - n, "%s:%s:%d:%s:%d:", th_s (f->id),
                              th_s (f->label), (int) f->type, th_s (f->default_value),
                              (int) f->optional);
      for (size_t j = 0; f->choices != NULL && f->choices[j] != NULL && n < sizeof buf; j++)
        n += (size_t) snprintf (buf + n, sizeof buf - n, "%s/", f->choices[j]);
      if (n < sizeof buf)
        n += (size_t) snprintf (buf + n, sizeof buf - n, " ");
    }
  if (n < sizeof buf)
    snprintf (buf + n, sizeof buf - n, "] %s %s %s %s %u", th_s (step->display_text),
              th_s (step->image_path), th_s (step->remote_id), th_s (step->remote_name),
              step->expires_s);
  th_record (buf);
}

static void
th_op_contact (PaHost *host, uint64_t op_id, const PaMember *m)
{
  char buf[1024];
  snprintf (buf, sizeof buf, "contact %llu %s %s %s %s %d", (unsigned long long) op_id,
            th_s (m->id), th_s (m->name), th_s (m->avatar_path), th_s (m->identifier),
            (int) m->power);
  th_record (buf);
}

static void
th_login_state (PaHost *host, PaLoginState state, const char *message)
{
  char buf[1024];
  snprintf (buf, sizeof buf, "state %d %s", (int) state, th_s (message));
  th_record (buf);
}

static const PaHostApi th_api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = th_log,
  .emit = th_emit,
  .op_result = th_op_result,
  .login_step = th_login_step,
  .login_state = th_login_state,
  .op_contact = th_op_contact,
  .meta_set = th_meta_set,
  .meta_get = th_meta_get,
  .invoke = th_invoke,
};

void
pasdk_test_reset (void)
{
  for (size_t i = 0; i < th_n_events; i++)
    th_event_free (th_events[i]);
  for (size_t i = 0; i < th_n_logs; i++)
    free (th_logs[i]);
  for (size_t i = 0; i < th_n_steps; i++)
    free (th_steps[i]);
  th_n_events = th_n_logs = th_n_ops = th_n_invokes = th_n_steps = 0;
  free (th_meta);
  th_meta = NULL;
}

bool
pasdk_test_init (const PaNetwork *net, char **error)
{
  return net->init (&th_host, &th_api, error);
}

void
pasdk_test_shutdown (const PaNetwork *net)
{
  net->shutdown (&th_host);
}

PaLogin *
pasdk_test_login_new (const PaNetwork *net, char **error)
{
  return net->login_new (&th_host, false, error);
}

void
pasdk_test_login_free (const PaNetwork *net, PaLogin *login)
{
  net->login_ops->login_free (login);
}

void
pasdk_test_send (const PaNetwork *net, PaLogin *login, uint64_t op_id, const char *chat_id,
                 const char *text)
{
  PaContent c = { .struct_size = sizeof c, .kind = PA_MSG_TEXT, .text = text };
  net->login_ops->send (login, op_id, chat_id, &c, "txn");
}

uint32_t
pasdk_test_ops_mask (const PaNetwork *net)
{
  const PaLoginOps *o = net->login_ops;
  if (o == NULL)
    return 0;
  uint32_t m = 0;
#define BIT(member, bit) m |= o->member != NULL ? (uint32_t) (bit) : 0
  BIT (login_start, PASDK_OP_FLOWS);
  BIT (connect, PASDK_OP_CONNECT);
  BIT (logout, PASDK_OP_LOGOUT);
  BIT (event_persisted, PASDK_OP_PERSISTED);
  BIT (send, PASDK_OP_SEND);
  BIT (edit, PASDK_OP_EDIT);
  BIT (redact, PASDK_OP_REDACT);
  BIT (react, PASDK_OP_REACT);
  BIT (mark_read, PASDK_OP_MARK_READ);
  BIT (typing, PASDK_OP_TYPING);
  BIT (set_chat_info, PASDK_OP_SET_CHAT_INFO);
  BIT (set_membership, PASDK_OP_MEMBERSHIP);
  BIT (resolve_identifier, PASDK_OP_RESOLVE);
  BIT (list_contacts, PASDK_OP_LIST_CONTACTS);
  BIT (create_dm, PASDK_OP_CREATE_DM);
  BIT (create_group, PASDK_OP_CREATE_GROUP);
  BIT (get_chat_info, PASDK_OP_CHAT_INFO);
  BIT (get_user_info, PASDK_OP_USER_INFO);
  BIT (fetch_history, PASDK_OP_FETCH_HISTORY);
#undef BIT
  /* the three members of a login flow come together, as do connect/disconnect */
  if ((o->login_start != NULL) != (o->login_submit != NULL)
      || (o->login_start != NULL) != (o->login_cancel != NULL)
      || (o->connect != NULL) != (o->disconnect != NULL) || o->login_free == NULL)
    return UINT32_MAX;
  return m;
}

size_t
pasdk_test_n_events (void)
{
  return th_n_events;
}

const PaEvent *
pasdk_test_event (size_t i)
{
  return i < th_n_events ? th_events[i] : NULL;
}

size_t
pasdk_test_n_logs (void)
{
  return th_n_logs;
}

const char *
pasdk_test_log (size_t i)
{
  return i < th_n_logs ? th_logs[i] : NULL;
}

int
pasdk_test_op_code (uint64_t op_id)
{
  for (size_t i = 0; i < th_n_ops; i++)
    if (th_op_ids[i] == op_id)
      return th_op_codes[i];
  return -1;
}

size_t
pasdk_test_run_invokes (void)
{
  size_t n = th_n_invokes;
  th_n_invokes = 0;
  for (size_t i = 0; i < n; i++)
    th_invoke_fns[i](th_invoke_data[i]);
  return n;
}

char *
pasdk_test_normalize (const PaNetwork *net, const char *id)
{
  return net->normalize_id (PA_ID_USER, id);
}

size_t
pasdk_test_n_records (void)
{
  return th_n_steps;
}

const char *
pasdk_test_record (size_t i)
{
  return i < th_n_steps ? th_steps[i] : NULL;
}
