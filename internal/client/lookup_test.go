package client

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestFromLookup checks each source of keys, in order.
func TestFromLookup(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "aws-credentials"))
	for _, k := range []string{EnvEndpoint, EnvAccessKey, EnvSecretKey, EnvDataDir, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Chdir(dir) // no ./.aloft here
	keyOf := func(c *Client) string {
		creds, err := c.Credentials(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return creds.AccessKeyID
	}

	if _, err := FromEnv(); err != ErrNoCredentials {
		t.Fatalf("nothing configured: %v", err)
	}
	// A server records its data directory: the CLI finds it anywhere.
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	os.WriteFile(filepath.Join(data, CredentialsFile), []byte(`{"AccessKeyId":"AKIDDATA","SecretAccessKey":"s"}`), 0o600)
	if err := WriteServerRecord(ServerRecord{Endpoint: "http://127.0.0.1:9999", DataDir: data}); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnv()
	if err != nil || keyOf(c) != "AKIDDATA" || c.Endpoint != "http://127.0.0.1:9999" {
		t.Fatalf("from the server's record: %v %+v", err, c)
	}
	// A profile.
	os.WriteFile(filepath.Join(dir, "aws-config"), []byte("[profile p]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:7777\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "aws-credentials"), []byte("[p]\naws_access_key_id = AKIDPROF\naws_secret_access_key = s\n"), 0o600)
	t.Setenv("AWS_PROFILE", "p")
	c, err = FromEnv()
	if err != nil || keyOf(c) != "AKIDPROF" || c.Endpoint != "http://127.0.0.1:7777" || c.Region != "eu-west-1" {
		t.Fatalf("from AWS_PROFILE: %v %+v", err, c)
	}
	if _, err := FromLookup(Lookup{Profile: "missing"}); err == nil {
		t.Error("a missing profile was accepted")
	}
	// AWS_* keys, with a token, win over the profile.
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_SESSION_TOKEN", "tok")
	t.Setenv("AWS_DEFAULT_REGION", "ap-south-1")
	c, err = FromEnv()
	if err != nil || keyOf(c) != "ASIAENV" || c.Region != "ap-south-1" {
		t.Fatalf("from AWS_*: %v %+v", err, c)
	}
	// ALOFT_* win over everything; a flag's endpoint over the record.
	t.Setenv(EnvAccessKey, "AKIDALOFT")
	t.Setenv(EnvSecretKey, "s")
	c, err = FromLookup(Lookup{Endpoint: "127.0.0.1:1234"})
	if err != nil || keyOf(c) != "AKIDALOFT" || c.Endpoint != "http://127.0.0.1:1234" {
		t.Fatalf("from ALOFT_* and --endpoint: %v %+v", err, c)
	}
}
