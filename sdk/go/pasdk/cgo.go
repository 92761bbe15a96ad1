// SPDX-License-Identifier: AGPL-3.0-or-later

// The cgo flags of the package: the SDK header from the source tree, so a
// plain `go build` or `go test` finds it.

package pasdk

// #cgo CFLAGS: -I${SRCDIR}/../../../include
import "C"
