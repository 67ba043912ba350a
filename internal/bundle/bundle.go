// Package bundle checks function code archives (zip files) against Lambda's
// limits and unpacks them safely: no entry may escape the destination, and
// the bytes actually written are counted, not the sizes the archive claims.
package bundle

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aloft-dev/aloft/internal/function"
)

// Info describes a checked archive.
type Info struct {
	Size       int64  // zipped bytes
	Sha256     string // base64 SHA-256 of the zip, Lambda's CodeSha256
	Hex        string // hex SHA-256 of the zip, the key Aloft stores it under
	Unzipped   int64  // bytes the entries declare
	HasEntries bool
}

const unzipMsg = "Could not unzip uploaded file. Please check your file, then try to upload again."

// Inspect checks that data is a readable zip within Lambda's size limits
// whose entry names stay inside the archive root.
func Inspect(data []byte) (Info, error) {
	if len(data) > function.MaxZippedSize {
		return Info{}, function.TooLarge("Zipped size must be smaller than %d bytes", function.MaxZippedSize)
	}
	return InspectAny(data)
}

// InspectAny is Inspect without the limit on the zipped size, which
// applies to archives uploaded in a request, not to those read from S3.
func InspectAny(data []byte) (Info, error) {
	sum := sha256.Sum256(data)
	info := Info{Size: int64(len(data)), Sha256: base64.StdEncoding.EncodeToString(sum[:]), Hex: hex.EncodeToString(sum[:])}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return Info{}, function.InvalidParameter("%s", unzipMsg)
	}
	for _, f := range zr.File {
		if _, err := entryPath(f.Name); err != nil {
			return Info{}, function.InvalidParameter("%s (%v)", unzipMsg, err)
		}
		info.Unzipped += int64(f.UncompressedSize64)
		if f.UncompressedSize64 > function.MaxUnzippedSize || info.Unzipped > function.MaxUnzippedSize {
			return Info{}, function.InvalidParameter("Unzipped size must be smaller than %d bytes", function.MaxUnzippedSize)
		}
		info.HasEntries = true
	}
	return info, nil
}

// entryPath returns the cleaned relative path of a zip entry, or an error if
// the name is absolute or climbs out of the root.
func entryPath(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return "", fmt.Errorf("entry %q has an absolute path", name)
	}
	clean := path.Clean(n)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("entry %q escapes the archive root", name)
	}
	return clean, nil
}

// Extract unpacks data into dir, which must not exist yet. It writes into a
// temporary sibling and renames it into place, so dir is either complete or
// absent. Every write goes through an os.Root, so nothing can land outside
// the destination; symbolic links are kept when their target stays inside
// the archive, and no entry may pass through a link the archive made.
func Extract(data []byte, dir string) (err error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return function.InvalidParameter("%s", unzipMsg)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".extract-")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer root.Close()
	links := map[string]bool{} // entry paths that are symbolic links
	budget := int64(function.MaxUnzippedSize)
	for _, f := range zr.File {
		rel, err := entryPath(f.Name)
		if err != nil {
			return function.InvalidParameter("%s (%v)", unzipMsg, err)
		}
		if rel == "." {
			continue
		}
		for p := path.Dir(rel); p != "."; p = path.Dir(p) {
			if links[p] {
				return function.InvalidParameter("%s (entry %q is inside the link %q)", unzipMsg, f.Name, p)
			}
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(rel, 0o755); err != nil {
				return function.InvalidParameter("%s (%v)", unzipMsg, err)
			}
			continue
		case mode&fs.ModeSymlink != 0:
			if err := extractLink(f, root, rel); err != nil {
				return err
			}
			links[rel] = true
			continue
		}
		if d := path.Dir(rel); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return function.InvalidParameter("%s (%v)", unzipMsg, err)
			}
		}
		n, err := extractFile(f, root, rel, budget)
		if err != nil {
			return err
		}
		budget -= n
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr == nil {
			os.RemoveAll(tmp) // another extraction of the same code won the race
			return nil
		}
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

// extractFile writes one regular entry, readable by everyone and executable
// when the archive says so, and returns the bytes written.
func extractFile(f *zip.File, root *os.Root, rel string, budget int64) (int64, error) {
	perm := os.FileMode(0o644)
	if f.Mode()&0o111 != 0 {
		perm = 0o755
	}
	rc, err := f.Open()
	if err != nil {
		return 0, function.InvalidParameter("%s", unzipMsg)
	}
	defer rc.Close()
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, function.InvalidParameter("%s (%v)", unzipMsg, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, function.InvalidParameter("%s", unzipMsg)
		}
		return 0, fmt.Errorf("bundle: write %s: %w", f.Name, err)
	}
	if n > budget {
		return 0, function.InvalidParameter("Unzipped size must be smaller than %d bytes", function.MaxUnzippedSize)
	}
	return n, nil
}

func extractLink(f *zip.File, root *os.Root, rel string) error {
	rc, err := f.Open()
	if err != nil {
		return function.InvalidParameter("%s", unzipMsg)
	}
	target, err := io.ReadAll(io.LimitReader(rc, 4096))
	rc.Close()
	if err != nil {
		return function.InvalidParameter("%s", unzipMsg)
	}
	t := string(target)
	resolved := path.Clean(path.Join(path.Dir(rel), t))
	if path.IsAbs(t) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return function.InvalidParameter("%s (link %q points outside the archive)", unzipMsg, f.Name)
	}
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return function.InvalidParameter("%s (%v)", unzipMsg, err)
		}
	}
	if err := root.Symlink(t, rel); err != nil {
		return function.InvalidParameter("%s (%v)", unzipMsg, err)
	}
	return nil
}

// ExtractOnce makes dir hold the unpacked zip that fetch returns,
// unless it does already: a cache of unpacked code filled on first use.
// mu serialises the fills of one cache, so two first uses unpack once.
func ExtractOnce(dir string, mu *sync.Mutex, fetch func() ([]byte, error)) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	zip, err := fetch()
	if err != nil {
		return err
	}
	return Extract(zip, dir)
}
