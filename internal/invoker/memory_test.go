package invoker

import "testing"

func TestDefaultIdleMemory(t *testing.T) {
	mb, err := DefaultIdleMemory()
	if err != nil || mb <= 0 {
		t.Fatalf("DefaultIdleMemory: %d MB, %v", mb, err)
	}
}
