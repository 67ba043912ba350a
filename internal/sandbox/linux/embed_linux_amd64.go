//go:build linux && amd64 && !aloft_sandbox_init

package linux

import _ "embed"

// initGz is the gzipped init program (initbin) for linux/amd64, built
// with the tag aloft_sandbox_init, under which it holds no copy of itself.
//
//go:embed initbin/init.gz
var initGz []byte
