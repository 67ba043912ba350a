package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ServerRecord is what a server records, for this user, when it is
// ready: where it listens and where its data (and its keys) are, so the
// CLI finds it from any directory.
type ServerRecord struct {
	Endpoint string `json:"endpoint"`
	DataDir  string `json:"dataDir"`
}

// RecordPath is where the record is kept: aloft/server.json in the
// user's configuration directory (XDG_CONFIG_HOME, or ~/.config).
func RecordPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "aloft", "server.json"), nil
}

// WriteServerRecord records r (mode 0600), replacing an earlier one.
func WriteServerRecord(r ServerRecord) error {
	path, err := RecordPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("client: record the server: %w", err)
	}
	b, _ := json.Marshal(r) // strings always encode
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("client: record the server: %w", err)
	}
	return os.Rename(tmp, path)
}

// ReadServerRecord returns the record of the server last started by this
// user, nil when there is none.
func ReadServerRecord() (*ServerRecord, error) {
	path, err := RecordPath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r ServerRecord
	if err := json.Unmarshal(b, &r); err != nil || r.DataDir == "" {
		return nil, fmt.Errorf("client: %s is damaged", path)
	}
	return &r, nil
}
