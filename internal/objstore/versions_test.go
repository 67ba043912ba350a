package objstore

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// versionsOf lists every version of bucket as "key:content-or-marker"
// strings, newest first per key, reading each version's content.
func versionsOf(t *testing.T, d *Disk, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	l, err := d.ListVersions(ctx, bucket, VersionListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range l.Versions {
		s := v.Key + ":"
		if v.DeleteMarker {
			s += "<marker>"
		} else {
			o, err := d.OpenVersion(ctx, bucket, v.Key, s3ID(v.VersionID))
			if err != nil {
				t.Fatalf("open %s %s: %v", v.Key, v.VersionID, err)
			}
			r, _ := o.Range(0, -1)
			b, _ := io.ReadAll(r)
			o.Close()
			s += string(b)
		}
		if v.IsLatest {
			s += "*"
		}
		out = append(out, s)
	}
	return out
}

func TestVersioningEnabled(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "vbk")
	put(t, d, "vbk", "k", "before") // the null version, from before versioning
	if err := d.PutVersioning(ctx, "vbk", "On"); !errors.Is(err, ErrInvalidVersioning) {
		t.Fatalf("bad status: %v", err)
	}
	if err := d.PutVersioning(ctx, "vbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, d, "vbk", "k", "one")
	v2 := put(t, d, "vbk", "k", "two")
	if v1.VersionID == "" || v2.VersionID == "" || v1.VersionID == v2.VersionID || !ValidVersionID(v1.VersionID) {
		t.Fatalf("version ids %q %q", v1.VersionID, v2.VersionID)
	}
	if got, want := versionsOf(t, d, "vbk"), []string{"k:two*", "k:one", "k:before"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	if body, _ := read(t, d, "vbk", "k"); body != "two" {
		t.Fatalf("current %q", body)
	}
	// A delete makes a marker; the key reads as missing, its versions stay.
	del, err := d.DeleteObject(ctx, "vbk", "k")
	if err != nil || !del.DeleteMarker || del.VersionID == "" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	var me *MarkerError
	if _, err := d.HeadObject(ctx, "vbk", "k"); !errors.Is(err, ErrNoSuchKey) || !errors.As(err, &me) || me.VersionID != del.VersionID || !me.Current {
		t.Fatalf("head after delete: %v", err)
	}
	if _, err := d.HeadVersion(ctx, "vbk", "k", del.VersionID); !errors.Is(err, ErrIsDeleteMarker) {
		t.Fatalf("head marker by id: %v", err)
	}
	if l, _ := d.ListObjects(ctx, "vbk", ListOptions{}); len(l.Objects) != 0 {
		t.Fatalf("a deleted key is listed: %+v", l.Objects)
	}
	if err := d.DeleteBucket(ctx, "vbk"); !errors.Is(err, ErrBucketNotEmpty) {
		t.Fatalf("delete bucket with versions: %v", err)
	}
	// Removing the marker brings back "two"; removing "two" by id, "one".
	if got, err := d.DeleteVersion(ctx, "vbk", "k", del.VersionID); err != nil || !got.DeleteMarker {
		t.Fatalf("delete marker: %+v %v", got, err)
	}
	if body, _ := read(t, d, "vbk", "k"); body != "two" {
		t.Fatalf("after removing the marker %q", body)
	}
	if _, err := d.DeleteVersion(ctx, "vbk", "k", v2.VersionID); err != nil {
		t.Fatal(err)
	}
	if body, info := read(t, d, "vbk", "k"); body != "one" || info.VersionID != v1.VersionID {
		t.Fatalf("after removing two: %q %+v", body, info)
	}
	// A noncurrent version by id; an id that is not there; a bad one.
	if _, err := d.DeleteVersion(ctx, "vbk", "k", NullVersion); err != nil {
		t.Fatal(err)
	}
	if got, want := versionsOf(t, d, "vbk"), []string{"k:one*"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	if got, err := d.DeleteVersion(ctx, "vbk", "k", v2.VersionID); err != nil || got.Existed {
		t.Fatalf("delete gone version: %+v %v", got, err)
	}
	if _, err := d.DeleteVersion(ctx, "vbk", "k", "../../x"); !errors.Is(err, ErrInvalidVersion) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := d.OpenVersion(ctx, "vbk", "k", v2.VersionID); !errors.Is(err, ErrNoSuchVersion) {
		t.Fatalf("open gone version: %v", err)
	}
	// The last version goes: the key and its directories go too.
	if _, err := d.DeleteVersion(ctx, "vbk", "k", v1.VersionID); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteBucket(ctx, "vbk"); err != nil {
		t.Fatalf("empty bucket: %v", err)
	}
}

func TestVersioningSuspended(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "sbk")
	if err := d.PutVersioning(ctx, "sbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	put(t, d, "sbk", "k", "a")
	if err := d.PutVersioning(ctx, "sbk", VersioningSuspended); err != nil {
		t.Fatal(err)
	}
	if v := put(t, d, "sbk", "k", "b"); v.VersionID != "" {
		t.Fatalf("suspended write has version %q", v.VersionID)
	}
	put(t, d, "sbk", "k", "c") // replaces the null version b
	if got, want := versionsOf(t, d, "sbk"), []string{"k:c*", "k:a"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	// A delete makes a null marker, which replaces the null version c.
	if del, err := d.DeleteObject(ctx, "sbk", "k"); err != nil || !del.DeleteMarker || del.VersionID != "" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if got, want := versionsOf(t, d, "sbk"), []string{"k:<marker>*", "k:a"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	// Enabled again: a new version keeps the null marker as noncurrent.
	if err := d.PutVersioning(ctx, "sbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	put(t, d, "sbk", "k", "d")
	if got, want := versionsOf(t, d, "sbk"), []string{"k:d*", "k:<marker>", "k:a"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
}

func TestVersionListingPagesAndPrefixes(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "lbk")
	if err := d.PutVersioning(ctx, "lbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "dir/x", "gone/y"} {
		put(t, d, "lbk", k, k+"1")
		put(t, d, "lbk", k, k+"2")
	}
	if _, err := d.DeleteObject(ctx, "lbk", "gone/y"); err != nil {
		t.Fatal(err)
	}
	all := versionsOf(t, d, "lbk")
	if want := []string{"a:a2*", "a:a1", "b:b2*", "b:b1", "dir/x:dir/x2*", "dir/x:dir/x1", "gone/y:<marker>*", "gone/y:gone/y2", "gone/y:gone/y1"}; !slices.Equal(all, want) {
		t.Fatalf("versions %v, want %v", all, want)
	}
	// Pages of every size give the same sequence.
	for size := 1; size <= 4; size++ {
		var got []string
		opts := VersionListOptions{MaxKeys: size}
		for range 20 {
			l, err := d.ListVersions(ctx, "lbk", opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range l.Versions {
				got = append(got, v.Key+"/"+v.VersionID)
			}
			if len(l.Versions) > size {
				t.Fatalf("page of %d has %d", size, len(l.Versions))
			}
			if !l.IsTruncated {
				break
			}
			opts.KeyMarker, opts.VersionIDMarker = l.NextKeyMarker, l.NextVersionIDMarker
		}
		if len(got) != len(all) {
			t.Fatalf("pages of %d gave %d versions, want %d: %v", size, len(got), len(all), got)
		}
	}
	// Delimiter: prefixes roll up in both listings, but ListObjects hides
	// one whose keys are all deleted.
	l, err := d.ListVersions(ctx, "lbk", VersionListOptions{Delimiter: "/"})
	if err != nil || !slices.Equal(l.CommonPrefixes, []string{"dir/", "gone/"}) {
		t.Fatalf("version prefixes %v %v", l.CommonPrefixes, err)
	}
	o, err := d.ListObjects(ctx, "lbk", ListOptions{Delimiter: "/"})
	if err != nil || !slices.Equal(o.CommonPrefixes, []string{"dir/"}) || len(o.Objects) != 2 {
		t.Fatalf("object prefixes %v objects %d %v", o.CommonPrefixes, len(o.Objects), err)
	}
}

func TestVersionTagsAndCopySource(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "tbk")
	if err := d.PutVersioning(ctx, "tbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	v1 := put(t, d, "tbk", "k", "old")
	put(t, d, "tbk", "k", "new")
	if err := d.PutVersionTags(ctx, "tbk", "k", v1.VersionID, map[string]string{"t": "1"}); err != nil {
		t.Fatal(err)
	}
	if info, err := d.HeadVersion(ctx, "tbk", "k", v1.VersionID); err != nil || info.Tags["t"] != "1" {
		t.Fatalf("tags of old version: %+v %v", info.Tags, err)
	}
	if info, _ := d.HeadObject(ctx, "tbk", "k"); len(info.Tags) != 0 {
		t.Fatalf("current version got the tags: %v", info.Tags)
	}
	cp, err := d.CopyObject(WithCopySourceVersion(ctx, v1.VersionID), "tbk", "k", "tbk", "copy", nil)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := read(t, d, "tbk", "copy"); body != "old" || cp.VersionID == "" {
		t.Fatalf("copy of old version: %q %+v", body, cp)
	}
}

// A crash between keeping the current version and replacing it leaves
// the version linked twice; it is listed once and kept once.
func TestVersionCrashLeftover(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "cbk")
	if err := d.PutVersioning(ctx, "cbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	put(t, d, "cbk", "k", "one")
	v2 := put(t, d, "cbk", "k", "two")
	path := d.objectPath("cbk", "k")
	vdir := versionsPath(path)
	if err := os.Link(path, filepath.Join(vdir, d.seq.next()+"-"+v2.VersionID)); err != nil {
		t.Fatal(err)
	}
	if got, want := versionsOf(t, d, "cbk"), []string{"k:two*", "k:one"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	put(t, d, "cbk", "k", "three")
	if got, want := versionsOf(t, d, "cbk"), []string{"k:three*", "k:two", "k:one"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
}

func TestVersionConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "wbk")
	if err := d.PutVersioning(ctx, "wbk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make(chan string, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				if i == 3 {
					del, err := d.DeleteObject(ctx, "wbk", "k")
					if err != nil {
						t.Error(err)
					}
					ids <- del.VersionID
					continue
				}
				info, err := d.PutObject(ctx, "wbk", "k", strings.NewReader(strings.Repeat("x", w+i)), PutOptions{})
				if err != nil {
					t.Error(err)
				}
				ids <- info.VersionID
			}
		}()
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	l, err := d.ListVersions(ctx, "wbk", VersionListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Versions) != 48 || len(want) != 48 {
		t.Fatalf("%d versions listed, %d made", len(l.Versions), len(want))
	}
	for i, v := range l.Versions {
		if !want[v.VersionID] || v.IsLatest != (i == 0) {
			t.Fatalf("version %d: %+v", i, v)
		}
	}
}

func TestLifecycleOfVersions(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "lcv")
	if err := d.PutVersioning(ctx, "lcv", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"1", "2", "3"} {
		put(t, d, "lcv", "logs/k", body)
	}
	put(t, d, "lcv", "keep/k", "a")
	put(t, d, "lcv", "keep/k", "b")
	// A lone delete marker: the only version left of its key.
	o := put(t, d, "lcv", "logs/gone", "x")
	if _, err := d.DeleteObject(ctx, "lcv", "logs/gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteVersion(ctx, "lcv", "logs/gone", s3ID(o.VersionID)); err != nil {
		t.Fatal(err)
	}
	cfg := &LifecycleConfig{Rules: []LifecycleRule{
		{ID: "old", Enabled: true, Filter: LifecycleFilter{Prefix: "logs/"}, Noncurrent: &NoncurrentExpiration{NoncurrentDays: 1, NewerNoncurrentVersions: 1}},
		{ID: "markers", Enabled: true, Filter: LifecycleFilter{Prefix: "logs/"}, Expiration: &LifecycleExpiration{ExpiredObjectDeleteMarker: true}},
	}}
	if err := d.PutLifecycle(ctx, "lcv", cfg); err != nil {
		t.Fatal(err)
	}
	var seen []string
	note := func(_ context.Context, _ BucketInfo, info ObjectInfo, del Deleted) {
		seen = append(seen, info.Key+":"+s3ID(del.VersionID))
	}
	// Not yet due: nothing goes.
	res, err := RunLifecycle(ctx, d, time.Now(), note)
	if err != nil || res.Versions != 1 { // the lone marker goes at once
		t.Fatalf("first run: %+v %v", res, err)
	}
	if got, want := versionsOf(t, d, "lcv"), []string{"keep/k:b*", "keep/k:a", "logs/k:3*", "logs/k:2", "logs/k:1"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	res, err = RunLifecycle(ctx, d, time.Now().Add(72*time.Hour), note)
	if err != nil || res.Versions != 1 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if got, want := versionsOf(t, d, "lcv"), []string{"keep/k:b*", "keep/k:a", "logs/k:3*", "logs/k:2"}; !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
	if len(seen) != 2 || !strings.HasPrefix(seen[0], "logs/gone:") || !strings.HasPrefix(seen[1], "logs/k:") {
		t.Fatalf("expired %v", seen)
	}
}

func TestObjectLock(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mustBucket(t, d, "olk")
	if err := d.PutObjectLock(ctx, "olk", ObjectLockConfig{}); !errors.Is(err, ErrNeedsVersioning) {
		t.Fatalf("lock without versioning: %v", err)
	}
	if _, err := d.PutObject(ctx, "olk", "k", strings.NewReader("x"), PutOptions{LegalHold: true}); !errors.Is(err, ErrNoObjectLock) {
		t.Fatalf("legal hold without lock: %v", err)
	}
	if err := d.PutVersioning(ctx, "olk", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	if err := d.PutObjectLock(ctx, "olk", ObjectLockConfig{Mode: LockGovernance, Days: 1}); err != nil {
		t.Fatal(err)
	}
	if err := d.PutVersioning(ctx, "olk", VersioningSuspended); !errors.Is(err, ErrNeedsVersioning) {
		t.Fatalf("suspend under lock: %v", err)
	}
	gov := put(t, d, "olk", "k", "governed") // the default: GOVERNANCE for a day
	if gov.Retention.Mode != LockGovernance || gov.Retention.Until.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("default retention %+v", gov.Retention)
	}
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	comp, err := d.PutObject(ctx, "olk", "k", strings.NewReader("complied"), PutOptions{Retention: Retention{Mode: LockCompliance, Until: until}})
	if err != nil {
		t.Fatal(err)
	}
	// A delete still makes a marker; removing a version is refused.
	if del, err := d.DeleteObject(ctx, "olk", "k"); err != nil || !del.DeleteMarker {
		t.Fatalf("delete under lock: %+v %v", del, err)
	}
	if _, err := d.DeleteVersion(ctx, "olk", "k", comp.VersionID); !errors.Is(err, ErrLocked) {
		t.Fatalf("remove compliance version: %v", err)
	}
	if _, err := d.DeleteVersion(WithBypassGovernance(ctx), "olk", "k", comp.VersionID); !errors.Is(err, ErrLocked) {
		t.Fatalf("bypass compliance: %v", err)
	}
	if _, err := d.DeleteVersion(ctx, "olk", "k", gov.VersionID); !errors.Is(err, ErrLocked) {
		t.Fatalf("remove governance version: %v", err)
	}
	// Compliance only extends; governance shortens with bypass.
	if _, err := d.PutRetention(ctx, "olk", "k", comp.VersionID, Retention{Mode: LockCompliance, Until: until.Add(-time.Minute)}, true); !errors.Is(err, ErrLocked) {
		t.Fatalf("shorten compliance: %v", err)
	}
	if info, err := d.PutRetention(ctx, "olk", "k", comp.VersionID, Retention{Mode: LockCompliance, Until: until.Add(time.Hour)}, false); err != nil || !info.Retention.Until.Equal(until.Add(time.Hour)) {
		t.Fatalf("extend compliance: %+v %v", info.Retention, err)
	}
	if _, err := d.PutRetention(ctx, "olk", "k", gov.VersionID, Retention{}, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("remove governance without bypass: %v", err)
	}
	if _, err := d.PutRetention(ctx, "olk", "k", gov.VersionID, Retention{}, true); err != nil {
		t.Fatalf("remove governance with bypass: %v", err)
	}
	// A legal hold keeps even a version without retention.
	if _, err := d.PutLegalHold(ctx, "olk", "k", gov.VersionID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteVersion(WithBypassGovernance(ctx), "olk", "k", gov.VersionID); !errors.Is(err, ErrLocked) {
		t.Fatalf("remove held version: %v", err)
	}
	if _, err := d.PutLegalHold(ctx, "olk", "k", gov.VersionID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.DeleteVersion(ctx, "olk", "k", gov.VersionID); err != nil {
		t.Fatalf("remove released version: %v", err)
	}
	if info, err := d.HeadVersion(ctx, "olk", "k", comp.VersionID); err != nil || info.Retention.Mode != LockCompliance {
		t.Fatalf("compliance version: %+v %v", info, err)
	}
}
