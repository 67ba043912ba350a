package objstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// refList is the listing rule written plainly over a sorted key list.
func refList(keys []string, o ListOptions) ListResult {
	max := o.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	var res ListResult
	count := 0
	lastCP := ""
	for _, k := range keys {
		if k <= o.After || !strings.HasPrefix(k, o.Prefix) {
			continue
		}
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				cp := k[:len(o.Prefix)+i+len(o.Delimiter)]
				if cp <= o.After || cp == lastCP {
					continue
				}
				if count == max {
					res.IsTruncated = true
					return res
				}
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.NextMarker, lastCP = cp, cp
				count++
				continue
			}
		}
		if count == max {
			res.IsTruncated = true
			return res
		}
		res.Objects = append(res.Objects, ObjectInfo{Key: k})
		res.NextMarker = k
		count++
	}
	return res
}

func keysOf(objs []ObjectInfo) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func sameResult(t *testing.T, what string, got, want ListResult) {
	t.Helper()
	if !slices.Equal(keysOf(got.Objects), keysOf(want.Objects)) || !slices.Equal(got.CommonPrefixes, want.CommonPrefixes) ||
		got.IsTruncated != want.IsTruncated || got.NextMarker != want.NextMarker {
		t.Fatalf("%s:\n got keys %q prefixes %q truncated %v next %q\nwant keys %q prefixes %q truncated %v next %q", what,
			keysOf(got.Objects), got.CommonPrefixes, got.IsTruncated, got.NextMarker,
			keysOf(want.Objects), want.CommonPrefixes, want.IsTruncated, want.NextMarker)
	}
}

func TestListMatchesReference(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	r := rand.New(rand.NewPCG(7, 8))
	set := map[string]bool{}
	long := strings.Repeat("p", 240)
	for len(set) < 400 {
		var k string
		switch r.IntN(4) {
		case 0:
			k = randomKey(r, 1+r.IntN(12))
		case 1:
			k = long + randomKey(r, 1+r.IntN(10))
		case 2:
			k = randomKey(r, 230+r.IntN(20))
		default:
			k = "dir/" + randomKey(r, 1+r.IntN(8))
		}
		set[k] = true
	}
	set[long] = true
	set[long[:237]] = true
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
		put(t, d, "bkt", k, k)
	}
	slices.Sort(keys)

	opts := []ListOptions{
		{},
		{MaxKeys: 7},
		{Delimiter: "/"},
		{Delimiter: "/", MaxKeys: 3},
		{Prefix: "dir/"},
		{Prefix: "dir/", Delimiter: "/", MaxKeys: 2},
		{Prefix: long[:100], MaxKeys: 5},
		{Prefix: long, Delimiter: "a", MaxKeys: 4},
		{Delimiter: "é", MaxKeys: 9},
		{Delimiter: "ab", MaxKeys: 11},
		{Prefix: "a", Delimiter: "/", MaxKeys: 1},
		{After: "b", MaxKeys: 13},
		{After: long[:200], MaxKeys: 13},
		{After: "dir/", Delimiter: "/"},
		{Prefix: "nothing-here"},
	}
	for i := range 10 {
		opts = append(opts, ListOptions{After: keys[r.IntN(len(keys))], Delimiter: []string{"", "/", "b"}[i%3], MaxKeys: 1 + r.IntN(20)})
	}
	for _, o := range opts {
		// Page through to the end, comparing every page.
		for page := 0; ; page++ {
			got, err := d.ListObjects(ctx, "bkt", o)
			if err != nil {
				t.Fatal(err)
			}
			sameResult(t, fmt.Sprintf("%+v page %d", o, page), got, refList(keys, o))
			for _, obj := range got.Objects {
				if obj.ETag != md5hex(obj.Key) || obj.Size != int64(len(obj.Key)) {
					t.Fatalf("key %q listed with %+v", obj.Key, obj)
				}
			}
			if !got.IsTruncated {
				break
			}
			o.After = got.NextMarker
		}
	}
}

func TestListMoreThanAPage(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "bkt")
	const n = 2500
	var want []string
	for i := range n {
		k := fmt.Sprintf("k/%05d", i)
		want = append(want, k)
		put(t, d, "bkt", k, "")
	}
	var got []string
	pages := 0
	o := ListOptions{}
	for {
		res, err := d.ListObjects(ctx, "bkt", o)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(res.Objects) > MaxListKeys {
			t.Fatalf("page of %d", len(res.Objects))
		}
		got = append(got, keysOf(res.Objects)...)
		if !res.IsTruncated {
			break
		}
		o.After = res.NextMarker
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d pages, %d keys (first %q)", pages, len(got), got[:3])
	}
	res, err := d.ListObjects(ctx, "bkt", ListOptions{Delimiter: "/"})
	if err != nil || len(res.Objects) != 0 || !slices.Equal(res.CommonPrefixes, []string{"k/"}) || res.IsTruncated {
		t.Fatalf("delimited: %+v, %v", res, err)
	}
}
