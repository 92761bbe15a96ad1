// SPDX-License-Identifier: AGPL-3.0-or-later

//go:build pa_cimport

// The export importer, written in C (wa-import.c), linked in by the meson
// build (CGO_LDFLAGS names its static library).  Without the pa_cimport tag
// (go vet, go test) the package builds without it.

package main

/*
#cgo CFLAGS: -I${SRCDIR}/.. -I${SRCDIR}/../../../include
#include "wa-import.h"
*/
import "C"

import (
	"unsafe"

	"passerelle/sdk/go/pasdk"
)

func init() { network.CImport = pasdk.CImportFunc(unsafe.Pointer(C.wa_import_file)) }
