package layers

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Merge builds dst, which must not exist yet, from the directories srcs
// in order, as Lambda extracts a function's layers into /opt one after
// the other: a later layer's entry replaces an earlier one's at the same
// path, and directories combine. Files are hard links to the sources
// where the file system allows (the sources must then stay read-only),
// copies otherwise; symbolic links are recreated as they are. No write
// passes through a link an earlier layer made: a path whose parent is a
// link or a file gets a real directory instead, so nothing lands outside
// dst. dst appears complete or not at all.
func Merge(dst string, srcs []string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), ".merge-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, src := range srcs {
		if err := mergeOne(tmp, src); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		if _, statErr := os.Stat(dst); statErr == nil {
			os.RemoveAll(tmp) // another merge of the same layers won
			return nil
		}
		return err
	}
	return nil
}

func mergeOne(root, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		if err := realParents(root, rel); err != nil {
			return err
		}
		at := filepath.Join(root, rel)
		fi, statErr := os.Lstat(at)
		exists := statErr == nil
		switch {
		case d.IsDir():
			if exists && fi.IsDir() {
				return nil
			}
			if exists {
				if err := os.RemoveAll(at); err != nil {
					return err
				}
			}
			return os.Mkdir(at, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if exists {
				if err := os.RemoveAll(at); err != nil {
					return err
				}
			}
			return os.Symlink(target, at)
		case d.Type().IsRegular():
			if exists {
				if err := os.RemoveAll(at); err != nil {
					return err
				}
			}
			if os.Link(p, at) == nil {
				return nil
			}
			return copyFile(p, at)
		default:
			return nil // unpacked archives hold nothing else
		}
	})
}

// realParents makes sure every directory above rel under root is a real
// directory, replacing links and files an earlier layer put there.
func realParents(root, rel string) error {
	parts := strings.Split(filepath.Dir(rel), string(filepath.Separator))
	at := root
	for _, part := range parts {
		if part == "." {
			break
		}
		at = filepath.Join(at, part)
		fi, err := os.Lstat(at)
		if err == nil && fi.IsDir() {
			continue
		}
		if err == nil {
			if err := os.Remove(at); err != nil {
				return err
			}
		}
		if err := os.Mkdir(at, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
