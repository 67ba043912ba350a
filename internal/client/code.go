package client

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aloft-dev/aloft/internal/function"
)

// zipTime is the modification time written for every archive entry, so that
// the same files always give the same archive (and the same CodeSha256).
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// ZipDir archives the contents of dir for upload as function code. Entries
// are named relative to dir and written in lexical order with a fixed
// timestamp, so the same tree always yields the same bytes. Unix mode bits
// are kept (an executable bootstrap stays executable) and symbolic links are
// stored as links. Only .git is left out.
func ZipDir(dir string) ([]byte, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a worktree's .git file
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return addEntry(zw, filepath.ToSlash(rel), path, info)
	})
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addEntry writes the file at path to zw under name.
func addEntry(zw *zip.Writer, name, path string, info fs.FileInfo) error {
	h := &zip.FileHeader{Name: name, Modified: zipTime}
	h.SetMode(info.Mode())
	switch mode := info.Mode(); {
	case mode.IsDir():
		h.Name += "/"
		_, err := zw.CreateHeader(h)
		return err
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, filepath.ToSlash(target))
		return err
	case mode.IsRegular():
		h.Method = zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	default:
		return nil // sockets, pipes and devices are not code
	}
}

// LoadCode returns the zip archive to upload for path, which may be a
// directory (archived with ZipDir), a zip file (sent as it is) or a single
// file named bootstrap (archived alone, marked executable), the entry point
// of a provided runtime.
func LoadCode(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("code %s: no such file or directory", path)
		}
		return nil, fmt.Errorf("code %s: %w", path, err)
	}
	var data []byte
	switch {
	case st.IsDir():
		data, err = ZipDir(path)
		if err != nil {
			return nil, fmt.Errorf("archiving %s: %w", path, err)
		}
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("code %s: not a regular file or directory", path)
	case isZip(path):
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("code %s: %w", path, err)
		}
		if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return nil, fmt.Errorf("code %s: not a valid zip archive: %w", path, err)
		}
	case filepath.Base(path) == "bootstrap":
		data, err = zipBootstrap(path, st)
		if err != nil {
			return nil, fmt.Errorf("archiving %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("code %s: expected a directory, a .zip file or an executable named bootstrap", path)
	}
	if len(data) > function.MaxZippedSize {
		return nil, fmt.Errorf("code %s: the archive is %s, over the %s limit for direct upload",
			path, FormatBytes(int64(len(data))), FormatBytes(function.MaxZippedSize))
	}
	return data, nil
}

// isZip reports whether the file at path is named .zip or starts like one.
func isZip(path string) bool {
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return false
	}
	return bytes.Equal(magic, []byte("PK\x03\x04"))
}

// zipBootstrap archives a lone bootstrap executable.
func zipBootstrap(path string, st fs.FileInfo) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if err := addEntry(zw, "bootstrap", path, modeInfo{st, st.Mode() | 0o755}); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// modeInfo overrides the mode of a FileInfo.
type modeInfo struct {
	fs.FileInfo
	mode fs.FileMode
}

func (m modeInfo) Mode() fs.FileMode { return m.mode }

// FormatBytes renders a size in bytes with a binary unit (B, KiB, MiB, GiB).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

// Payload returns the invocation payload s designates: "@path" is the
// content of a file, "-" is standard input, anything else is the text
// itself.
func Payload(s string) ([]byte, error) { return ReadPayload(s, os.Stdin) }

// ReadPayload is Payload with standard input given as stdin.
func ReadPayload(s string, stdin io.Reader) ([]byte, error) {
	switch {
	case s == "-":
		if stdin == nil {
			return nil, errors.New("reading payload from standard input: no input")
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading payload from standard input: %w", err)
		}
		return data, nil
	case strings.HasPrefix(s, "@"):
		name := s[1:]
		if name == "" {
			return nil, errors.New("payload: @ must be followed by a file name")
		}
		data, err := os.ReadFile(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("payload file %s: no such file", name)
			}
			return nil, fmt.Errorf("payload file %s: %w", name, err)
		}
		return data, nil
	default:
		return []byte(s), nil
	}
}
