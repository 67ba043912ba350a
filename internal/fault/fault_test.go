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
	if got := KindOf(fmt.Errorf("disk full")); got != Internal {
		t.Errorf("KindOf(plain error) = %v, want internal", got)
	}
	if got := KindOf(nil); got != Internal {
		t.Errorf("KindOf(nil) = %v, want internal", got)
	}
	if s := Throttled.String(); s != "throttled" {
		t.Errorf("Throttled.String() = %q", s)
	}
}
