/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-notify.h — see purple-notify.c.
 */
#ifndef PASSERELLE_PURPLE_NOTIFY_H
#define PASSERELLE_PURPLE_NOTIFY_H

#include "purple-common.h"

extern PurpleNotifyUiOps pp_notify_ops;

#endif /* PASSERELLE_PURPLE_NOTIFY_H */
