package mappings

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aloft-dev/aloft/internal/item"
)

// TestIteratorAge keeps a stream mapping's iterator age and says once
// in the log when it falls behind and when it catches up.
func TestIteratorAge(t *testing.T) {
	var logged bytes.Buffer
	s := &Service{log: slog.New(slog.NewTextHandler(&logged, nil))}
	m := Mapping{UUID: "m1", FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f"}
	if _, ok := s.IteratorAge("m1"); ok {
		t.Fatal("an age before any record was read")
	}
	steps := []struct {
		age  time.Duration
		logs string
	}{
		{2 * time.Second, ""},
		{90 * time.Second, "falling behind"},
		{95 * time.Second, ""},
		{time.Second, "caught up"},
		{time.Second, ""},
	}
	for _, st := range steps {
		logged.Reset()
		s.observeAge(m, st.age)
		if got, ok := s.IteratorAge("m1"); !ok || got != st.age {
			t.Fatalf("IteratorAge = %v, %v after observing %v", got, ok, st.age)
		}
		if st.logs == "" && logged.Len() > 0 || !strings.Contains(logged.String(), st.logs) {
			t.Fatalf("after %v the log says %q, want %q", st.age, logged.String(), st.logs)
		}
	}
}

// TestLanes deals items to lanes by key: always the same lane for one
// key, and every lane used.
func TestLanes(t *testing.T) {
	used := map[int]bool{}
	for i := range 100 {
		keys := item.Item{"id": {Kind: item.S, Str: fmt.Sprintf("k%d", i)}}
		l := laneOf(keys, 4)
		if l < 0 || l >= 4 || laneOf(keys.Clone(), 4) != l {
			t.Fatalf("lane %d for %v", l, keys)
		}
		used[l] = true
	}
	if len(used) != 4 {
		t.Fatalf("100 keys used lanes %v", used)
	}
}

// TestIteratorAgeObserved hands each round's iterator age, with the
// mapping's function, to Deps.IteratorAge.
func TestIteratorAgeObserved(t *testing.T) {
	type seen struct {
		arn string
		age time.Duration
	}
	var got []seen
	s := &Service{log: slog.New(slog.DiscardHandler), d: Deps{IteratorAge: func(arn string, age time.Duration) { got = append(got, seen{arn, age}) }}}
	m := Mapping{UUID: "m1", FunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:f:live"}
	s.observeAge(m, 3*time.Second)
	s.observeAge(m, time.Second)
	if len(got) != 2 || got[0] != (seen{m.FunctionArn, 3 * time.Second}) || got[1].age != time.Second {
		t.Fatalf("observed %v", got)
	}
}
