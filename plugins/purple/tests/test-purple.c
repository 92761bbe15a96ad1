/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests of the purple plugin: markup conversion both ways, id
 * normalization, and the login flow, request UI ops and operations driven
 * through the network table with a fake host (no network: a refused
 * connection exercises the failure path, and operations on the offline
 * login their typed results). */
#define G_LOG_DOMAIN "passerelle-purple-test"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <purple.h>

#include "purple-markup.h"
#include "test-host-loop.h"
#include "purple-buddies.h"
#include "purple-plugin.h"

/* ------------------------------------------------------------ fake host */

typedef struct {
  PaStepKind kind;
  char *step_id;
  char *instructions;
  GPtrArray *field_ids;
  GPtrArray *field_types; /* GINT_TO_POINTER */
  GPtrArray *field_defaults;
  GPtrArray *choices; /* of the first choice field */
  char *image_path;
} Step;

/* One op_result as the host saw it. */
typedef struct {
  guint64 op_id;
  PaResultCode code;
  char *legacy_id;
  gint64 legacy_ts_ms;
  char *error;
} Result;

/* One emitted event, the members the tests look at. */
typedef struct {
  PaEventType type;
  char *sender_id;
  char *chat_id;
  PaPresence presence;
  char *status_text;
} Event;

static struct {
  char *dir;
  GPtrArray *steps;
  GPtrArray *notices;
  GPtrArray *logs;
  GArray *states;
  GPtrArray *results; /* Result */
  GPtrArray *events;  /* Event */
  gint64 budget;
} fake;

struct PaHost {
  int unused;
};
static PaHost the_host;

static void
step_free (Step *s)
{
  g_free (s->step_id);
  g_free (s->instructions);
  g_ptr_array_unref (s->field_ids);
  g_ptr_array_unref (s->field_types);
  g_ptr_array_unref (s->field_defaults);
  g_ptr_array_unref (s->choices);
  g_free (s->image_path);
  g_free (s);
}

static void
h_log (PaHost *h, PaLogLevel level, const char *message)
{
  g_ptr_array_add (fake.logs, g_strdup (message));
}

static void
result_free (Result *r)
{
  g_free (r->legacy_id);
  g_free (r->error);
  g_free (r);
}

static void
event_free (Event *e)
{
  g_free (e->sender_id);
  g_free (e->chat_id);
  g_free (e->status_text);
  g_free (e);
}

static uint64_t
h_emit (PaHost *h, const PaEvent *ev)
{
  g_assert_cmpuint (ev->struct_size, ==, sizeof (PaEvent));
  Event *e = g_new0 (Event, 1);
  e->type = ev->type;
  e->sender_id = g_strdup (ev->sender_id);
  e->chat_id = g_strdup (ev->chat_id);
  e->presence = ev->presence;
  e->status_text = g_strdup (ev->status_text);
  g_ptr_array_add (fake.events, e);
  return fake.events->len;
}

static int64_t
h_budget_left (PaHost *h)
{
  return fake.budget;
}

static const char *
h_data_dir (PaHost *h)
{
  return fake.dir;
}

static void
h_login_step (PaHost *h, const PaLoginStep *step)
{
  Step *s = g_new0 (Step, 1);
  s->kind = step->kind;
  s->step_id = g_strdup (step->step_id);
  s->instructions = g_strdup (step->instructions);
  s->field_ids = g_ptr_array_new_with_free_func (g_free);
  s->field_types = g_ptr_array_new ();
  s->field_defaults = g_ptr_array_new_with_free_func (g_free);
  s->choices = g_ptr_array_new_with_free_func (g_free);
  s->image_path = g_strdup (step->image_path);
  for (size_t i = 0; i < step->n_fields; i++)
    {
      g_ptr_array_add (s->field_ids, g_strdup (step->fields[i].id));
      g_ptr_array_add (s->field_types, GINT_TO_POINTER (step->fields[i].type));
      g_ptr_array_add (s->field_defaults, g_strdup (step->fields[i].default_value));
      if (step->fields[i].choices != NULL && s->choices->len == 0)
        for (const char *const *c = step->fields[i].choices; *c != NULL; c++)
          g_ptr_array_add (s->choices, g_strdup (*c));
    }
  g_ptr_array_add (fake.steps, s);
}

static void
h_login_state (PaHost *h, PaLoginState state, const char *message)
{
  g_array_append_val (fake.states, state);
}

static void
h_op_result (PaHost *h, uint64_t op_id, const PaOpResult *result)
{
  g_assert_cmpuint (result->struct_size, ==, sizeof (PaOpResult));
  /* Each op is answered exactly once. */
  for (guint i = 0; i < fake.results->len; i++)
    g_assert_cmpuint (((Result *) g_ptr_array_index (fake.results, i))->op_id, !=, op_id);
  Result *r = g_new0 (Result, 1);
  r->op_id = op_id;
  r->code = result->code;
  r->legacy_id = g_strdup (result->legacy_id);
  r->legacy_ts_ms = result->legacy_ts_ms;
  r->error = g_strdup (result->error);
  g_ptr_array_add (fake.results, r);
}

static void
h_notice (PaHost *h, const char *text)
{
  g_ptr_array_add (fake.notices, g_strdup (text));
}

static void
h_meta_set (PaHost *h, PaMetaScope scope, const char *id, const char *value)
{
}

static char *
h_meta_get (PaHost *h, PaMetaScope scope, const char *id)
{
  return NULL;
}

static void
h_op_contact (PaHost *h, uint64_t op_id, const PaMember *contact)
{
}

static const char *
h_config_string (PaHost *h, const char *key)
{
  return NULL;
}

static int64_t
h_config_int (PaHost *h, const char *key)
{
  return 0;
}

static bool
h_config_bool (PaHost *h, const char *key)
{
  return false;
}

static const PaHostApi api = {
  .struct_size = sizeof (PaHostApi),
  .abi_major = PA_PLUGIN_ABI_MAJOR,
  .abi_minor = PA_PLUGIN_ABI_MINOR,
  .log = h_log,
  .emit = h_emit,
  .data_dir = h_data_dir,
  .login_step = h_login_step,
  .login_state = h_login_state,
  .op_result = h_op_result,
  .notice = h_notice,
  .meta_set = h_meta_set,
  .meta_get = h_meta_get,
  .op_contact = h_op_contact,
  .budget_left = h_budget_left,
  .config_string = h_config_string,
  .config_int = h_config_int,
  .config_bool = h_config_bool,
  .timer_add = test_host_timer_add,
  .fd_watch_add = test_host_fd_watch_add,
  .source_remove = test_host_source_remove,
  .invoke = test_host_invoke,
};

static Step *
last_step (void)
{
  g_assert_cmpuint (fake.steps->len, >, 0);
  return g_ptr_array_index (fake.steps, fake.steps->len - 1);
}

static int
field_index (Step *s, const char *id)
{
  for (guint i = 0; i < s->field_ids->len; i++)
    if (g_strcmp0 (g_ptr_array_index (s->field_ids, i), id) == 0)
      return (int) i;
  return -1;
}

static gboolean
has_choice (Step *s, const char *c)
{
  for (guint i = 0; i < s->choices->len; i++)
    if (g_strcmp0 (g_ptr_array_index (s->choices, i), c) == 0)
      return TRUE;
  return FALSE;
}

static void
iterate_until (gboolean (*pred) (void), guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while (!pred () && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

/* ------------------------------------------------------------ markup */

static void
test_markup_in (void)
{
  struct {
    const char *in, *text, *html;
  } cases[] = {
    { "hello", "hello", NULL },
    { "a &amp; b &lt;c&gt; &#233;&#x263A; &bogus;", "a & b <c> é☺ &bogus;", NULL },
    { "line1<br>line2<BR/>", "line1\nline2", NULL },
    { "<p>para <strong>one</strong></p>", "para one", "para <b>one</b>" },
    { "<b>bold</b> and <em>it</em>", "bold and it", "<b>bold</b> and <i>it</i>" },
    { "<font color=\"red\"><b>x</font>", "x", "<b>x</b>" },
    { "<a href=\"https://e.org/?a=1&amp;b=2\">site</a>", "site <https://e.org/?a=1&b=2>",
      "<a href=\"https://e.org/?a=1&amp;b=2\">site</a>" },
    { "<a href=\"javascript:alert(1)\">x</a>", "x", NULL },
    { "<script>alert('x')</script>", "alert('x')", NULL },
    { "1 < 2 <3", "1 < 2 <3", NULL },
    { "<i onclick=\"evil()\">t</i>", "t", "<i>t</i>" },
    { "</b>stray", "stray", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = NULL, *html = NULL;
      pp_markup_from_purple (cases[i].in, &text, &html);
      g_assert_cmpstr (text, ==, cases[i].text);
      g_assert_cmpstr (html, ==, cases[i].html);
    }
  /* Escapes survive the trip: text is escaped in html. */
  g_autofree char *text = NULL, *html = NULL;
  pp_markup_from_purple ("<b>&lt;tag&gt; &amp;</b>", &text, &html);
  g_assert_cmpstr (text, ==, "<tag> &");
  g_assert_cmpstr (html, ==, "<b>&lt;tag&gt; &amp;</b>");
}

static void
test_markup_out (void)
{
  g_autofree char *a = pp_markup_to_purple ("a < b & c\nnext", NULL);
  g_assert_cmpstr (a, ==, "a &lt; b &amp; c<br>next");
  g_autofree char *b = pp_markup_to_purple ("bold", "<b>bold</b> <img src=x onerror=y>");
  g_assert_cmpstr (b, ==, "<b>bold</b> ");
  g_autofree char *c = pp_markup_to_purple ("x", "plain<br>text");
  g_assert_cmpstr (c, ==, "plain<br>text");
  g_autofree char *d = pp_markup_to_purple (NULL, NULL);
  g_assert_cmpstr (d, ==, "");
  /* Deep nesting is capped but stays well formed. */
  GString *deep = g_string_new (NULL);
  for (int i = 0; i < 100; i++)
    g_string_append (deep, "<b>");
  g_string_append (deep, "x");
  g_autofree char *e = pp_markup_to_purple (NULL, deep->str);
  g_auto (GStrv) opens = g_strsplit (e, "<b>", -1);
  g_auto (GStrv) closes = g_strsplit (e, "</b>", -1);
  g_assert_cmpuint (g_strv_length (opens), ==, 33);
  g_assert_cmpuint (g_strv_length (closes), ==, 33);
  g_string_free (deep, TRUE);
}

/* ------------------------------------------------------------ login */

static PaLogin *the_login;
static const PaNetwork *net;
static const PaLoginOps *d;

static void
test_network (void)
{
  g_assert_cmpuint (net->magic, ==, PA_PLUGIN_MAGIC);
  g_assert_cmpuint (net->abi_major, ==, 2);
  g_assert_cmpuint (net->abi_minor, ==, PA_PLUGIN_ABI_MINOR);
  g_assert_cmpuint (net->struct_size, ==, sizeof (PaNetwork));
  g_assert_cmpstr (net->name, ==, "purple");
  g_assert_nonnull (net->version);
  g_assert_cmpstr (net->version, !=, "");
  g_assert_cmpuint (net->n_config_keys, ==, 0);
  g_assert_nonnull (net->login_ops);
  g_assert_cmpuint (net->login_ops->struct_size, ==, sizeof (PaLoginOps));
  g_assert_nonnull (net->login_ops->login_free);
  /* What libpurple 2.x cannot do stays NULL: the host answers UNSUPPORTED. */
  g_assert_null (net->login_ops->edit);
  g_assert_nonnull (net->login_ops->set_chat_info);
  g_assert_null (net->login_ops->react);
  g_assert_null (net->login_ops->fetch_history);
  g_assert_null (net->import_file);
}

static void
test_normalize_id (void)
{
  struct {
    PaIdKind kind;
    const char *in, *out;
  } cases[] = {
    { PA_ID_USER, "Bob@Example.ORG", "bob@example.org" },
    { PA_ID_USER, "Bob@Example.ORG/Phone", "bob@example.org" },
    { PA_ID_CHAT, "Room@Conference.Example.org/Nick", "room@conference.example.org/Nick" },
    { PA_ID_CHAT, "room@conference.example.org", "room@conference.example.org" },
    { PA_ID_USER, "bob@example.org.", "bob@example.org" },
    { PA_ID_CHAT, "#Passerelle", "#passerelle" },
    { PA_ID_USER, "Carol", "carol" },
    { PA_ID_USER, "Élodie@exemple.fr", "élodie@exemple.fr" },
    { PA_ID_USER, "", NULL },
    { PA_ID_USER, "@example.org", NULL },
    { PA_ID_USER, "bob@", NULL },
    { PA_ID_USER, "bob@example.org/", NULL },
    { PA_ID_USER, "bad\001id", NULL },
    { PA_ID_USER, "\xff\xfe", NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char *out = net->normalize_id (cases[i].kind, cases[i].in);
      g_assert_cmpstr (out, ==, cases[i].out);
      /* The one spelling is a fixed point. */
      if (out != NULL)
        {
          char *again = net->normalize_id (cases[i].kind, out);
          g_assert_cmpstr (again, ==, out);
          free (again);
        }
      free (out);
    }
  GString *longid = g_string_new (NULL);
  for (int i = 0; i < PA_ID_MAX_BYTES + 1; i++)
    g_string_append_c (longid, 'a');
  g_assert_null (net->normalize_id (PA_ID_USER, longid->str));
  g_string_free (longid, TRUE);
}

static void
test_init (void)
{
  /* login_new before init is refused: the host table comes with init. */
  char *err = NULL;
  g_assert_null (net->login_new (&the_host, false, &err));
  g_assert_nonnull (err);
  free (err);
  err = NULL;
  g_assert_true (net->init (&the_host, &api, &err));
  g_assert_null (err);
  /* libpurple starts once per process. */
  g_assert_false (net->init (&the_host, &api, &err));
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "one login per worker"));
  free (err);
}

static void
test_login_flow (void)
{
  char *err = NULL;
  the_login = net->login_new (&the_host, false, &err);
  g_assert_null (err);
  g_assert_nonnull (the_login);
  struct stat st;
  g_autofree char *udir = g_build_filename (fake.dir, "purple", NULL);
  g_assert_cmpint (g_stat (udir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* libpurple is process-global: a second login in the process is refused. */
  PaLogin *second = net->login_new (&the_host, false, &err);
  g_assert_null (second);
  g_assert_nonnull (err);
  g_assert_nonnull (strstr (err, "one login per worker"));
  free (err);

  d->login_start (the_login, "account");
  Step *s = last_step ();
  g_assert_cmpint (s->kind, ==, PA_STEP_USER_INPUT);
  g_assert_cmpstr (s->step_id, ==, "protocol");
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (s->field_types, 0)), ==, PA_FIELD_CHOICE);
  /* The list comes from libpurple: every installed prpl is offered. */
  g_assert_true (has_choice (s, "prpl-jabber"));
  g_assert_true (has_choice (s, "prpl-irc"));
  g_assert_cmpuint (s->choices->len, ==, g_list_length (purple_plugins_get_protocols ()));

  const char *ids[] = { "protocol" };
  const char *bad[] = { "prpl-nope" };
  guint n = fake.steps->len;
  d->login_submit (the_login, "protocol", ids, bad, 1);
  g_assert_cmpuint (fake.steps->len, ==, n + 1);
  g_assert_cmpstr (last_step ()->step_id, ==, "protocol");

  const char *jabber[] = { "prpl-jabber" };
  d->login_submit (the_login, "protocol", ids, jabber, 1);
  s = last_step ();
  g_assert_cmpstr (s->step_id, ==, "account");
  int i = field_index (s, "username");
  g_assert_cmpint (i, ==, 0);
  g_assert_cmpint (field_index (s, "split.0"), >, 0); /* Domain */
  i = field_index (s, "password");
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (s->field_types, i)), ==, PA_FIELD_PASSWORD);
  i = field_index (s, "opt.port");
  g_assert_cmpint (i, >, 0);
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (s->field_types, i)), ==, PA_FIELD_NUMBER);
  g_assert_cmpstr (g_ptr_array_index (s->field_defaults, i), ==, "5222");
  i = field_index (s, "opt.connection_security");
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (s->field_types, i)), ==, PA_FIELD_CHOICE);
  g_assert_true (has_choice (s, "require_tls") || has_choice (s, "require_starttls"));
  i = field_index (s, "opt.auth_plain_in_clear");
  g_assert_cmpint (GPOINTER_TO_INT (g_ptr_array_index (s->field_types, i)), ==, PA_FIELD_BOOL);
  g_assert_cmpint (field_index (s, "autojoin"), >, 0);

  /* IRC has other fields: the server is a user split. */
  const char *irc[] = { "prpl-irc" };
  d->login_submit (the_login, "protocol", ids, irc, 1);
  s = last_step ();
  g_assert_cmpstr (s->step_id, ==, "account");
  i = field_index (s, "split.0");
  g_assert_cmpint (i, >, 0);
  g_assert_cmpstr (g_ptr_array_index (s->field_defaults, i), !=, NULL);
  g_assert_cmpint (field_index (s, "opt.port"), >, 0);
}

static gboolean
account_asked_again (void)
{
  Step *s = last_step ();
  return g_strcmp0 (s->step_id, "account") == 0 && s->instructions != NULL
         && strstr (s->instructions, "Could not log in") != NULL;
}

static void
test_login_refused_connection (void)
{
  /* A closed port on loopback: the attempt fails and the fields are asked again. */
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert_true (g_socket_bind (sock, any, TRUE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, NULL);
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, NULL); /* now nothing listens there */
  g_autofree char *port_s = g_strdup_printf ("%u", port);
  const char *ids[] = { "username", "split.0", "password", "opt.port", "autojoin" };
  const char *vals[] = { "alice", "127.0.0.1", "s3cret-pw", port_s, "#room" };
  guint states = fake.states->len;
  d->login_submit (the_login, "account", ids, vals, G_N_ELEMENTS (ids));
  g_assert_cmpuint (fake.states->len, >, states);
  g_assert_cmpint (g_array_index (fake.states, PaLoginState, states), ==, PA_STATE_CONNECTING);
  iterate_until (account_asked_again, 10000);
  g_assert_true (account_asked_again ());
  PaLoginState last = g_array_index (fake.states, PaLoginState, fake.states->len - 1);
  g_assert_cmpint (last, ==, PA_STATE_UNKNOWN_ERROR);
  /* Nothing was saved, and the password never reached the logs. */
  g_autofree char *session = g_build_filename (fake.dir, "purple-session.json", NULL);
  g_assert_false (g_file_test (session, G_FILE_TEST_EXISTS));
  for (guint k = 0; k < fake.logs->len; k++)
    g_assert_null (strstr (g_ptr_array_index (fake.logs, k), "s3cret-pw"));
  for (guint k = 0; k < fake.notices->len; k++)
    g_assert_null (strstr (g_ptr_array_index (fake.notices, k), "s3cret-pw"));
}

/* ------------------------------------------------------------ requests */

static const guchar png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I',
                              'H', 'D', 'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0 };

static int fields_ok_calls;
static char *input_value;
static int action_chosen = -2;

static void
fields_ok (void *data, PurpleRequestFields *fields)
{
  fields_ok_calls++;
}

static void
input_ok (void *data, const char *value)
{
  g_free (input_value);
  input_value = g_strdup (value);
}

static void
action_cb (void *data, int which)
{
  action_chosen = which;
}

static void
test_request_image (void)
{
  PurpleRequestFields *fields = purple_request_fields_new ();
  PurpleRequestFieldGroup *g = purple_request_field_group_new (NULL);
  purple_request_fields_add_group (fields, g);
  purple_request_field_group_add_field (
      g, purple_request_field_image_new ("qr", "QR code", (const char *) png, sizeof png));
  void *h = purple_request_fields (NULL, "Link a device", "Scan this QR code", NULL, fields,
                                   "OK", G_CALLBACK (fields_ok), "Cancel", NULL, NULL, NULL,
                                   NULL, NULL);
  g_assert_nonnull (h);
  Step *s = last_step ();
  g_assert_cmpint (s->kind, ==, PA_STEP_DISPLAY_AND_WAIT);
  g_assert_nonnull (s->image_path);
  g_assert_true (g_str_has_prefix (s->image_path, fake.dir));
  g_assert_nonnull (strstr (s->instructions, "Scan this QR code"));
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (s->image_path, &data, &len, NULL));
  g_assert_cmpmem (data, len, png, sizeof png);
  struct stat st;
  g_assert_cmpint (g_stat (s->image_path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  /* The prpl closes it when the code was scanned: the file goes away. */
  purple_request_close (PURPLE_REQUEST_FIELDS, h);
  g_assert_false (g_file_test (s->image_path, G_FILE_TEST_EXISTS));
  g_assert_cmpint (fields_ok_calls, ==, 0);
}

static void
test_request_input_and_action (void)
{
  purple_request_input (NULL, "Code", "Enter the code you received", NULL, NULL, FALSE, FALSE,
                        NULL, "OK", G_CALLBACK (input_ok), "Cancel", NULL, NULL, NULL, NULL,
                        NULL);
  Step *s = last_step ();
  g_assert_cmpint (s->kind, ==, PA_STEP_USER_INPUT);
  g_assert_true (g_str_has_prefix (s->step_id, "request-"));
  g_assert_cmpint (field_index (s, "answer"), ==, 0);
  /* A second request waits for the first to be answered. */
  guint n = fake.steps->len;
  purple_request_action (NULL, "Invitation", "Join #room?", NULL, 0, NULL, NULL, NULL, NULL, 2,
                         "_Accept", G_CALLBACK (action_cb), "_Cancel", G_CALLBACK (action_cb));
  g_assert_cmpuint (fake.steps->len, ==, n);
  g_autofree char *step_id = g_strdup (s->step_id);
  const char *ids[] = { "answer" };
  const char *vals[] = { "12345" };
  d->login_submit (the_login, step_id, ids, vals, 1);
  g_assert_cmpstr (input_value, ==, "12345");
  s = last_step ();
  g_assert_cmpuint (fake.steps->len, ==, n + 1);
  g_assert_true (has_choice (s, "Accept"));
  g_assert_true (has_choice (s, "Cancel"));
  const char *acc[] = { "Accept" };
  d->login_submit (the_login, s->step_id, ids, acc, 1);
  g_assert_cmpint (action_chosen, ==, 0);
  g_free (input_value);
}

/* A prpl's negative errno becomes a code by kind. */
static void
test_result_codes (void)
{
  g_assert_cmpint (pp_result_for_errno (ENOTCONN), ==, PA_RESULT_NOT_CONNECTED);
  g_assert_cmpint (pp_result_for_errno (E2BIG), ==, PA_RESULT_TOO_LARGE);
  g_assert_cmpint (pp_result_for_errno (ENOTSUP), ==, PA_RESULT_UNSUPPORTED);
  g_assert_cmpint (pp_result_for_errno (ENOENT), ==, PA_RESULT_NOT_FOUND);
  g_assert_cmpint (pp_result_for_errno (EACCES), ==, PA_RESULT_FORBIDDEN);
  g_assert_cmpint (pp_result_for_errno (ETIMEDOUT), ==, PA_RESULT_TEMPORARY);
  g_assert_cmpint (pp_result_for_errno (ECONNRESET), ==, PA_RESULT_TEMPORARY);
  g_assert_cmpint (pp_result_for_errno (EINVAL), ==, PA_RESULT_PERMANENT);
  g_autoptr (GError) e = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "x");
  g_assert_cmpint (pp_result_for_error (e), ==, PA_RESULT_UNSUPPORTED);
  g_assert_cmpint (pp_result_for_error (NULL), ==, PA_RESULT_PERMANENT);
}

static Result *
result_of (guint64 op_id)
{
  for (guint i = 0; i < fake.results->len; i++)
    {
      Result *r = g_ptr_array_index (fake.results, i);
      if (r->op_id == op_id)
        return r;
    }
  g_assert_not_reached ();
}

static gboolean
has_event (PaEventType type, const char *chat_id)
{
  for (guint i = 0; i < fake.events->len; i++)
    {
      Event *e = g_ptr_array_index (fake.events, i);
      if (e->type == type && g_strcmp0 (e->chat_id, chat_id) == 0)
        return TRUE;
    }
  return FALSE;
}

/* Operations on the login the refused connection left offline: each is
 * answered once, with a code the host can act on. */
static void
test_ops_offline (void)
{
  PaContent text = { .struct_size = sizeof (PaContent), .kind = PA_MSG_TEXT, .text = "hello" };
  d->send (the_login, 101, "bob@example.org", &text, "txn-1");
  Result *r = result_of (101);
  g_assert_cmpint (r->code, ==, PA_RESULT_NOT_CONNECTED);
  g_assert_nonnull (r->error);
  g_assert_null (r->legacy_id);

  /* Too long is said first: retrying after a reconnect would not help. */
  gsize big_len = PP_MAX_BODY + 1;
  char *big = g_malloc (big_len + 1);
  memset (big, 'x', big_len);
  big[big_len] = '\0';
  PaContent large = { .struct_size = sizeof (PaContent), .kind = PA_MSG_TEXT, .text = big };
  d->send (the_login, 102, "bob@example.org", &large, NULL);
  g_assert_cmpint (result_of (102)->code, ==, PA_RESULT_TOO_LARGE);
  g_free (big);

  d->set_membership (the_login, 103, "room@conference.example.org", "alice@127.0.0.1", true);
  g_assert_cmpint (result_of (103)->code, ==, PA_RESULT_NOT_CONNECTED);

  /* A chat or contact the network cannot name is not found (the account
   * left by the flow above is IRC's, whose every nick is valid: an empty or
   * overlong one is not). */
  g_autofree char *overlong = g_strnfill (2000, 'n');
  d->get_chat_info (the_login, 104, overlong);
  g_assert_cmpint (result_of (104)->code, ==, PA_RESULT_NOT_FOUND);
  d->create_dm (the_login, 105, "");
  g_assert_cmpint (result_of (105)->code, ==, PA_RESULT_NOT_FOUND);
  d->resolve_identifier (the_login, 106, "", PA_RESOLVE_IDENTIFIER);
  g_assert_cmpint (result_of (106)->code, ==, PA_RESULT_NOT_FOUND);

  /* libpurple opens a conversation on a connection only. */
  d->create_dm (the_login, 107, "Bob@Example.org");
  g_assert_cmpint (result_of (107)->code, ==, PA_RESULT_NOT_CONNECTED);
  d->get_chat_info (the_login, 108, "bob@example.org");
  g_assert_cmpint (result_of (108)->code, ==, PA_RESULT_NOT_CONNECTED);
  g_assert_false (has_event (PA_EV_CHAT_INFO, "bob@example.org"));
  d->list_contacts (the_login, 110);
  g_assert_cmpint (result_of (110)->code, ==, PA_RESULT_OK);

  /* Only a room's topic can be set; offline, not at all. */
  d->set_chat_info (the_login, 111, "#room", PA_CHAT_FIELD_NAME, "New name");
  g_assert_cmpint (result_of (111)->code, ==, PA_RESULT_UNSUPPORTED);
  d->set_chat_info (the_login, 112, "#room", PA_CHAT_FIELD_TOPIC, "New topic");
  g_assert_cmpint (result_of (112)->code, ==, PA_RESULT_NOT_CONNECTED);

  /* Typing is best effort. */
  d->typing (the_login, 109, "bob@example.org", true);
  g_assert_cmpint (result_of (109)->code, ==, PA_RESULT_OK);
}

static Event *
last_event (void)
{
  g_assert_cmpuint (fake.events->len, >, 0);
  return g_ptr_array_index (fake.events, fake.events->len - 1);
}

/* What the prpl does on a presence stanza (purple_prpl_got_user_status
 * wants a connected account). */
static void
set_status (PurpleBuddy *b, const char *status_id, const char *message)
{
  PurpleStatus *status = purple_presence_get_status (purple_buddy_get_presence (b), status_id);
  g_assert_nonnull (status);
  if (message != NULL)
    {
      GList *attrs = g_list_append (g_list_append (NULL, (gpointer) "message"), (gpointer) message);
      purple_status_set_active_with_attrs_list (status, TRUE, attrs);
      g_list_free (attrs);
    }
  else
    purple_status_set_active (status, TRUE);
}

/* PRESENCE carries the buddy's status message, told again when only the
 * message changes, never twice the same. */
static void
test_presence_status_text (void)
{
  PurpleAccount *account = the_login->account;
  g_assert_nonnull (account);
  PurpleBuddy *b = purple_buddy_new (account, "dave", "Dave");
  purple_blist_add_buddy (b, NULL, NULL, NULL);
  set_status (b, "away", "at <b>lunch</b> ");
  guint n = fake.events->len;
  pp_emit_presence (the_login, b);
  g_assert_cmpuint (fake.events->len, ==, n + 1);
  Event *e = last_event ();
  g_assert_cmpint (e->type, ==, PA_EV_PRESENCE);
  g_assert_cmpstr (e->sender_id, ==, "dave");
  g_assert_cmpint (e->presence, ==, PA_PRESENCE_UNAVAILABLE);
  g_assert_cmpstr (e->status_text, ==, "at lunch");
  pp_emit_presence (the_login, b);
  g_assert_cmpuint (fake.events->len, ==, n + 1);
  set_status (b, "away", "back at two");
  pp_emit_presence (the_login, b);
  g_assert_cmpuint (fake.events->len, ==, n + 2);
  g_assert_cmpstr (last_event ()->status_text, ==, "back at two");
  set_status (b, "offline", NULL);
  pp_emit_presence (the_login, b);
  g_assert_cmpuint (fake.events->len, ==, n + 3);
  g_assert_cmpint (last_event ()->presence, ==, PA_PRESENCE_OFFLINE);
  g_assert_null (last_event ()->status_text);
}

static void
test_free (void)
{
  d->login_free (the_login);
  the_login = NULL;
  net->shutdown (&the_host);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  net = pa_plugin_get_network ();
  d = net->login_ops;
  fake.dir = g_dir_make_tmp ("pa-purple-XXXXXX", NULL);
  fake.steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  fake.notices = g_ptr_array_new_with_free_func (g_free);
  fake.logs = g_ptr_array_new_with_free_func (g_free);
  fake.states = g_array_new (FALSE, FALSE, sizeof (PaLoginState));
  fake.results = g_ptr_array_new_with_free_func ((GDestroyNotify) result_free);
  fake.events = g_ptr_array_new_with_free_func ((GDestroyNotify) event_free);
  fake.budget = -1;
  g_test_add_func ("/purple/markup/in", test_markup_in);
  g_test_add_func ("/purple/markup/out", test_markup_out);
  g_test_add_func ("/purple/network", test_network);
  g_test_add_func ("/purple/normalize-id", test_normalize_id);
  g_test_add_func ("/purple/result-codes", test_result_codes);
  g_test_add_func ("/purple/login/0-init", test_init);
  g_test_add_func ("/purple/login/1-flow", test_login_flow);
  g_test_add_func ("/purple/login/2-refused", test_login_refused_connection);
  g_test_add_func ("/purple/login/3-request-image", test_request_image);
  g_test_add_func ("/purple/login/4-request-input-action", test_request_input_and_action);
  g_test_add_func ("/purple/login/5-ops-offline", test_ops_offline);
  g_test_add_func ("/purple/login/6-presence-status-text", test_presence_status_text);
  g_test_add_func ("/purple/login/9-free", test_free);
  int rc = g_test_run ();
  if (fake.dir != NULL)
    {
      /* Remove the temp dir (libpurple wrote its files in it). */
      const char *argv_rm[] = { "rm", "-rf", fake.dir, NULL };
      g_spawn_sync (NULL, (char **) argv_rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                    NULL, NULL);
    }
  g_ptr_array_unref (fake.steps);
  g_ptr_array_unref (fake.notices);
  g_ptr_array_unref (fake.logs);
  g_array_unref (fake.states);
  g_ptr_array_unref (fake.results);
  g_ptr_array_unref (fake.events);
  g_free (fake.dir);
  return rc;
}
