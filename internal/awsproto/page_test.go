package awsproto

import (
	"slices"
	"strings"
	"testing"
)

func TestPageWalksEveryItemOnce(t *testing.T) {
	all := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	var got []string
	token, pages := "", 0
	for {
		page, next, ok := Page(all, id, token, 2)
		if !ok {
			t.Fatalf("token %q refused", token)
		}
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		token = next
	}
	if !slices.Equal(got, all) || pages != 3 {
		t.Fatalf("walked %v in %d pages", got, pages)
	}
	// An item removed between pages is not a reason to repeat or skip.
	_, next, _ := Page(all, id, "", 2)
	page, _, _ := Page([]string{"a", "c", "d", "e"}, id, next, 2)
	if strings.Join(page, "") != "cd" {
		t.Errorf("after removing b, the second page is %v, want [c d]", page)
	}
	if _, _, ok := Page(all, id, "not base64!", 2); ok {
		t.Error("a malformed token was accepted")
	}
	if page, next, _ := Page(all, id, "", 0); len(page) != 5 || next != "" {
		t.Errorf("no limit gave %v and %q", page, next)
	}
}
