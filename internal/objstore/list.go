package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// entry is one decoded name of the key tree.
type entry struct {
	seg  string // key bytes this name stands for
	dir  bool
	name string // on disk
}

// readSorted reads a directory of the key tree in key order.
func readSorted(dir string) ([]entry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("objstore: read %s: %w", dir, err)
	}
	ents := make([]entry, 0, len(names))
	for _, n := range names {
		seg, isDir, ok := decodeName(n)
		if ok {
			ents = append(ents, entry{seg: seg, dir: isDir, name: n})
		}
	}
	slices.SortFunc(ents, func(a, b entry) int {
		if c := strings.Compare(a.seg, b.seg); c != 0 {
			return c
		}
		// A key that ends here sorts before the longer keys under the
		// directory of the same segment.
		switch {
		case a.dir == b.dir:
			return 0
		case b.dir:
			return -1
		}
		return 1
	})
	return ents, nil
}

// lister walks a bucket's key tree in key order.
type lister struct {
	ctx    context.Context
	prefix string
	after  string // nothing at or below after is visited; only grows
	// visit is called for each key above after with the prefix, in order;
	// it returns false to stop.
	visit func(key, path string) (bool, error)
}

// walk visits the keys below dir, whose keys all begin with base. It
// reports false once visit has asked to stop.
func (l *lister) walk(dir, base string) (bool, error) {
	if err := l.ctx.Err(); err != nil {
		return false, err
	}
	ents, err := readSorted(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil // removed by a delete since it was listed
		}
		return false, err
	}
	for _, e := range ents {
		full := base + e.seg
		if !e.dir {
			if full <= l.after || !strings.HasPrefix(full, l.prefix) {
				continue
			}
			more, err := l.visit(full, filepath.Join(dir, e.name))
			if !more || err != nil {
				return false, err
			}
			continue
		}
		// Every key below starts with full: skip the directory if none of
		// them can have the prefix or lie above after.
		if !strings.HasPrefix(full, l.prefix) && !strings.HasPrefix(l.prefix, full) {
			continue
		}
		if n := min(len(full), len(l.after)); full[:n] < l.after[:n] {
			continue
		}
		more, err := l.walk(filepath.Join(dir, e.name), full)
		if !more || err != nil {
			return more, err
		}
	}
	return true, nil
}

// ListObjects lists one page of keys. Common prefixes are rolled up as S3
// does: a key with Delimiter after Prefix counts once, as the prefix up to
// and including the first such Delimiter, and the walk then skips every key
// under it.
func (d *Disk) ListObjects(ctx context.Context, bucket string, opts ListOptions) (ListResult, error) {
	if err := d.checkBucket(bucket); err != nil {
		return ListResult{}, err
	}
	max := opts.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	// A bucket with versioning may have delete markers, which are not
	// listed, nor is a common prefix of nothing else.
	versioning, err := d.versioning(bucket)
	if err != nil {
		return ListResult{}, err
	}
	var res ListResult
	count := 0
	l := &lister{ctx: ctx, prefix: opts.Prefix, after: opts.After}
	// past is a bound above every key with prefix p: keys are UTF-8, which
	// never holds the byte 0xFF.
	past := func(p string) string { return p + "\xff" }
	l.visit = func(key, path string) (bool, error) {
		if opts.Delimiter != "" {
			if i := strings.Index(key[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				cp := key[:len(opts.Prefix)+i+len(opts.Delimiter)]
				if cp <= opts.After {
					l.after = past(cp)
					return true, nil
				}
				if versioning != "" {
					if m, err := statMeta(path); err != nil || m.DeleteMarker {
						return true, nil // the next key may be an object under cp
					}
				}
				if count == max {
					res.IsTruncated = true
					return false, nil
				}
				res.CommonPrefixes = append(res.CommonPrefixes, cp)
				res.NextMarker = cp
				count++
				l.after = past(cp)
				return true, nil
			}
		}
		if count == max {
			res.IsTruncated = true
			return false, nil
		}
		m, err := statMeta(path)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil // deleted since the directory was read
		}
		if err != nil {
			return false, err
		}
		if m.DeleteMarker {
			return true, nil
		}
		info := m.info(bucket)
		info.Metadata, info.Headers, info.PartSizes = nil, nil, nil
		res.Objects = append(res.Objects, info)
		res.NextMarker = key
		count++
		return true, nil
	}
	if _, err := l.walk(d.keysDir(bucket), ""); err != nil {
		return ListResult{}, fmt.Errorf("objstore: list %s: %w", bucket, err)
	}
	return res, nil
}
