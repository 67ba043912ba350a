package objstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Versioning
//
// A bucket whose versioning was ever set keeps every version of a key. The
// key's file (keys/.../<segment>.o) always holds its current version: an
// object, or a delete marker (a file with no content whose metadata says
// so). The noncurrent versions live beside it in a directory named like
// the file with ".v" in place of ".o", one file per version named
// <sequencer>-<version id>, where the sequencer was taken when the version
// stopped being current, so that names sort oldest first.
//
// Every change is one rename over the key's file, preceded by a hard link
// of the current file into the versions directory:
//
//   - a write or a delete marker links the current version in (skipped if
//     a file with its version id is already there), then renames the new
//     file over the key's;
//   - removing the current version by id renames the newest noncurrent
//     version over the key's file, or removes the file if there is none.
//
// A crash between the link and the rename leaves the current version
// both current and linked: readers ignore a noncurrent file that has the
// current version's id, and the next change of the key keeps it. So after
// a crash every acknowledged version is present, in order, and a key is
// never left without its current version. Links, renames and removals are
// followed by an fsync of the directory they changed. Every such change
// runs under the key's lock.

// Versioning states of a bucket (PutVersioning); "" is a bucket whose
// versioning was never set.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// NullVersion is how S3 names the null version: the version of objects
// written while versioning was never set or was suspended. ObjectInfo and
// Deleted report it as "".
const NullVersion = "null"

// versionsSuffix ends the name of a key's versions directory.
const versionsSuffix = ".v"

// Errors of versioned reads and deletes.
var (
	// ErrNoSuchVersion is a version id no version of the key has.
	ErrNoSuchVersion = errors.New("objstore: no such version")
	// ErrInvalidVersion is a version id that cannot be one (see
	// ValidVersionID).
	ErrInvalidVersion = errors.New("objstore: invalid version id")
	// ErrInvalidVersioning is a versioning state other than Enabled and
	// Suspended.
	ErrInvalidVersioning = errors.New("objstore: invalid versioning status")
	// ErrIsDeleteMarker is reading a delete marker by its version id.
	ErrIsDeleteMarker = errors.New("objstore: the version is a delete marker")
)

// MarkerError is the error of a read that found a delete marker: the
// key's current version (errors.Is ErrNoSuchKey) or the version named
// (errors.Is ErrIsDeleteMarker).
type MarkerError struct {
	VersionID    string // "" for the null version
	LastModified time.Time
	Current      bool // found as the key's current version
}

func (e *MarkerError) Error() string {
	if e.Current {
		return "objstore: no such key: its current version is a delete marker"
	}
	return ErrIsDeleteMarker.Error()
}

// Is makes a current marker ErrNoSuchKey and a named one ErrIsDeleteMarker.
func (e *MarkerError) Is(target error) bool {
	if e.Current {
		return target == ErrNoSuchKey
	}
	return target == ErrIsDeleteMarker
}

// VersionStore keeps bucket versioning and the versions of objects. Its
// versionID arguments take S3's names: "null" for the null version; ""
// (where allowed) for the key's current version. With versioning set,
// PutObject, CopyObject and CompleteUpload keep the version they replace,
// and DeleteObject makes a delete marker (see the comment at the top of
// versions.go).
type VersionStore interface {
	// PutVersioning sets a bucket's versioning: VersioningEnabled or
	// VersioningSuspended. It cannot be unset.
	PutVersioning(ctx context.Context, bucket, status string) error
	// Versioning returns a bucket's versioning state, "" if it was never
	// set.
	Versioning(ctx context.Context, bucket string) (string, error)
	// OpenVersion opens one version of an object ("" the current one).
	OpenVersion(ctx context.Context, bucket, key, versionID string) (Object, error)
	// HeadVersion describes one version of an object ("" the current
	// one).
	HeadVersion(ctx context.Context, bucket, key, versionID string) (ObjectInfo, error)
	// DeleteVersion removes one version for good; the newest remaining
	// one becomes current if it was. Removing one that does not exist is
	// not an error.
	DeleteVersion(ctx context.Context, bucket, key, versionID string) (Deleted, error)
	// ListVersions lists the versions and delete markers of keys, keys
	// in byte order and each key's versions newest first.
	ListVersions(ctx context.Context, bucket string, opts VersionListOptions) (VersionList, error)
	// PutVersionTags replaces the tags of one version ("" the current
	// one), as PutObjectTags does.
	PutVersionTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) error
}

// VersionListOptions select and page versions.
type VersionListOptions struct {
	Prefix    string // see ListOptions
	Delimiter string // see ListOptions
	// KeyMarker skips every key up to and including it, unless
	// VersionIDMarker is set: then the listing starts with KeyMarker's
	// versions older than that one.
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int // page size: versions, markers and prefixes; at most MaxListKeys
}

// VersionList is one page of versions.
type VersionList struct {
	Versions       []ObjectInfo // without user metadata; IsLatest set
	CommonPrefixes []string
	IsTruncated    bool
	// NextKeyMarker and NextVersionIDMarker continue a truncated listing
	// as VersionListOptions' markers.
	NextKeyMarker       string
	NextVersionIDMarker string
}

// WithCopySourceVersion returns ctx naming the version of the source that
// CopyObject and UploadPartCopy read ("null" the null version).
func WithCopySourceVersion(ctx context.Context, versionID string) context.Context {
	if versionID == "" {
		return ctx
	}
	return context.WithValue(ctx, sourceVersionKey{}, versionID)
}

type sourceVersionKey struct{}

func copySourceVersion(ctx context.Context) string {
	v, _ := ctx.Value(sourceVersionKey{}).(string)
	return v
}

// versionIDLen is the length of a version id this store makes: 24 random
// bytes in URL-safe base64.
const versionIDLen = 32

// newVersionID makes a version id.
func newVersionID() string {
	var b [versionIDLen * 3 / 4]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidVersionID reports whether id can name a version: "null" or an id
// in the shape this store makes.
func ValidVersionID(id string) bool {
	if id == NullVersion {
		return true
	}
	if len(id) != versionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// storedID maps S3's name of a version to the one files carry.
func storedID(id string) string {
	if id == NullVersion {
		return ""
	}
	return id
}

// s3ID maps a stored version id to S3's name.
func s3ID(id string) string {
	if id == "" {
		return NullVersion
	}
	return id
}

// versionsPath returns the versions directory of the key whose file is
// keyPath.
func versionsPath(keyPath string) string {
	return strings.TrimSuffix(keyPath, fileSuffix) + versionsSuffix
}

// versionEntry is one file of a versions directory.
type versionEntry struct {
	name string // <sequencer>-<version id>
	id   string // stored version id ("" null)
}

// readVersions lists a versions directory newest first; a missing one
// is empty.
func readVersions(dir string) ([]versionEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			return nil, nil
		}
		return nil, fmt.Errorf("objstore: read versions: %w", err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("objstore: read versions %s: %w", dir, err)
	}
	out := make([]versionEntry, 0, len(names))
	for _, n := range names {
		if len(n) < 18 || n[16] != '-' {
			continue
		}
		out = append(out, versionEntry{name: n, id: storedID(n[17:])})
	}
	slices.SortFunc(out, func(a, b versionEntry) int { return strings.Compare(b.name, a.name) })
	return out, nil
}

// versioningPath is the file of a bucket's versioning state.
func (d *Disk) versioningPath(bucket string) string {
	return filepath.Join(d.bucketDir(bucket), "versioning.json")
}

// PutVersioning sets a bucket's versioning state.
func (d *Disk) PutVersioning(ctx context.Context, bucket, status string) error {
	if status != VersioningEnabled && status != VersioningSuspended {
		return ErrInvalidVersioning
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return err
	}
	if _, locked, err := d.objectLock(bucket); err != nil || locked && status != VersioningEnabled {
		if err != nil {
			return err
		}
		return ErrNeedsVersioning
	}
	return writeJSONFile(d.tmp, d.versioningPath(bucket), status)
}

// Versioning returns a bucket's versioning state, "" if never set.
func (d *Disk) Versioning(ctx context.Context, bucket string) (string, error) {
	if err := d.checkBucket(bucket); err != nil {
		return "", err
	}
	return d.versioning(bucket)
}

// versioning reads a bucket's versioning state without checking the
// bucket.
func (d *Disk) versioning(bucket string) (string, error) {
	var status string
	if err := readJSONFile(d.versioningPath(bucket), &status); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("objstore: versioning of %s: %w", bucket, err)
	}
	return status, nil
}

// newVersion returns the version id a write to bucket is to carry: a new
// one while versioning is enabled, else the null version's.
func (d *Disk) newVersion(bucket string) (string, error) {
	status, err := d.versioning(bucket)
	if err != nil || status != VersioningEnabled {
		return "", err
	}
	return newVersionID(), nil
}

// keepCurrentLocked prepares the key whose file is dst for a new current
// version with stored id newID in a bucket with versioning: it links the
// current version into the versions directory, unless the new version
// replaces it (both null) or it is there already, and removes a
// noncurrent null version the new null version replaces. The caller holds
// the key's lock and d.mu.
func (d *Disk) keepCurrentLocked(dst, newID string) error {
	cur, err := statMeta(dst)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
			return err
		}
		cur = nil
	}
	vdir := versionsPath(dst)
	ents, err := readVersions(vdir)
	if err != nil {
		return err
	}
	changed := false
	if newID == "" {
		// The new version is the null version: any other goes, whether
		// noncurrent or a link a crash left of the current one.
		kept := ents[:0]
		for _, e := range ents {
			if e.id != "" {
				kept = append(kept, e)
				continue
			}
			if err := os.Remove(filepath.Join(vdir, e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("objstore: remove null version: %w", err)
			}
			changed = true
		}
		ents = kept
	}
	if cur != nil && (cur.VersionID != "" || newID != "") && !slices.ContainsFunc(ents, func(e versionEntry) bool { return e.id == cur.VersionID }) {
		if err := mkdirs(filepath.Dir(vdir), []string{filepath.Base(vdir)}); err != nil {
			return err
		}
		if err := os.Link(dst, filepath.Join(vdir, d.seq.next()+"-"+s3ID(cur.VersionID))); err != nil {
			return fmt.Errorf("objstore: keep version: %w", err)
		}
		changed = true
	}
	if changed {
		return syncDir(vdir)
	}
	return nil
}

// markLocked makes a delete marker the current version of bucket/key
// (stored id "" while versioning is suspended). The caller holds the
// key's lock, not d.mu.
func (d *Disk) markLocked(bucket, key string, enabled bool) (Deleted, error) {
	id := ""
	if enabled {
		id = newVersionID()
	}
	t, err := newTemp(d.tmp, "marker-*")
	if err != nil {
		return Deleted{}, err
	}
	defer t.discard()
	m := &fileMeta{Key: key, Modified: d.modified(), VersionID: id, DeleteMarker: true}
	if err := t.finish(m); err != nil {
		return Deleted{}, err
	}
	seq, err := d.commitLocked(bucket, key, t, id, nil)
	if err != nil {
		return Deleted{}, err
	}
	return Deleted{Existed: true, Sequencer: seq, Time: m.Modified, VersionID: id, DeleteMarker: true}, nil
}

// findVersion opens the version of bucket/key with stored id, wherever
// it is: the key's file or its versions directory. It looks at the key's
// file again after the directory, so that a version a concurrent change
// moved is still found.
func (d *Disk) findVersion(bucket, key, id string) (*os.File, *fileMeta, string, error) {
	if err := checkKey(key); err != nil {
		if err := d.checkBucket(bucket); err != nil {
			return nil, nil, "", err
		}
		return nil, nil, "", ErrNoSuchVersion
	}
	if !ValidBucketName(bucket) {
		return nil, nil, "", ErrNoSuchBucket
	}
	dst := d.objectPath(bucket, key)
	vdir := versionsPath(dst)
	for range 2 {
		f, m, err := openMeta(dst)
		switch {
		case err == nil && m.VersionID == id:
			return f, m, dst, nil
		case err == nil:
			f.Close()
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir):
			return nil, nil, "", fmt.Errorf("objstore: open %s/%s: %w", bucket, key, err)
		}
		ents, err := readVersions(vdir)
		if err != nil {
			return nil, nil, "", err
		}
		for _, e := range ents {
			if e.id != id {
				continue
			}
			p := filepath.Join(vdir, e.name)
			f, m, err := openMeta(p)
			if err == nil {
				return f, m, p, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, nil, "", fmt.Errorf("objstore: open %s/%s version %s: %w", bucket, key, s3ID(id), err)
			}
		}
	}
	if err := d.checkBucket(bucket); err != nil {
		return nil, nil, "", err
	}
	return nil, nil, "", ErrNoSuchVersion
}

// openVersion opens a version ("" the current one) for reading; a delete
// marker is a *MarkerError.
func (d *Disk) openVersion(bucket, key, versionID string) (*os.File, *fileMeta, error) {
	if versionID == "" {
		return d.openObject(bucket, key)
	}
	if !ValidVersionID(versionID) {
		return nil, nil, ErrInvalidVersion
	}
	f, m, _, err := d.findVersion(bucket, key, storedID(versionID))
	if err != nil {
		return nil, nil, err
	}
	if m.DeleteMarker {
		f.Close()
		return nil, nil, &MarkerError{VersionID: m.VersionID, LastModified: m.Modified}
	}
	return f, m, nil
}

// OpenVersion opens one version of an object.
func (d *Disk) OpenVersion(ctx context.Context, bucket, key, versionID string) (Object, error) {
	f, m, err := d.openVersion(bucket, key, versionID)
	if err != nil {
		return nil, err
	}
	sse, err := d.openSealed(ctx, f, m, false)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &diskObject{f: f, info: m.info(bucket), sse: sse}, nil
}

// HeadVersion describes one version of an object.
func (d *Disk) HeadVersion(ctx context.Context, bucket, key, versionID string) (ObjectInfo, error) {
	f, m, err := d.openVersion(bucket, key, versionID)
	if err != nil {
		return ObjectInfo{}, err
	}
	f.Close()
	return m.info(bucket), nil
}

// DeleteVersion removes one version of an object for good.
func (d *Disk) DeleteVersion(ctx context.Context, bucket, key, versionID string) (Deleted, error) {
	if !ValidVersionID(versionID) {
		return Deleted{}, ErrInvalidVersion
	}
	id := storedID(versionID)
	if err := checkKey(key); err != nil {
		if err := d.checkBucket(bucket); err != nil {
			return Deleted{}, err
		}
		return Deleted{}, nil
	}
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	d.mu.RLock()
	defer d.mu.RUnlock()
	if err := d.checkBucket(bucket); err != nil {
		return Deleted{}, err
	}
	dst := d.objectPath(bucket, key)
	vdir := versionsPath(dst)
	cur, err := statMeta(dst)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
			return Deleted{}, err
		}
		cur = nil
	}
	ents, err := readVersions(vdir)
	if err != nil {
		return Deleted{}, err
	}
	if cur != nil && cur.VersionID == id {
		if protected(cur.LegalHold, Retention{cur.LockMode, cur.LockUntil}, d.now(), bypassGovernance(ctx)) {
			return Deleted{}, ErrLocked
		}
		rest := ents[:0:0]
		for _, e := range ents {
			if e.id == id { // a link a crash left of the current version
				if err := os.Remove(filepath.Join(vdir, e.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return Deleted{}, fmt.Errorf("objstore: delete version: %w", err)
				}
				continue
			}
			rest = append(rest, e)
		}
		del := Deleted{Existed: true, Sequencer: d.seq.next(), Time: d.modified(), VersionID: id, DeleteMarker: cur.DeleteMarker}
		if len(rest) == 0 {
			os.Remove(vdir)
			if _, err := d.removeObject(bucket, key); err != nil {
				return Deleted{}, err
			}
			return del, nil
		}
		// The newest noncurrent version becomes current.
		if err := os.Rename(filepath.Join(vdir, rest[0].name), dst); err != nil {
			return Deleted{}, fmt.Errorf("objstore: delete version: %w", err)
		}
		if err := syncDir(filepath.Dir(dst)); err != nil {
			return Deleted{}, err
		}
		if len(rest) == 1 {
			os.Remove(vdir)
		}
		return del, syncDir(vdir)
	}
	for _, e := range ents {
		if e.id != id {
			continue
		}
		p := filepath.Join(vdir, e.name)
		m, err := statMeta(p)
		if err != nil {
			return Deleted{}, err
		}
		if protected(m.LegalHold, Retention{m.LockMode, m.LockUntil}, d.now(), bypassGovernance(ctx)) {
			return Deleted{}, ErrLocked
		}
		if err := os.Remove(p); err != nil {
			return Deleted{}, fmt.Errorf("objstore: delete version: %w", err)
		}
		if len(ents) == 1 {
			os.Remove(vdir)
			return Deleted{Existed: true, Sequencer: d.seq.next(), Time: d.modified(), VersionID: id, DeleteMarker: m.DeleteMarker}, syncDir(filepath.Dir(vdir))
		}
		return Deleted{Existed: true, Sequencer: d.seq.next(), Time: d.modified(), VersionID: id, DeleteMarker: m.DeleteMarker}, syncDir(vdir)
	}
	return Deleted{}, nil
}

// PutVersionTags replaces the tags of one version.
func (d *Disk) PutVersionTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) error {
	if versionID == "" {
		return d.PutObjectTags(ctx, bucket, key, tags)
	}
	if !ValidVersionID(versionID) {
		return ErrInvalidVersion
	}
	unlock := d.keys.lock(bucket + "/" + key)
	defer unlock()
	f, m, path, err := d.findVersion(bucket, key, storedID(versionID))
	if err != nil {
		return err
	}
	defer f.Close()
	if m.DeleteMarker {
		return &MarkerError{VersionID: m.VersionID, LastModified: m.Modified}
	}
	return d.retagLocked(bucket, key, path, f, m, tags)
}

// keyVersions returns the versions of the key whose file is path, the
// current one first, without user metadata.
func keyVersions(bucket, path string) ([]ObjectInfo, error) {
	cur, err := statMeta(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // removed since it was listed
		}
		return nil, err
	}
	vdir := versionsPath(path)
	ents, err := readVersions(vdir)
	if err != nil {
		return nil, err
	}
	out := make([]ObjectInfo, 0, 1+len(ents))
	add := func(m *fileMeta, latest bool) {
		info := m.info(bucket)
		info.Metadata, info.Headers, info.PartSizes = nil, nil, nil
		info.IsLatest = latest
		out = append(out, info)
	}
	add(cur, true)
	for _, e := range ents {
		if e.id == cur.VersionID {
			continue
		}
		m, err := statMeta(filepath.Join(vdir, e.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		add(m, false)
	}
	return out, nil
}

// ListVersions lists one page of versions. Common prefixes roll up as in
// ListObjects.
func (d *Disk) ListVersions(ctx context.Context, bucket string, opts VersionListOptions) (VersionList, error) {
	if err := d.checkBucket(bucket); err != nil {
		return VersionList{}, err
	}
	if opts.VersionIDMarker != "" && !ValidVersionID(opts.VersionIDMarker) {
		return VersionList{}, ErrInvalidVersion
	}
	max := opts.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	var res VersionList
	count := 0
	// emit adds the versions of one key, those after the version named
	// from (if set) only.
	emit := func(key, path, from string) (bool, error) {
		vs, err := keyVersions(bucket, path)
		if err != nil {
			return false, err
		}
		started := from == ""
		for _, v := range vs {
			if !started {
				started = s3ID(v.VersionID) == from
				continue
			}
			if count == max {
				res.IsTruncated = true
				return false, nil
			}
			res.Versions = append(res.Versions, v)
			res.NextKeyMarker, res.NextVersionIDMarker = key, s3ID(v.VersionID)
			count++
		}
		return true, nil
	}
	if opts.VersionIDMarker != "" && opts.KeyMarker != "" && strings.HasPrefix(opts.KeyMarker, opts.Prefix) && checkKey(opts.KeyMarker) == nil {
		more, err := emit(opts.KeyMarker, d.objectPath(bucket, opts.KeyMarker), opts.VersionIDMarker)
		if err != nil {
			return VersionList{}, fmt.Errorf("objstore: list versions of %s: %w", bucket, err)
		}
		if !more {
			return res, nil
		}
	}
	l := &lister{ctx: ctx, prefix: opts.Prefix, after: opts.KeyMarker}
	past := func(p string) string { return p + "\xff" }
	l.visit = func(key, path string) (bool, error) {
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp <= opts.KeyMarker {
					l.after = past(cp)
					return true, nil
				}
				if count == max {
					res.IsTruncated = true
					return false, nil
				}
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.NextKeyMarker, res.NextVersionIDMarker = cp, ""
				count++
				l.after = past(cp)
				return true, nil
			}
		}
		return emit(key, path, "")
	}
	if _, err := l.walk(d.keysDir(bucket), ""); err != nil {
		return VersionList{}, fmt.Errorf("objstore: list versions of %s: %w", bucket, err)
	}
	if !res.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = "", ""
	}
	return res, nil
}
