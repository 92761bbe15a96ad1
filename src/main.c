/* SPDX-License-Identifier: AGPL-3.0-or-later */
#include "pa-common.h"
int
main (int argc, char **argv)
{
  return 0;
}
