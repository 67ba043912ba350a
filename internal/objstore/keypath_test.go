package objstore

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodeKeyNames(t *testing.T) {
	cases := []struct {
		key  string
		want []string
	}{
		{"a", []string{"a.o"}},
		{"..", []string{"%2E%2E.o"}},
		{"a//b", []string{"a%2F%2Fb.o"}},
		{"/lead", []string{"%2Flead.o"}},
		{"Up.TXT", []string{"%55p%2E%54%58%54.o"}},
		{"é", []string{"%C3%A9.o"}},
		{strings.Repeat("x", 236), []string{strings.Repeat("x", 236) + ".o"}},
		{strings.Repeat("x", 237), []string{strings.Repeat("x", 237) + ".o"}},
		{strings.Repeat("x", 238), []string{strings.Repeat("x", 237) + ".d", "x.o"}},
		{strings.Repeat("x", 235) + "/y", []string{strings.Repeat("x", 235) + "%2F.d", "y.o"}},
	}
	for _, tc := range cases {
		got := encodeKey(tc.key)
		if !slices.Equal(got, tc.want) {
			t.Errorf("encodeKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

// checkEncoding asserts the properties the store relies on for one key.
func checkEncoding(t *testing.T, key string) {
	t.Helper()
	parts := encodeKey(key)
	var back strings.Builder
	for i, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\x00") || len(p) > 241 {
			t.Fatalf("key %q: unsafe name %q", key, p)
		}
		enc := p[:len(p)-2]
		for j := 0; j < len(enc); j++ {
			if enc[j] == '%' {
				j += 2
				continue
			}
			if !keptByte(enc[j]) {
				t.Fatalf("key %q: name %q holds %q unescaped", key, p, enc[j])
			}
		}
		seg, dir, ok := decodeName(p)
		if !ok || dir != (i < len(parts)-1) {
			t.Fatalf("key %q: decodeName(%q) = %q, %v, %v", key, p, seg, dir, ok)
		}
		back.WriteString(seg)
	}
	if back.String() != key {
		t.Fatalf("key %q decodes back to %q", key, back.String())
	}
}

func TestEncodeKeyRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		checkEncoding(t, randomKey(r, 1+r.IntN(MaxKeyLen)))
	}
	checkEncoding(t, strings.Repeat("\u00ff", MaxKeyLen/2))
	checkEncoding(t, strings.Repeat("/", MaxKeyLen))
}

// randomKey returns a UTF-8 key of about n bytes drawn from a small
// alphabet, so keys share prefixes and cross segment boundaries.
func randomKey(r *rand.Rand, n int) string {
	alphabet := []string{"a", "b", "/", ".", "Z", "é", "-", "%", " ", "\u4e16"}
	var b strings.Builder
	for b.Len() < n {
		s := alphabet[r.IntN(len(alphabet))]
		if b.Len()+len(s) > n {
			break
		}
		b.WriteString(s)
	}
	if b.Len() == 0 {
		return "a"
	}
	return b.String()
}

// treeLess orders two keys the way the lister visits their files.
func treeLess(a, b string) int {
	pa, pb := encodeKey(a), encodeKey(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		sa, da, _ := decodeName(pa[i])
		sb, db, _ := decodeName(pb[i])
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		if da != db {
			if db {
				return -1
			}
			return 1
		}
	}
	return len(pa) - len(pb)
}

func TestTreeOrderIsKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		n := 1 + r.IntN(600)
		a := randomKey(r, n)
		b := a
		switch r.IntN(3) {
		case 0:
			b = randomKey(r, 1+r.IntN(600))
		case 1:
			b = a[:r.IntN(len(a))] + randomKey(r, 1+r.IntN(300))
		case 2:
			b = a + randomKey(r, 1+r.IntN(300))
		}
		if !utf8.ValidString(b) {
			continue
		}
		want := strings.Compare(a, b)
		got := treeLess(a, b)
		if (want < 0) != (got < 0) || (want == 0) != (got == 0) {
			t.Fatalf("order of %q and %q: tree %d, bytes %d", a, b, got, want)
		}
	}
}

func TestValidBucketName(t *testing.T) {
	good := []string{"abc", "my-bucket", "my.bucket.1", "a1b", strings.Repeat("a", 63), "192.168.5"}
	bad := []string{"ab", strings.Repeat("a", 64), "My-Bucket", "-abc", "abc-", ".abc", "abc.", "a..b",
		"192.168.5.4", "my_bucket", "xn--abc", "sthree-x", "abc-s3alias", "a b", "abc/d", ".."}
	for _, n := range good {
		if !ValidBucketName(n) {
			t.Errorf("ValidBucketName(%q) = false, want true", n)
		}
	}
	for _, n := range bad {
		if ValidBucketName(n) {
			t.Errorf("ValidBucketName(%q) = true, want false", n)
		}
	}
}

func FuzzKeyEncoding(f *testing.F) {
	for _, s := range []string{"a", "..", "a/../x", "//", "/", strings.Repeat("é", 300), "%2F", "A.o"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if checkKey(key) != nil {
			return
		}
		checkEncoding(t, key)
		// Any name decodeName accepts must encode back to itself.
		for _, p := range encodeKey(key) {
			seg, _, _ := decodeName(p)
			parts := encodeKey(seg)
			if len(seg) < segLimit/3 && parts[0][:len(parts[0])-2] != p[:len(p)-2] {
				t.Fatalf("name %q is not canonical", p)
			}
		}
	})
}
