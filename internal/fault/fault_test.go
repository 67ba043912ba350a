package fault

import (
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	wrapped := fmt.Errorf("saving: %w", Errorf(Conflict, "it exists"))
	if got := KindOf(wrapped); got != Conflict {
		t.Errorf("KindOf(wrapped conflict) = %v, want conflict", got)
	}
	if got := KindOf(fmt.Errorf("queue: %w", Errorf(Unavailable, "no majority"))); got != Unavailable {
		t.Errorf("KindOf(wrapped unavailable) = %v, want unavailable", got)
	}
	if got := KindOf(fmt.Errorf("disk full")); got != Internal {
		t.Errorf("KindOf(plain error) = %v, want internal", got)
	}
	if got := KindOf(nil); got != Internal {
		t.Errorf("KindOf(nil) = %v, want internal", got)
	}
}

// TestKindNames: every kind has its own name, and one past the last
// says it is no kind.
func TestKindNames(t *testing.T) {
	for k, want := range map[Kind]string{Internal: "internal", Throttled: "throttled", Unavailable: "unavailable", Unavailable + 1: "kind 10"} {
		if s := k.String(); s != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, s, want)
		}
	}
}
