package linux

import "testing"

func TestOwnedBy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		owner int
		want  bool
	}{
		{"abc123-4242-7", 4242, true},
		{"prestarted-4242-10", 4242, true},
		{"abc123-42421-7", 4242, false},
		{"abc123-14242-7", 4242, false},
		{"abc-123-4242-7", 4242, true},
		{"4242-7", 4242, false},
		{"instance", 4242, false},
		{"frozen-sentinel", 4242, false},
	} {
		if got := ownedBy(tc.name, tc.owner); got != tc.want {
			t.Errorf("ownedBy(%q, %d) = %v, want %v", tc.name, tc.owner, got, tc.want)
		}
	}
}
