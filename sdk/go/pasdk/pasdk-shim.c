/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pasdk-shim.c — the C half of the Go binding (see pasdk-shim.h): the entry
 * point, the PaNetwork and PaLoginOps trampolines into the exported Go
 * functions, and the calls through the host table.
 */
#include "pasdk-shim.h"

#include <string.h>

#include "_cgo_export.h"

PaHost *pasdk_host;
const PaHostApi *pasdk_api;
static PasdkCImport pasdk_cimport;

/* The PaHost a call goes through: a login's own (the one login_new got:
 * several logins may share the process), else the network's. */
#define HOST(h) ((h) != NULL ? (PaHost *) (h) : pasdk_host)

/* The one exported symbol.  The first call into Go waits for the Go runtime
 * and every init() of the plugin, so the descriptor Go builds sees the
 * whole Network. */
__attribute__ ((visibility ("default"))) const PaNetwork *
pa_plugin_get_network (void)
{
  return pasdkNetwork ();
}

static char *
pasdk_strdup (const char *s)
{
  size_t n = strlen (s) + 1;
  char *c = malloc (n);
  if (c != NULL)
    memcpy (c, s, n);
  return c;
}

/* ------------------------------------------------------------ network */

static bool
tr_init (PaHost *host, const PaHostApi *api, char **error)
{
  const char *why = NULL;
  if (api == NULL)
    why = "the host gave no API table";
  else if (api->abi_major != PA_PLUGIN_ABI_MAJOR)
    why = "the host speaks another plugin ABI major version";
  else if (!PA_HAS_MEMBER (api, PaHostApi, invoke))
    why = "the host API table is smaller than SDK 2.0's";
  if (why != NULL)
    {
      if (error != NULL)
        *error = pasdk_strdup (why);
      return false;
    }
  pasdk_host = host;
  pasdk_api = api;
  char *go_error = NULL;
  if (pasdkInit (&go_error))
    return true;
  if (error != NULL)
    *error = go_error;
  else
    free (go_error);
  pasdk_host = NULL;
  pasdk_api = NULL;
  return false;
}

static void
tr_shutdown (PaHost *host)
{
  pasdkShutdown ();
  pasdk_host = NULL;
  pasdk_api = NULL;
}

static PaLogin *
tr_login_new (PaHost *host, bool saved, char **error)
{
  char *go_error = NULL;
  uintptr_t h = pasdkLoginNew ((void *) host, saved, &go_error);
  if (h == 0)
    {
      if (error != NULL)
        *error = go_error != NULL ? go_error : pasdk_strdup ("the login could not be created");
      else
        free (go_error);
      return NULL;
    }
  PaLogin *login = malloc (sizeof *login);
  if (login == NULL)
    {
      pasdkLoginFree (h);
      if (error != NULL)
        *error = pasdk_strdup ("out of memory");
      return NULL;
    }
  login->handle = h;
  return login;
}

static char *
tr_normalize_id (PaIdKind kind, const char *id)
{
  return pasdkNormalizeID ((int) kind, (char *) id);
}

static bool
tr_import_file (PaHost *host, const char *path, const PaImportOptions *options, char **error)
{
  if (pasdk_api == NULL)
    {
      if (error != NULL)
        *error = pasdk_strdup ("the importer was not initialised");
      return false;
    }
  return pasdk_cimport (host, pasdk_api, path, options, error);
}

/* ------------------------------------------------------------ login ops */

static void
tr_login_free (PaLogin *login)
{
  pasdkLoginFree (login->handle);
  free (login);
}

static void
tr_login_start (PaLogin *login, const char *flow_id)
{
  pasdkLoginStart (login->handle, (char *) flow_id);
}

static void
tr_login_submit (PaLogin *login, const char *step_id, const char *const *ids,
                 const char *const *values, size_t n)
{
  pasdkLoginSubmit (login->handle, (char *) step_id, (char **) ids, (char **) values, n);
}

static void
tr_login_cancel (PaLogin *login)
{
  pasdkLoginCancel (login->handle);
}

static void
tr_connect (PaLogin *login)
{
  pasdkConnect (login->handle, true);
}

static void
tr_disconnect (PaLogin *login)
{
  pasdkConnect (login->handle, false);
}

static void
tr_logout (PaLogin *login, uint64_t op_id)
{
  pasdkLogout (login->handle, op_id);
}

static void
tr_event_persisted (PaLogin *login, uint64_t seq)
{
  pasdkEventPersisted (login->handle, seq);
}

static void
tr_send (PaLogin *login, uint64_t op_id, const char *chat_id, const PaContent *content,
         const char *txn_id)
{
  pasdkSend (login->handle, op_id, (char *) chat_id, (PaContent *) content, (char *) txn_id);
}

static void
tr_edit (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
         const PaContent *content)
{
  pasdkEdit (login->handle, op_id, (char *) chat_id, (char *) target_id, (PaContent *) content);
}

static void
tr_redact (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id)
{
  pasdkRedact (login->handle, op_id, (char *) chat_id, (char *) target_id);
}

static void
tr_react (PaLogin *login, uint64_t op_id, const char *chat_id, const char *target_id,
          const char *key, bool remove)
{
  pasdkReact (login->handle, op_id, (char *) chat_id, (char *) target_id, (char *) key, remove);
}

static void
tr_mark_read (PaLogin *login, uint64_t op_id, const char *chat_id, const char *message_id)
{
  pasdkMarkRead (login->handle, op_id, (char *) chat_id, (char *) message_id);
}

static void
tr_typing (PaLogin *login, uint64_t op_id, const char *chat_id, bool typing)
{
  pasdkTyping (login->handle, op_id, (char *) chat_id, typing);
}

static void
tr_set_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id, PaChatField field,
                  const char *value)
{
  pasdkSetChatInfo (login->handle, op_id, (char *) chat_id, (int) field, (char *) value);
}

static void
tr_set_membership (PaLogin *login, uint64_t op_id, const char *chat_id, const char *user_id,
                   bool join)
{
  pasdkSetMembership (login->handle, op_id, (char *) chat_id, (char *) user_id, join);
}

static void
tr_resolve_identifier (PaLogin *login, uint64_t op_id, const char *identifier, PaResolveMode mode)
{
  pasdkResolveIdentifier (login->handle, op_id, (char *) identifier, (int) mode);
}

static void
tr_list_contacts (PaLogin *login, uint64_t op_id)
{
  pasdkListContacts (login->handle, op_id);
}

static void
tr_create_dm (PaLogin *login, uint64_t op_id, const char *user_id)
{
  pasdkCreateDM (login->handle, op_id, (char *) user_id);
}

static void
tr_create_group (PaLogin *login, uint64_t op_id, const char *name, const char *const *user_ids,
                 size_t n)
{
  pasdkCreateGroup (login->handle, op_id, (char *) name, (char **) user_ids, n);
}

static void
tr_get_chat_info (PaLogin *login, uint64_t op_id, const char *chat_id)
{
  pasdkGetChatInfo (login->handle, op_id, (char *) chat_id);
}

static void
tr_get_user_info (PaLogin *login, uint64_t op_id, const char *user_id)
{
  pasdkGetUserInfo (login->handle, op_id, (char *) user_id);
}

static void
tr_fetch_history (PaLogin *login, uint64_t op_id, const char *chat_id, const char *cursor,
                  uint32_t count, bool forward)
{
  pasdkFetchHistory (login->handle, op_id, (char *) chat_id, (char *) cursor, count, forward);
}

void
pasdk_network_set_funcs (PaNetwork *net, uint32_t ops, bool has_login, bool has_normalize,
                         void *cimport)
{
  net->init = tr_init;
  net->shutdown = tr_shutdown;
  if (has_normalize)
    net->normalize_id = tr_normalize_id;
  if (cimport != NULL)
    {
      pasdk_cimport = (PasdkCImport) cimport;
      net->import_file = tr_import_file;
    }
  if (!has_login)
    return;
  PaLoginOps *o = calloc (1, sizeof *o);
  if (o == NULL)
    abort ();
  o->struct_size = sizeof *o;
  o->login_free = tr_login_free;
#define OP(bit, member, fn)                                                                        \
  if (ops & (bit))                                                                                 \
  o->member = fn
  OP (PASDK_OP_FLOWS, login_start, tr_login_start);
  OP (PASDK_OP_FLOWS, login_submit, tr_login_submit);
  OP (PASDK_OP_FLOWS, login_cancel, tr_login_cancel);
  OP (PASDK_OP_CONNECT, connect, tr_connect);
  OP (PASDK_OP_CONNECT, disconnect, tr_disconnect);
  OP (PASDK_OP_LOGOUT, logout, tr_logout);
  OP (PASDK_OP_PERSISTED, event_persisted, tr_event_persisted);
  OP (PASDK_OP_SEND, send, tr_send);
  OP (PASDK_OP_EDIT, edit, tr_edit);
  OP (PASDK_OP_REDACT, redact, tr_redact);
  OP (PASDK_OP_REACT, react, tr_react);
  OP (PASDK_OP_MARK_READ, mark_read, tr_mark_read);
  OP (PASDK_OP_TYPING, typing, tr_typing);
  OP (PASDK_OP_SET_CHAT_INFO, set_chat_info, tr_set_chat_info);
  OP (PASDK_OP_MEMBERSHIP, set_membership, tr_set_membership);
  OP (PASDK_OP_RESOLVE, resolve_identifier, tr_resolve_identifier);
  OP (PASDK_OP_LIST_CONTACTS, list_contacts, tr_list_contacts);
  OP (PASDK_OP_CREATE_DM, create_dm, tr_create_dm);
  OP (PASDK_OP_CREATE_GROUP, create_group, tr_create_group);
  OP (PASDK_OP_CHAT_INFO, get_chat_info, tr_get_chat_info);
  OP (PASDK_OP_USER_INFO, get_user_info, tr_get_user_info);
  OP (PASDK_OP_FETCH_HISTORY, fetch_history, tr_fetch_history);
#undef OP
  net->login_new = tr_login_new;
  net->login_ops = o;
}

/* ------------------------------------------------------------ host table */

void
pasdk_call_log (void *host, PaLogLevel level, const char *message)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->log != NULL)
    api->log (HOST (host), level, message);
}

uint64_t
pasdk_call_emit (void *host, const PaEvent *event)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->emit != NULL ? api->emit (HOST (host), event) : 0;
}

const char *
pasdk_call_data_dir (void *host)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->data_dir != NULL ? api->data_dir (HOST (host)) : NULL;
}

int64_t
pasdk_call_budget_left (void *host)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->budget_left != NULL ? api->budget_left (HOST (host)) : -1;
}

void
pasdk_call_login_step (void *host, const PaLoginStep *step)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->login_step != NULL)
    api->login_step (HOST (host), step);
}

void
pasdk_call_login_state (void *host, PaLoginState state, const char *message)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->login_state != NULL)
    api->login_state (HOST (host), state, message);
}

void
pasdk_call_op_result (void *host, uint64_t op_id, const PaOpResult *result)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->op_result != NULL)
    api->op_result (HOST (host), op_id, result);
}

void
pasdk_call_op_contact (void *host, uint64_t op_id, const PaMember *contact)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->op_contact != NULL)
    api->op_contact (HOST (host), op_id, contact);
}

void
pasdk_call_notice (void *host, const char *text)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->notice != NULL)
    api->notice (HOST (host), text);
}

void
pasdk_call_meta_set (void *host, PaMetaScope scope, const char *id, const char *value)
{
  const PaHostApi *api = pasdk_api;
  if (api != NULL && api->meta_set != NULL)
    api->meta_set (HOST (host), scope, id, value);
}

char *
pasdk_call_meta_get (void *host, PaMetaScope scope, const char *id)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->meta_get != NULL ? api->meta_get (HOST (host), scope, id) : NULL;
}

const char *
pasdk_call_config_string (void *host, const char *key)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->config_string != NULL ? api->config_string (HOST (host), key) : NULL;
}

int64_t
pasdk_call_config_int (void *host, const char *key)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->config_int != NULL ? api->config_int (HOST (host), key) : 0;
}

bool
pasdk_call_config_bool (void *host, const char *key)
{
  const PaHostApi *api = pasdk_api;
  return api != NULL && api->config_bool != NULL && api->config_bool (HOST (host), key);
}

int
pasdk_call_secret_store (void *host, const char *name, const void *data, size_t len)
{
  const PaHostApi *api = pasdk_api;
  if (!PA_HAS_MEMBER (api, PaHostApi, secret_store) || api->secret_store == NULL)
    return -1;
  return api->secret_store (HOST (host), name, data, len) ? 1 : 0;
}

void *
pasdk_call_secret_load (void *host, const char *name, size_t *len, bool *supported)
{
  const PaHostApi *api = pasdk_api;
  *supported = PA_HAS_MEMBER (api, PaHostApi, secret_load) && api->secret_load != NULL;
  if (!*supported)
    return NULL;
  return api->secret_load (HOST (host), name, len);
}

static void
tr_invoke (void *user_data)
{
  pasdkRunInvoke ();
}

bool
pasdk_call_invoke (void *host)
{
  const PaHostApi *api = pasdk_api;
  if (api == NULL || api->invoke == NULL)
    return false;
  api->invoke (HOST (host), tr_invoke, NULL);
  return true;
}
