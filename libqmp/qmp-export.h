/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-export.h: what libqmp.so exports.
 *
 * The library is compiled with -fvisibility=hidden: a function is exported
 * only when declared between QMP_BEGIN_PUBLIC and QMP_END_PUBLIC, which
 * every public header (a header named qmp-*.h) puts right after
 * G_BEGIN_DECLS and right before G_END_DECLS.  The linker's version script
 * (install/gen-version-script.py) then exports exactly the qmp_* symbols
 * those headers name, versioned QMPKIT_1; install/libqmp.symbols lists
 * them and a test compares it with what libqmp.so.1 exports.
 */
#pragma once

#if defined(__GNUC__)
#define QMP_BEGIN_PUBLIC _Pragma("GCC visibility push(default)")
#define QMP_END_PUBLIC _Pragma("GCC visibility pop")
#else
#define QMP_BEGIN_PUBLIC
#define QMP_END_PUBLIC
#endif
