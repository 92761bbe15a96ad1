// SPDX-License-Identifier: AGPL-3.0-or-later

// olvid.so is a c-shared library: its main is never called, the worker
// enters it through pa_plugin_get_network.

package main

func main() {}
