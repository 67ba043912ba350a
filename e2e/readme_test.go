package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// readmeBlocks returns the README's shell blocks (```sh), in order, with
// the line each starts at.
func readmeBlocks(t *testing.T, path string) (blocks []string, lines []int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cur *strings.Builder
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		switch {
		case cur == nil && l == "```sh":
			cur = &strings.Builder{}
			lines = append(lines, n+1)
		case cur != nil && l == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(l + "\n")
		}
	}
	return blocks, lines
}

// awsCLIs returns one AWS CLI of each major version found (on PATH,
// and Debian's and pip's usual places), by version.
func awsCLIs(t *testing.T) map[string]string {
	out := map[string]string{}
	candidates := []string{"/usr/bin/aws", "/usr/local/bin/aws"}
	if p, err := exec.LookPath("aws"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, c := range candidates {
		b, err := exec.Command(c, "--version").CombinedOutput()
		if err != nil {
			continue
		}
		v := strings.TrimPrefix(strings.Fields(string(b))[0], "aws-cli/")
		major, _, _ := strings.Cut(v, ".")
		if _, ok := out[major]; !ok {
			out[major] = c
		}
	}
	return out
}

// TestREADME runs the README's shell blocks in order, as a reader would
// in one terminal beside a running server: every example must work as
// written, with each major version of the AWS CLI this host has (v2 is
// Debian's awscli, which scripts/install-test-deps.sh installs; v1 is
// pip's awscli).
func TestREADME(t *testing.T) {
	clis := awsCLIs(t)
	if len(clis) == 0 {
		t.Fatal("no AWS CLI: scripts/install-test-deps.sh installs Debian's (v2)")
	}
	for _, v := range []string{"1", "2"} {
		cli, ok := clis[v]
		if !ok {
			t.Logf("AWS CLI v%s is not installed here (v1: pip install awscli; v2: apt-get install awscli); the README runs with the other", v)
			continue
		}
		t.Run("awscli-v"+v, func(t *testing.T) { runREADME(t, cli) })
	}
}

// runREADME runs the README's blocks against a fresh server, with cli as
// the aws command. The blocks that build and start the server or run the
// tests are this test's own setup; the addresses are the test server's.
func runREADME(t *testing.T, cli string) {
	root := alofttest.ModuleRoot(t)
	srv := alofttest.Start(t)
	out, ran := runDocBlocks(t, srv, cli, filepath.Join(root, "README.md"))
	for _, want := range []string{
		`"message": "Hello, Ada!"`,       // the Python, Node.js and Go examples, and the route
		"deleted schedule nightly",       // the async section
		"wrote the AWS profile aloft",    // aloft configure
		"arn:aws:iam::000000000000:root", // sts get-caller-identity
		"deleted route POST /items/{id}", // the gateway section
		`{\"id\": 1}`,                    // a message through the topic, in SNS's envelope (aloft queue receive)
		"disk full",                      // aws sns publish, aws sqs receive-message
		"call Ada",                       // aloft table get and scan
		"2 items",                        // aloft table scan
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the README's output lacks %q:\n%s", want, out)
		}
	}
	if ran < 7 {
		t.Errorf("ran %d blocks", ran)
	}
}

// runDocBlocks runs the shell blocks of the document at path in order,
// in one bash, as a reader would in one terminal beside srv, with cli as
// the aws command, and returns what they printed and how many ran. The
// blocks that build and start the server or run the tests are the
// caller's setup; the addresses are srv's.
func runDocBlocks(t *testing.T, srv *alofttest.Server, cli, path string) (string, int) {
	root := alofttest.ModuleRoot(t)
	blocks, lines := readmeBlocks(t, path)
	// A working directory like the repository's: the examples and the
	// module to build them with, and bin/aloft.
	work := t.TempDir()
	for _, name := range []string{"examples", "go.mod", "go.sum"} {
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(work, name)); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(work, "bin"), 0o755)
	if err := os.Symlink(alofttest.Binary(t), filepath.Join(work, "bin", "aloft")); err != nil {
		t.Fatal(err)
	}
	// The AWS CLI under test comes first on PATH.
	awsDir := t.TempDir()
	if err := os.Symlink(cli, filepath.Join(awsDir, "aws")); err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	script.WriteString("set -e -o pipefail\n")
	ran := 0
	for i, b := range blocks {
		if strings.Contains(b, "bin/aloft server") || strings.Contains(b, "scripts/test.sh") {
			continue
		}
		b = strings.ReplaceAll(b, "http://127.0.0.1:9000", srv.URL)
		b = strings.ReplaceAll(b, "http://127.0.0.1:8080", srv.GatewayURL)
		script.WriteString("echo '== README line " + strconv.Itoa(lines[i]) + "'\n" + b)
		ran++
	}
	goEnv := func(k string) string {
		out, _ := exec.Command("go", "env", k).Output()
		return strings.TrimSpace(string(out))
	}
	cmd := exec.CommandContext(ctxT(t), "bash", "-c", script.String())
	cmd.Dir = work
	home := t.TempDir()
	cmd.Env = []string{"PATH=" + awsDir + ":" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"ALOFT_ENDPOINT=" + srv.URL, "ALOFT_ACCESS_KEY_ID=" + alofttest.AccessKeyID, "ALOFT_SECRET_ACCESS_KEY=" + alofttest.SecretAccessKey,
		"GOCACHE=" + goEnv("GOCACHE"), "GOMODCACHE=" + goEnv("GOMODCACHE"), "GOFLAGS=" + goEnv("GOFLAGS"), "GOTOOLCHAIN=local",
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the examples of %s stopped (%v); the last block begins after the last '== README line':\n%s", path, err, out.String())
	}
	return out.String(), ran
}
