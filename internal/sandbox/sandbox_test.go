package sandbox

import (
	"errors"
	"syscall"
	"testing"
)

func TestRetryTextBusy(t *testing.T) {
	calls := 0
	err := RetryTextBusy(func() error {
		if calls++; calls < 3 {
			return syscall.ETXTBSY
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("busy twice: %v after %d calls, want success after 3", err, calls)
	}
	calls = 0
	err = RetryTextBusy(func() error { calls++; return syscall.ETXTBSY })
	if !errors.Is(err, syscall.ETXTBSY) || calls < 2 || calls > 10 {
		t.Fatalf("always busy: %v after %d calls, want ETXTBSY after a few", err, calls)
	}
	calls = 0
	err = RetryTextBusy(func() error { calls++; return syscall.ENOENT })
	if !errors.Is(err, syscall.ENOENT) || calls != 1 {
		t.Fatalf("other error: %v after %d calls, want it at once", err, calls)
	}
}
