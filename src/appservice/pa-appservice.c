/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* placeholder: being written */
#include "pa-common.h"
