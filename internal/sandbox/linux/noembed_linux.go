//go:build linux && (!amd64 || aloft_sandbox_init)

package linux

// initGz is empty in the init program itself, and on architectures for
// which no init program is embedded: the driver re-executes the server.
var initGz []byte
