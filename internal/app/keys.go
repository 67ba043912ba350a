package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Keys are the root credentials every API request is signed with.
type Keys struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// lookup returns the secret of the root key id.
func (k Keys) lookup(id string) (string, bool) {
	if id == k.AccessKeyID {
		return k.SecretAccessKey, true
	}
	return "", false
}

func (k Keys) derive(msg string) string {
	m := hmac.New(sha256.New, []byte(k.SecretAccessKey))
	m.Write([]byte(msg))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil))
}

// CredentialsFile is where generated keys are kept, under the data dir.
const CredentialsFile = "credentials"

// loadKeys takes the root keys from the environment, else from the data
// dir, else generates and saves them (mode 0600) and prints them once.
func loadKeys(dir string, log *slog.Logger) (Keys, error) {
	k := Keys{AccessKeyID: os.Getenv("ALOFT_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("ALOFT_SECRET_ACCESS_KEY")}
	if k.AccessKeyID != "" || k.SecretAccessKey != "" {
		if k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return Keys{}, errors.New("app: set both ALOFT_ACCESS_KEY_ID and ALOFT_SECRET_ACCESS_KEY, or neither")
		}
		return k, nil
	}
	path := filepath.Join(dir, CredentialsFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &k); err != nil || k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return Keys{}, fmt.Errorf("app: unreadable credentials file %s", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Keys{}, fmt.Errorf("app: credentials: %w", err)
	}
	k = Keys{AccessKeyID: "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
	b, _ = json.MarshalIndent(k, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return Keys{}, fmt.Errorf("app: save credentials: %w", err)
	}
	fmt.Fprintf(os.Stderr, "Generated root credentials (saved to %s):\n  ALOFT_ACCESS_KEY_ID=%s\n  ALOFT_SECRET_ACCESS_KEY=%s\n"+
		"The aloft CLI finds them by itself. For other AWS clients: eval \"$(aloft env)\", or aloft configure (the AWS profile aloft).\n",
		path, k.AccessKeyID, k.SecretAccessKey)
	log.Info("generated root credentials", "file", path)
	return k, nil
}

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
