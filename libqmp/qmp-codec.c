/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qmp-codec.c: the table-driven runtime (work in progress). */
#include "qmp-type-info.h"
