/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* The start-up self-check (pa-self-check.h): each thing the bridge needs
 * of its homeserver is tried for real, and each finding is one sentence
 * saying what to change in homeserver.yaml or in the registration.
 *
 * Synapse advertises none of the appservice extensions in /versions, so
 * they are probed: a device made for the bot with PUT /devices (MSC4190),
 * whoami masquerading as it (device masquerading), a to-device message
 * sent to it that must come back in a transaction (MSC2409), and that
 * transaction carrying the one-time key counts (MSC3202).  The probe
 * device is deleted afterwards; its id is fixed, so a probe left over by
 * a crash is reused, never piled up. */
#define G_LOG_DOMAIN "passerelle-self-check"

#include "pa-self-check.h"

#include "pa-common.h"

#include <curl/curl.h>
#include <stdio.h>

/* The probe device, the to-device type it receives, and how long the
 * probe's transaction may take (a backlog the ping released comes first). */
#define PROBE_DEVICE "PASSERELLESELFCHECK"
#define PROBE_TYPE "fr.passerelle.self_check"
#define PROBE_WAIT_S 15

typedef enum
{
  FINDING_OK,
  FINDING_WARN,
  FINDING_FAIL,
} Finding;

struct _PaSelfCheck
{
  PaConfig *config;
  PaMatrix *mx;
  gboolean to_stdout;
  char *bot_mxid;
  char *nonce;
  guint problems;
  /* The probe's transaction: seen, and whether it carried MSC3202's key
   * counts; other transactions refused meanwhile (--check only). */
  gboolean ping_ok;
  gboolean probe_seen;
  gboolean probe_msc3202;
  guint refused;
  /* The probe's wait: waited for (--check, encryption.require) or left to
   * the main loop; its timer, seconds waited, and the refusal it made. */
  gboolean wait;
  gboolean probe_pending;
  guint timer;
  guint waited;
  GError *refusal;
};

PaSelfCheck *
pa_self_check_new (PaConfig *config, PaMatrix *mx, gboolean to_stdout)
{
  PaSelfCheck *sc = g_new0 (PaSelfCheck, 1);
  sc->config = config;
  sc->mx = mx;
  sc->to_stdout = to_stdout;
  sc->bot_mxid = g_strdup_printf ("@%s:%s", config->bot_localpart, config->hs_domain);
  sc->nonce = g_uuid_string_random ();
  return sc;
}

void
pa_self_check_free (PaSelfCheck *sc)
{
  if (sc == NULL)
    return;
  if (sc->timer != 0)
    g_source_remove (sc->timer);
  g_clear_error (&sc->refusal);
  g_free (sc->bot_mxid);
  g_free (sc->nonce);
  g_free (sc);
}

G_GNUC_PRINTF (3, 4)
static void
report (PaSelfCheck *sc, Finding level, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (level != FINDING_OK)
    sc->problems++;
  if (sc->to_stdout)
    {
      printf ("%s: %s\n",
              level == FINDING_OK     ? "ok"
              : level == FINDING_WARN ? "warning"
                                      : "error",
              text);
      fflush (stdout);
    }
  else if (level == FINDING_OK)
    g_message ("self-check: %s", text);
  else
    g_warning ("self-check: %s", text);
}

/* A failure: reported, and the error the bridge stops with. */
G_GNUC_PRINTF (3, 4)
static gboolean
fail (PaSelfCheck *sc, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  report (sc, FINDING_FAIL, "%s", text);
  g_set_error_literal (error, PA_ERROR, PA_ERROR_CONFIG, text);
  return FALSE;
}

static PaMatrixResponse *
request (PaSelfCheck *sc, const char *method, const char *path, json_t *body, guint attempts)
{
  PaMatrixRequest req
      = { .method = method, .path = path, .body = body, .max_attempts = attempts, .timeout_s = 30 };
  return pa_matrix_request_sync (sc->mx, &req);
}

/* "M_FORBIDDEN (403): text", or the network error. */
static char *
describe (const PaMatrixResponse *resp)
{
  g_autoptr (GError) e = pa_matrix_response_to_error (resp);
  return g_strdup (e->message);
}

/* ------------------------------------------------------ the homeserver */

static char *
versions_text (json_t *body)
{
  json_t *versions = json_object_get (body, "versions");
  size_t n = json_array_size (versions);
  if (n == 0)
    return g_strdup ("no Matrix version");
  const char *first = json_string_value (json_array_get (versions, 0));
  const char *last = json_string_value (json_array_get (versions, n - 1));
  if (n == 1 || first == NULL || last == NULL)
    return g_strdup_printf ("Matrix %s", first ? first : "?");
  return g_strdup_printf ("Matrix %s to %s", first, last);
}

gboolean
pa_self_check_homeserver (PaSelfCheck *sc, GError **error)
{
  PaConfig *c = sc->config;
  const char *cfg = c->path ? c->path : "config.yaml";

  /* Retried for a while: Synapse may still be starting. */
  g_autoptr (PaMatrixResponse) v = request (sc, "GET", "/_matrix/client/versions", NULL, 8);
  /* Synapse checks a token even there: an unknown one is told by whoami. */
  gboolean token_refused = g_strcmp0 (v->errcode, "M_UNKNOWN_TOKEN") == 0;
  if (!pa_matrix_response_ok (v) && !token_refused)
    {
      g_autofree char *why = describe (v);
      return fail (sc, error,
                   "the homeserver at %s does not answer /_matrix/client/versions (%s): check "
                   "homeserver.address in %s and that the homeserver is running",
                   c->hs_address, why, cfg);
    }
  g_autofree char *vtext = token_refused ? g_strdup ("versions not shown to an unknown token")
                                         : versions_text (v->body);
  report (sc, FINDING_OK, "homeserver %s reachable (%s)", c->hs_address, vtext);

  g_autoptr (PaMatrixResponse) w
      = request (sc, "GET", "/_matrix/client/v3/account/whoami", NULL, 3);
  if (!pa_matrix_response_ok (w))
    {
      g_autofree char *why = describe (w);
      if (g_strcmp0 (w->errcode, "M_UNKNOWN_TOKEN") == 0)
        return fail (sc, error,
                     "the homeserver does not know our as_token (%s): Synapse has not loaded "
                     "our registration; list the registration file under "
                     "app_service_config_files in homeserver.yaml and restart Synapse (write "
                     "it with passerelle -g -c %s -r registration.yaml; its as_token must be "
                     "appservice.as_token of %s)",
                     why, cfg, cfg);
      return fail (sc, error,
                   "whoami with our as_token failed (%s): is our registration listed "
                   "under app_service_config_files in homeserver.yaml?",
                   why);
    }
  const char *who = json_string_value (json_object_get (w->body, "user_id"));
  if (g_strcmp0 (who, sc->bot_mxid) != 0)
    return fail (sc, error,
                 "our as_token belongs to %s, not to %s: the registration's sender_localpart "
                 "must be appservice.bot.localpart (%s) and homeserver.domain (%s) the "
                 "homeserver's server_name",
                 who ? who : "nobody", sc->bot_mxid, c->bot_localpart, c->hs_domain);
  report (sc, FINDING_OK, "registration loaded: the homeserver takes our as_token for %s",
          sc->bot_mxid);
  return TRUE;
}

/* ------------------------------------------------------ the appservice */

/* The appservice ping: waited for with `out` (its response), else sent
 * and left to run. */
static void
ping (PaSelfCheck *sc, PaMatrixResponse **out)
{
  g_autofree char *esc = pa_matrix_escape (sc->config->as_id);
  g_autofree char *path = g_strdup_printf ("/_matrix/client/v1/appservice/%s/ping", esc);
  g_autoptr (json_t) body = json_pack ("{s:s}", "transaction_id", "passerelle-startup");
  PaMatrixRequest req
      = { .method = "POST", .path = path, .body = body, .max_attempts = 2, .timeout_s = 30 };
  if (out != NULL)
    *out = pa_matrix_request_sync (sc->mx, &req);
  else
    pa_matrix_request (sc->mx, &req, NULL, NULL);
}

static void
check_ping (PaSelfCheck *sc)
{
  PaConfig *c = sc->config;
  g_autoptr (PaMatrixResponse) r = NULL;
  ping (sc, &r);
  if (pa_matrix_response_ok (r))
    {
      sc->ping_ok = TRUE;
      report (sc, FINDING_OK,
              "appservice ping: the homeserver reached us at %s in %" JSON_INTEGER_FORMAT " ms",
              c->as_address, json_integer_value (json_object_get (r->body, "duration_ms")));
      return;
    }
  g_autofree char *why = describe (r);
  const char *code = r->errcode ? r->errcode : "";
  json_int_t status = json_integer_value (json_object_get (r->body, "status"));
  if (g_str_equal (code, "M_URL_NOT_SET"))
    report (sc, FINDING_WARN,
            "the homeserver has no address for us (%s): set the registration's url to %s "
            "(appservice.address) and restart Synapse",
            why, c->as_address);
  else if (g_str_equal (code, "M_BAD_STATUS") && (status == 401 || status == 403))
    report (sc, FINDING_WARN,
            "the homeserver reached us but with another hs_token (%s): the registration's "
            "hs_token must be appservice.hs_token of %s; restart Synapse after fixing it",
            why, c->path ? c->path : "config.yaml");
  else if (g_str_equal (code, "M_BAD_STATUS"))
    report (sc, FINDING_WARN,
            "the homeserver reached something else than this bridge at the registration's url "
            "(%s): the registration's url must be %s (appservice.address), where we listen on "
            "%s:%u",
            why, c->as_address, c->as_bind, c->as_port);
  else if (g_str_equal (code, "M_CONNECTION_FAILED") || g_str_equal (code, "M_CONNECTION_TIMEOUT"))
    report (sc, FINDING_WARN,
            "the homeserver cannot reach us (%s): the registration's url must be %s "
            "(appservice.address), reachable from Synapse, and we listen on %s:%u "
            "(appservice.bind, appservice.port); check firewalls and proxies between them",
            why, c->as_address, c->as_bind, c->as_port);
  else if (g_str_equal (code, "M_FORBIDDEN"))
    report (sc, FINDING_WARN,
            "the homeserver refused the appservice ping (%s): the registration's id must be "
            "appservice.id (%s)",
            why, c->as_id);
  else
    report (sc, FINDING_WARN,
            "appservice ping failed (%s): the homeserver may not reach us at %s (it needs "
            "Matrix v1.7's ping to tell)",
            why, c->as_address);
}

gboolean
pa_self_check_observe (PaSelfCheck *sc, PaTxn *txn)
{
  size_t i = 0;
  while (i < json_array_size (txn->to_device))
    {
      json_t *m = json_array_get (txn->to_device, i);
      const char *type = json_string_value (json_object_get (m, "type"));
      const char *nonce
          = json_string_value (json_object_get (json_object_get (m, "content"), "nonce"));
      if (g_strcmp0 (type, PROBE_TYPE) == 0)
        {
          if (g_strcmp0 (nonce, sc->nonce) == 0)
            {
              sc->probe_seen = TRUE;
              sc->probe_msc3202 = txn->otk_counts != NULL || txn->device_lists != NULL;
            }
          json_array_remove (txn->to_device, i);
          continue;
        }
      i++;
    }
  return json_array_size (txn->events) == 0 && json_array_size (txn->ephemeral) == 0
         && json_array_size (txn->to_device) == 0 && json_array_size (txn->rejected) == 0;
}

/* Sends the probe to-device message to the probe device, a new
 * transaction id each time; the first is waited for (FALSE with `why`
 * when refused), the others left to run. */
static gboolean
send_probe (PaSelfCheck *sc, guint n, char **why)
{
  g_autofree char *txn = g_strdup_printf ("selfcheck-%s-%u", sc->nonce, n);
  g_autofree char *path
      = g_strdup_printf ("/_matrix/client/v3/sendToDevice/%s/%s", PROBE_TYPE, txn);
  g_autoptr (json_t) body
      = json_pack ("{s:{s:{s:{s:s}}}}", "messages", sc->bot_mxid, PROBE_DEVICE, "nonce", sc->nonce);
  if (why == NULL)
    {
      PaMatrixRequest req
          = { .method = "PUT", .path = path, .body = body, .max_attempts = 3, .timeout_s = 30 };
      pa_matrix_request (sc->mx, &req, NULL, NULL);
      return TRUE;
    }
  g_autoptr (PaMatrixResponse) r = request (sc, "PUT", path, body, 3);
  if (pa_matrix_response_ok (r))
    return TRUE;
  *why = describe (r);
  return FALSE;
}

/* The probe came back, or PROBE_WAIT_S passed: MSC2409 and MSC3202's
 * findings, and the probe device deleted (waited for when the check
 * waits: --check exits right after). */
static void
probe_done (PaSelfCheck *sc)
{
  PaConfig *c = sc->config;
  sc->probe_pending = FALSE;
  if (sc->probe_seen)
    {
      report (sc, FINDING_OK, "to-device messages reach us in transactions (MSC2409)");
      if (sc->probe_msc3202)
        report (sc, FINDING_OK,
                "device lists and one-time key counts reach us in transactions "
                "(MSC3202)");
      else
        report (sc, FINDING_WARN,
                "transactions carry no device lists or one-time key counts (MSC3202): the bot "
                "does not see agents' new devices nor its keys running out; set "
                "experimental_features: msc3202_transaction_extensions: true in "
                "homeserver.yaml, keep org.matrix.msc3202: true in the registration, and "
                "restart Synapse");
    }
  else if (sc->refused > 0)
    report (sc, FINDING_WARN,
            "the to-device probe did not come back within %d s, behind %u transaction%s held "
            "for the bridge, which a check does not take: MSC2409 and MSC3202 are not known; "
            "start the bridge and read its start-up log",
            PROBE_WAIT_S, sc->refused, sc->refused == 1 ? "" : "s");
  else
    {
      g_autofree char *full = g_strdup_printf (
          "to-device messages do not reach us (MSC2409; the probe did not come back within "
          "%d s): no room key can arrive, so messages from encrypted rooms cannot be "
          "decrypted; set experimental_features: msc2409_to_device_messages_enabled: true "
          "(and msc3202_transaction_extensions: true) in homeserver.yaml, keep "
          "receive_ephemeral: true and de.sorunome.msc2409.push_ephemeral: true in the "
          "registration, and restart Synapse",
          PROBE_WAIT_S);
      if (c->encryption_require)
        fail (sc, &sc->refusal,
              "%s (encryption.require is on: the bridge does not start without it)", full);
      else
        report (sc, FINDING_WARN, "%s", full);
    }

  g_autofree char *bot = pa_matrix_escape (sc->bot_mxid);
  g_autofree char *dev_path
      = g_strdup_printf ("/_matrix/client/v3/devices/%s?user_id=%s", PROBE_DEVICE, bot);
  PaMatrixRequest req
      = { .method = "DELETE", .path = dev_path, .max_attempts = 2, .timeout_s = 30 };
  if (sc->wait)
    pa_matrix_response_free (pa_matrix_request_sync (sc->mx, &req));
  else
    pa_matrix_request (sc->mx, &req, NULL, NULL);
}

/* Every 2 s while the probe is out.  Synapse can strand what it queued
 * just as it finished sending a backlog (one an earlier run left, maybe a
 * --check's) until something new comes for the appservice: a ping and the
 * probe again make it send what it holds. */
static gboolean
probe_tick (gpointer data)
{
  PaSelfCheck *sc = data;
  sc->waited += 2;
  if (sc->probe_seen || sc->waited >= PROBE_WAIT_S)
    {
      sc->timer = 0;
      probe_done (sc);
      return G_SOURCE_REMOVE;
    }
  ping (sc, NULL);
  send_probe (sc, sc->waited, NULL);
  return G_SOURCE_CONTINUE;
}

static void
check_encryption (PaSelfCheck *sc)
{
  g_autofree char *bot = pa_matrix_escape (sc->bot_mxid);
  g_autofree char *dev_path
      = g_strdup_printf ("/_matrix/client/v3/devices/%s?user_id=%s", PROBE_DEVICE, bot);

  /* MSC4190: a device made for an appservice user. */
  g_autoptr (json_t) dev_body = json_pack ("{s:s}", "display_name", "Passerelle self-check");
  g_autoptr (PaMatrixResponse) d = request (sc, "PUT", dev_path, dev_body, 3);
  if (!pa_matrix_response_ok (d))
    {
      g_autofree char *why = describe (d);
      report (sc, FINDING_WARN,
              "the homeserver does not make devices for appservice users (MSC4190: PUT "
              "/devices answered %s): the bot's device logs in instead and ghosts have no "
              "devices of their own; a Synapse with MSC4190 does it, with "
              "io.element.msc4190: true in the registration; MSC2409 and MSC3202 were not "
              "checked (they are probed through that device)",
              why);
      return;
    }
  report (sc, FINDING_OK,
          "appservice device management (MSC4190): the homeserver makes our "
          "devices");

  /* Device masquerading: whoami as the probe device names it. */
  g_autofree char *who_path = g_strdup_printf ("/_matrix/client/v3/account/whoami?user_id=%s"
                                               "&device_id=%s",
                                               bot, PROBE_DEVICE);
  g_autoptr (PaMatrixResponse) w = request (sc, "GET", who_path, NULL, 3);
  const char *dev = pa_matrix_response_ok (w)
                        ? json_string_value (json_object_get (w->body, "device_id"))
                        : NULL;
  if (g_strcmp0 (dev, PROBE_DEVICE) == 0)
    report (sc, FINDING_OK, "device masquerading (MSC3202): our requests act as our devices");
  else
    {
      g_autofree char *why
          = pa_matrix_response_ok (w) ? g_strdup ("no device_id in whoami") : describe (w);
      report (sc, FINDING_WARN,
              "the homeserver ignores device_id on our requests (%s): the bot's keys cannot "
              "be uploaded as its device; set experimental_features: "
              "msc3202_device_masquerading: true in homeserver.yaml (Synapse before it was "
              "made standard) and restart Synapse",
              why);
    }

  /* MSC2409, and MSC3202's transaction extensions in the same transaction. */
  g_autofree char *why = NULL;
  if (!sc->ping_ok)
    report (sc, FINDING_WARN,
            "MSC2409 and MSC3202 not checked: they need the homeserver to "
            "reach us (see the ping above)");
  else if (!send_probe (sc, 0, &why))
    report (sc, FINDING_WARN,
            "could not send the to-device probe (%s): MSC2409 and MSC3202 were not checked", why);
  else
    {
      sc->probe_pending = TRUE;
      sc->timer = g_timeout_add_seconds (2, probe_tick, sc);
      while (sc->wait && sc->probe_pending)
        g_main_context_iteration (NULL, TRUE);
    }
}

gboolean
pa_self_check_appservice (PaSelfCheck *sc, gboolean wait, GError **error)
{
  sc->wait = wait;
  check_ping (sc);
  if (!sc->config->encryption_allow)
    {
      report (sc, FINDING_OK, "encryption.allow is off: MSC2409, MSC3202 and MSC4190 not needed");
      return TRUE;
    }
  check_encryption (sc);
  if (sc->refusal != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&sc->refusal));
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------- --check */

static gboolean
check_txn (const char *txn_id, PaTxn *txn, gpointer user_data, GError **error)
{
  PaSelfCheck *sc = user_data;
  if (pa_self_check_observe (sc, txn))
    return TRUE;
  /* Events for the bridge: refused, so the homeserver keeps them for it. */
  sc->refused++;
  g_set_error_literal (error, PA_ERROR, PA_ERROR_STORE,
                       "the bridge is stopped for a check: this transaction waits for it");
  return FALSE;
}

static void
check_user_query (const char *user_id, gpointer handle, gpointer user_data)
{
  pa_appservice_reply_query (handle, FALSE);
}

static void
check_alias_query (const char *alias, gpointer handle, gpointer user_data)
{
  pa_appservice_reply_query (handle, FALSE);
}

static json_t *
check_thirdparty (const char *kind, const char *protocol, json_t *query, gpointer user_data)
{
  return NULL;
}

static void
check_ping_received (gpointer user_data)
{
}

/* The bot exists before its devices do (the bridge registers it the same
 * way at each start). */
static void
register_bot (PaSelfCheck *sc)
{
  g_autoptr (json_t) reg = json_pack ("{s:s, s:s, s:b}", "type", "m.login.application_service",
                                      "username", sc->config->bot_localpart, "inhibit_login", 1);
  g_autoptr (PaMatrixResponse) r = request (sc, "POST", "/_matrix/client/v3/register", reg, 3);
  if (!pa_matrix_response_ok (r) && g_strcmp0 (r->errcode, "M_USER_IN_USE") != 0)
    {
      g_autofree char *why = describe (r);
      report (sc, FINDING_WARN, "could not register the bot %s (%s)", sc->bot_mxid, why);
    }
}

int
pa_self_check_main (PaConfig *config)
{
  if (config->as_token == NULL || config->hs_token == NULL)
    {
      printf ("error: appservice.as_token/hs_token missing in %s: run passerelle -g -c %s -r "
              "registration.yaml first\n",
              config->path ? config->path : "config", config->path ? config->path : "config.yaml");
      return 1;
    }
  curl_global_init (CURL_GLOBAL_DEFAULT);
  g_autoptr (PaMatrix) mx = pa_matrix_new (config->hs_address, config->as_token);
  g_autoptr (PaSelfCheck) sc = pa_self_check_new (config, mx, TRUE);
  PaAppserviceHandlers handlers = {
    .txn = check_txn,
    .user_query = check_user_query,
    .alias_query = check_alias_query,
    .thirdparty = check_thirdparty,
    .ping = check_ping_received,
  };
  g_autoptr (PaAppservice) as = pa_appservice_new (config->hs_token, config->max_body_bytes,
                                                   config->max_events_per_txn, &handlers, sc);
  g_autoptr (GError) error = NULL;
  int status = 1;
  if (!pa_appservice_listen (as, config->as_bind, config->as_port, &error))
    report (sc, FINDING_FAIL,
            "cannot listen on %s:%u (%s): stop the bridge before --check, or free the port",
            config->as_bind, config->as_port, error->message);
  else if (pa_self_check_homeserver (sc, &error))
    {
      register_bot (sc);
      if (pa_self_check_appservice (sc, TRUE, &error) && sc->problems == 0)
        status = 0;
    }
  printf ("%s\n", status == 0 ? "self-check passed" : "self-check found problems");
  g_clear_pointer (&as, pa_appservice_free);
  pa_matrix_cancel_all (mx);
  g_clear_pointer (&mx, pa_matrix_free);
  curl_global_cleanup ();
  return status;
}
