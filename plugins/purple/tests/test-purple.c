/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* Unit tests of the purple plugin: markup conversion both ways, and the
 * login flow and request UI ops driven through the descriptor with a fake
 * host (no network: a refused connection exercises the failure path). */
#define G_LOG_DOMAIN "passerelle-purple-test"

#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <purple.h>

#include "purple-markup.h"
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

static struct {
  char *dir;
  GPtrArray *steps;
  GPtrArray *notices;
  GPtrArray *logs;
  GArray *states;
  guint events;
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

static uint64_t
h_emit (PaHost *h, const PaEvent *ev)
{
  return ++fake.events;
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
h_op_result (PaHost *h, uint64_t op_id, bool ok, const char *legacy_id, const char *error)
{
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
static const PaPluginDescriptor *d;

static void
test_login_flow (void)
{
  char *err = NULL;
  the_login = d->login_new (&the_host, &api, false, &err);
  g_assert_null (err);
  g_assert_nonnull (the_login);
  struct stat st;
  g_autofree char *udir = g_build_filename (fake.dir, "purple", NULL);
  g_assert_cmpint (g_stat (udir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* libpurple is process-global: a second login in the process is refused. */
  PaLogin *second = d->login_new (&the_host, &api, false, &err);
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

static void
test_free (void)
{
  d->login_free (the_login);
  the_login = NULL;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  d = pa_plugin_get_descriptor ();
  g_assert_cmpuint (d->magic, ==, PA_PLUGIN_MAGIC);
  fake.dir = g_dir_make_tmp ("pa-purple-XXXXXX", NULL);
  fake.steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  fake.notices = g_ptr_array_new_with_free_func (g_free);
  fake.logs = g_ptr_array_new_with_free_func (g_free);
  fake.states = g_array_new (FALSE, FALSE, sizeof (PaLoginState));
  g_test_add_func ("/purple/markup/in", test_markup_in);
  g_test_add_func ("/purple/markup/out", test_markup_out);
  g_test_add_func ("/purple/login/1-flow", test_login_flow);
  g_test_add_func ("/purple/login/2-refused", test_login_refused_connection);
  g_test_add_func ("/purple/login/3-request-image", test_request_image);
  g_test_add_func ("/purple/login/4-request-input-action", test_request_input_and_action);
  g_test_add_func ("/purple/login/5-free", test_free);
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
  g_free (fake.dir);
  return rc;
}
