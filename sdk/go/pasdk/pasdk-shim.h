/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * pasdk-shim.h — the C half of the Go binding of the plugin SDK: the
 * trampolines that PaNetwork and PaLoginOps point at (they call the Go
 * functions exported by this package), and small wrappers that call through
 * the host's function pointers, which Go cannot call itself.
 *
 * Only declarations: cgo includes this header in every C file it generates.
 */
#ifndef PASDK_SHIM_H
#define PASDK_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "passerelle/plugin.h"

/* A Go login: a cgo.Handle of its Login value, in C memory. */
struct PaLogin
{
  uintptr_t handle;
};

/* Which PaLoginOps members a network's logins implement (pasdk_network_new). */
enum
{
  PASDK_OP_FLOWS = 1u << 0,   /* login_start, login_submit, login_cancel */
  PASDK_OP_CONNECT = 1u << 1, /* connect, disconnect */
  PASDK_OP_LOGOUT = 1u << 2,
  PASDK_OP_PERSISTED = 1u << 3,
  PASDK_OP_SEND = 1u << 4,
  PASDK_OP_EDIT = 1u << 5,
  PASDK_OP_REDACT = 1u << 6,
  PASDK_OP_REACT = 1u << 7,
  PASDK_OP_MARK_READ = 1u << 8,
  PASDK_OP_TYPING = 1u << 9,
  PASDK_OP_SET_CHAT_INFO = 1u << 10,
  PASDK_OP_MEMBERSHIP = 1u << 11,
  PASDK_OP_RESOLVE = 1u << 12,
  PASDK_OP_LIST_CONTACTS = 1u << 13,
  PASDK_OP_CREATE_DM = 1u << 14,
  PASDK_OP_CREATE_GROUP = 1u << 15,
  PASDK_OP_CHAT_INFO = 1u << 16,
  PASDK_OP_USER_INFO = 1u << 17,
  PASDK_OP_FETCH_HISTORY = 1u << 18,
};

/* The C importer a network may link (Network.CImport). */
typedef bool (*PasdkCImport) (PaHost *host, const PaHostApi *api, const char *path,
                              const PaImportOptions *options, char **error);

/* The host and table network->init got; NULL before init and after shutdown. */
extern PaHost *pasdk_host;
extern const PaHostApi *pasdk_api;

/* Sets the function pointers of a PaNetwork Go filled (a PaLoginOps with the
 * members `ops` names when `has_login`). */
void pasdk_network_set_funcs (PaNetwork *net, uint32_t ops, bool has_login, bool has_normalize,
                              void *cimport);

/* The host table, called from Go.  Each checks the table is there.  `host`:
 * the login's PaHost, or NULL for the one network->init got. */
void pasdk_call_log (void *host, PaLogLevel level, const char *message);
uint64_t pasdk_call_emit (void *host, const PaEvent *event);
const char *pasdk_call_data_dir (void *host);
int64_t pasdk_call_budget_left (void *host);
void pasdk_call_login_step (void *host, const PaLoginStep *step);
void pasdk_call_login_state (void *host, PaLoginState state, const char *message);
void pasdk_call_op_result (void *host, uint64_t op_id, const PaOpResult *result);
void pasdk_call_op_contact (void *host, uint64_t op_id, const PaMember *contact);
void pasdk_call_notice (void *host, const char *text);
void pasdk_call_meta_set (void *host, PaMetaScope scope, const char *id, const char *value);
char *pasdk_call_meta_get (void *host, PaMetaScope scope, const char *id);
const char *pasdk_call_config_string (void *host, const char *key);
int64_t pasdk_call_config_int (void *host, const char *key);
bool pasdk_call_config_bool (void *host, const char *key);
/* -1: the host has no secret store (ABI 2.0), else 0/1. */
int pasdk_call_secret_store (void *host, const char *name, const void *data, size_t len);
void *pasdk_call_secret_load (void *host, const char *name, size_t *len, bool *supported);
/* Asks the host to run the next queued Go function on the main thread. */
bool pasdk_call_invoke (void *host);

#endif
