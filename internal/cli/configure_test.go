package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/client"
)

// TestEnvAndConfigure prints the export lines for the test keys, writes
// a profile beside an existing one, and reads it back as the CLI would.
func TestEnvAndConfigure(t *testing.T) {
	r := run(t, context.Background(), "http://127.0.0.1:9000", "", "env").ok(t)
	want := "export AWS_ACCESS_KEY_ID=AKID\nexport AWS_SECRET_ACCESS_KEY=secret\nexport AWS_DEFAULT_REGION=us-east-1\n" +
		"export AWS_REGION=us-east-1\nexport AWS_ENDPOINT_URL=http://127.0.0.1:9000\n"
	if r.stdout != want {
		t.Errorf("env printed %q", r.stdout)
	}

	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	os.WriteFile(cfg, []byte("[default]\nregion = eu-central-1\n\n[profile aloft]\nregion = old\n"), 0o600)
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = KEEP\naws_secret_access_key = me\n"), 0o600)
	r = run(t, context.Background(), "http://127.0.0.1:9000", "", "configure").ok(t)
	if !strings.HasPrefix(r.stdout, "wrote the AWS profile aloft") {
		t.Errorf("configure printed %q", r.stdout)
	}
	c, _ := os.ReadFile(cfg)
	if got := string(c); got != "[default]\nregion = eu-central-1\n\n[profile aloft]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:9000\noutput = json\n" {
		t.Errorf("config file:\n%s", got)
	}
	k, _ := os.ReadFile(creds)
	if !strings.Contains(string(k), "aws_access_key_id = KEEP") || !strings.Contains(string(k), "[aloft]\naws_access_key_id = AKID\naws_secret_access_key = secret\n") {
		t.Errorf("credentials file:\n%s", k)
	}
	if fi, _ := os.Stat(creds); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v", fi.Mode())
	}
	// The profile written is one the CLI (and the SDKs) read back.
	for _, k := range []string{"ALOFT_ACCESS_KEY_ID", "ALOFT_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ALOFT_ENDPOINT", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
	}
	got, err := client.FromLookup(client.Lookup{Profile: "aloft"})
	if err != nil || got.Endpoint != "http://127.0.0.1:9000" {
		t.Fatalf("reading the profile back: %v %+v", err, got)
	}
	if k, _ := got.Credentials(context.Background()); k.AccessKeyID != "AKID" {
		t.Errorf("the profile's key is %q", k.AccessKeyID)
	}
}
