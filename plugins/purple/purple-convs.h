/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * purple-convs.h — see purple-convs.c.
 */
#ifndef PASSERELLE_PURPLE_CONVS_H
#define PASSERELLE_PURPLE_CONVS_H

#include "purple-common.h"

extern PurpleConversationUiOps pp_conv_ops;

#endif /* PASSERELLE_PURPLE_CONVS_H */
