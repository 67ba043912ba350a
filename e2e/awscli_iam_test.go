package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// awsCLI runs the AWS CLI against srv with the keys given, and returns
// its standard output, standard error and exit code.
func awsCLI(t *testing.T, srv *alofttest.Server, keyID, secret, token string, args ...string) (string, string, int) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the AWS CLI is not on PATH: scripts/install-test-deps.sh installs it (as root, from Debian's packages)")
	}
	cmd := exec.CommandContext(ctxT(t), bin, append([]string{"--endpoint-url", srv.URL, "--output", "json"}, args...)...)
	env := []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=" + keyID, "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="}
	if token != "" {
		env = append(env, "AWS_SESSION_TOKEN="+token)
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestAWSCLIIAM makes a user, its key, a policy, a role and a session
// with the AWS CLI, as AWS's own tutorials do, and checks what each
// identity may do.
func TestAWSCLIIAM(t *testing.T) {
	srv := alofttest.Start(t)
	root := func(args ...string) string {
		t.Helper()
		out, errOut, code := awsCLI(t, srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "", args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	root("iam", "create-user", "--user-name", "cli-user")
	var key struct {
		AccessKey struct{ AccessKeyId, SecretAccessKey string }
	}
	if err := json.Unmarshal([]byte(root("iam", "create-access-key", "--user-name", "cli-user")), &key); err != nil || key.AccessKey.AccessKeyId == "" {
		t.Fatalf("create-access-key: %v %+v", err, key)
	}
	root("iam", "put-user-policy", "--user-name", "cli-user", "--policy-name", "assume",
		"--policy-document", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["sts:AssumeRole","iam:GetUser"],"Resource":"*"}}`)
	var policyOut struct{ PolicyDocument any }
	if err := json.Unmarshal([]byte(root("iam", "get-user-policy", "--user-name", "cli-user", "--policy-name", "assume")), &policyOut); err != nil {
		t.Fatal(err)
	}
	if doc, _ := json.Marshal(policyOut.PolicyDocument); !strings.Contains(string(doc), "sts:AssumeRole") {
		t.Errorf("get-user-policy document: %s", doc)
	}
	var role struct{ Role struct{ Arn string } }
	if err := json.Unmarshal([]byte(root("iam", "create-role", "--role-name", "cli-role",
		"--assume-role-policy-document", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}}`)), &role); err != nil {
		t.Fatal(err)
	}
	root("iam", "put-role-policy", "--role-name", "cli-role", "--policy-name", "list",
		"--policy-document", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}}`)

	user := func(args ...string) (string, string, int) {
		return awsCLI(t, srv, key.AccessKey.AccessKeyId, key.AccessKey.SecretAccessKey, "", args...)
	}
	out, errOut, code := user("sts", "get-caller-identity")
	if code != 0 || !strings.Contains(out, `"arn:aws:iam::000000000000:user/cli-user"`) {
		t.Fatalf("get-caller-identity as the user: exit %d: %s%s", code, out, errOut)
	}
	if _, errOut, code := user("lambda", "list-functions"); code == 0 || !strings.Contains(errOut, "AccessDeniedException") {
		t.Errorf("list-functions as the user: exit %d: %s", code, errOut)
	}
	out, errOut, code = user("sts", "assume-role", "--role-arn", role.Role.Arn, "--role-session-name", "cli-session")
	if code != 0 {
		t.Fatalf("assume-role: exit %d: %s", code, errOut)
	}
	var session struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	if err := json.Unmarshal([]byte(out), &session); err != nil || session.Credentials.SessionToken == "" {
		t.Fatalf("assume-role output %s: %v", out, err)
	}
	c := session.Credentials
	out, errOut, code = awsCLI(t, srv, c.AccessKeyId, c.SecretAccessKey, c.SessionToken, "sts", "get-caller-identity")
	if code != 0 || !strings.Contains(out, "assumed-role/cli-role/cli-session") {
		t.Errorf("get-caller-identity of the session: exit %d: %s%s", code, out, errOut)
	}
	if out, errOut, code := awsCLI(t, srv, c.AccessKeyId, c.SecretAccessKey, c.SessionToken, "lambda", "list-functions"); code != 0 {
		t.Errorf("list-functions with the role: exit %d: %s%s", code, out, errOut)
	}
	if _, errOut, code := awsCLI(t, srv, c.AccessKeyId, c.SecretAccessKey, c.SessionToken, "iam", "list-users"); code == 0 || !strings.Contains(errOut, "AccessDenied") {
		t.Errorf("list-users with the role: exit %d: %s", code, errOut)
	}
}

// TestAWSCLIPresign fetches an object through the URL `aws s3 presign`
// makes: Signature Version 2 with CLI v1, version 4 with v2.
func TestAWSCLIPresign(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	c := srv.S3()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("presigned")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presigned"), Key: aws.String("k.txt"), Body: strings.NewReader("shared")}); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := awsCLI(t, srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "", "s3", "presign", "s3://presigned/k.txt", "--expires-in", "60")
	if code != 0 {
		t.Fatalf("s3 presign: exit %d: %s", code, errOut)
	}
	u := strings.TrimSpace(out)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "shared" {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	t.Logf("presigned with %s", map[bool]string{true: "Signature Version 2", false: "Signature Version 4"}[strings.Contains(u, "AWSAccessKeyId=")])
}
