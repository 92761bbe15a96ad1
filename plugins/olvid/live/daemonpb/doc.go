// SPDX-License-Identifier: AGPL-3.0-or-later

// Package daemonpb is the Go code generated from the Olvid plugin's own .proto
// files (plugins/olvid/proto) at build time.  The generated files are never in
// the source tree: meson writes them into the build directory with an overlay
// file that `go build`, `go vet` and `go test` take with -overlay
// (docs/olvid.md, "Build and wire format").
package daemonpb
