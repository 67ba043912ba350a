//go:build !linux

package objstore

import "os"

// startWriteback does nothing where the kernel offers no way to start
// writeback early; fsync does all the work.
func startWriteback(f *os.File, off, n int64) {}
