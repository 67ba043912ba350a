package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// queryHandler answers one action of the IAM or STS query protocol; p
// are the request's parameters.
type queryHandler func(w http.ResponseWriter, action string, p url.Values)

// queryAPI serves IAM and STS as the query protocol does: every request
// is a form-encoded POST to / naming its Action. It checks that each
// request is signed for the service that owns its action.
func queryAPI(t *testing.T, actions map[string]queryHandler) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"POST ": func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := url.ParseQuery(string(body))
		if err != nil {
			t.Errorf("body is not a form: %v", err)
		}
		action := p.Get("Action")
		service, version := "iam", "2010-05-08"
		if action == "GetCallerIdentity" {
			service, version = "sts", "2011-06-15"
		}
		if auth := r.Header.Get("Authorization"); !strings.Contains(auth, "/"+service+"/aws4_request") {
			t.Errorf("%s: signed as %q, want the %s service", action, auth, service)
		}
		if got := p.Get("Version"); got != version {
			t.Errorf("%s: Version %q, want %q", action, got, version)
		}
		h := actions[action]
		if h == nil {
			t.Errorf("unexpected action %s", action)
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		h(w, action, p)
	}}
}

// namespaceOf is the XML namespace of an action's answer.
func namespaceOf(action string) string {
	if action == "GetCallerIdentity" {
		return "https://sts.amazonaws.com/doc/2011-06-15/"
	}
	return "https://iam.amazonaws.com/doc/2010-05-08/"
}

// queryResult answers with the action's result made of the XML elements
// result.
func queryResult(result string) queryHandler {
	return func(w http.ResponseWriter, action string, p url.Values) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></%sResponse>`,
			action, namespaceOf(action), action, result, action, action)
	}
}

// queryOK answers an action that returns nothing.
func queryOK() queryHandler {
	return func(w http.ResponseWriter, action string, p url.Values) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<%sResponse xmlns="%s"><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></%sResponse>`,
			action, namespaceOf(action), action)
	}
}

// queryError answers with an error of the query protocol.
func queryError(status int, code, message string) queryHandler {
	return func(w http.ResponseWriter, action string, p url.Values) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
			namespaceOf(action), code, message)
	}
}

// call is one IAM or STS request: its action and its parameters but
// Action and Version.
type call struct {
	Action string
	Params map[string]string
}

// calls returns the query requests f received.
func calls(t *testing.T, f *fakeAPI) []call {
	t.Helper()
	var out []call
	for _, r := range f.requests() {
		p, err := url.ParseQuery(string(r.Body))
		if err != nil {
			t.Fatalf("body %q: %v", r.Body, err)
		}
		c := call{Action: p.Get("Action"), Params: map[string]string{}}
		for k := range p {
			if k != "Action" && k != "Version" {
				c.Params[k] = p.Get(k)
			}
		}
		out = append(out, c)
	}
	return out
}

// actionsOf lists the actions of cs.
func actionsOf(cs []call) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Action)
	}
	return out
}

// writeFile writes content to a file in a temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantFailure fails the test unless r exited 1 with exactly the message
// want on stderr and nothing on stdout.
func wantFailure(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 1 || r.stderr != want+"\n" || r.stdout != "" {
		t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1, stderr %q", r.code, r.stdout, r.stderr, want)
	}
}

const (
	devUserXML = `<User><Path>/</Path><UserName>dev</UserName><UserId>AIDAEXAMPLEDEV000001</UserId>` +
		`<Arn>arn:aws:iam::000000000000:user/dev</Arn><CreateDate>2025-01-02T03:04:05Z</CreateDate></User>`
	devKeyXML = `<AccessKey><UserName>dev</UserName><AccessKeyId>AKIAEXAMPLEDEV000001</AccessKeyId><Status>Active</Status>` +
		`<SecretAccessKey>dev+secret/EXAMPLE0000000000000000000000</SecretAccessKey><CreateDate>2025-01-02T03:04:05Z</CreateDate></AccessKey>`
	// readPhotos is a policy document and photosEncoded the same, as IAM
	// sends documents: percent-encoded.
	readPhotos    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`
	photosEncoded = `%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C` +
		`%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Aphotos%2F%2A%22%7D%5D%7D`
)

func TestWhoami(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"GetCallerIdentity": queryResult(`<Arn>arn:aws:iam::000000000000:user/dev</Arn><UserId>AIDAEXAMPLEDEV000001</UserId><Account>000000000000</Account>`),
	}))
	r := f.run("whoami").ok(t)
	want := "Account   000000000000\nArn       arn:aws:iam::000000000000:user/dev\nUserId    AIDAEXAMPLEDEV000001\n"
	if r.stdout != want {
		t.Errorf("whoami printed\n%s\nwant\n%s", r.stdout, want)
	}
	r = f.run("whoami", "-o", "json").ok(t)
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("whoami -o json printed %q: %v", r.stdout, err)
	}
	wantJSON := map[string]string{"Account": "000000000000", "Arn": "arn:aws:iam::000000000000:user/dev", "UserId": "AIDAEXAMPLEDEV000001"}
	if d := cmp.Diff(wantJSON, got); d != "" {
		t.Errorf("whoami -o json (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"GetCallerIdentity", "GetCallerIdentity"}, actionsOf(calls(t, f))); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}

	bad := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"GetCallerIdentity": queryError(403, "InvalidClientTokenId", "The security token included in the request is invalid."),
	}))
	wantFailure(t, bad.run("whoami"),
		"aloft: InvalidClientTokenId: The security token included in the request is invalid. (check the keys from the test keys)")
	wantFailure(t, bad.run("whoami", "extra"), `aloft: unexpected argument "extra" (see "aloft whoami --help")`)
}

func TestUserCreate(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"CreateUser":       queryResult(devUserXML),
		"AttachUserPolicy": queryOK(),
		"PutUserPolicy":    queryOK(),
		"CreateAccessKey":  queryResult(devKeyXML),
	}))
	file := writeFile(t, "photos.json", readPhotos+"\n")
	r := f.run("user", "create", "dev", "--policy-arn", "read-photos", "--policy-arn", "arn:aws:iam::000000000000:policy/other",
		"--policy-file", file, "--policy-name", "photos", "--with-key").ok(t)
	golden(t, "user-create.golden", r.stdout)
	for _, want := range []string{"dev+secret/EXAMPLE0000000000000000000000", "shown only this once"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("user create printed no %q:\n%s", want, r.stdout)
		}
	}
	want := []call{
		{"CreateUser", map[string]string{"UserName": "dev"}},
		{"AttachUserPolicy", map[string]string{"UserName": "dev", "PolicyArn": "arn:aws:iam::000000000000:policy/read-photos"}},
		{"AttachUserPolicy", map[string]string{"UserName": "dev", "PolicyArn": "arn:aws:iam::000000000000:policy/other"}},
		{"PutUserPolicy", map[string]string{"UserName": "dev", "PolicyName": "photos", "PolicyDocument": readPhotos + "\n"}},
		{"CreateAccessKey", map[string]string{"UserName": "dev"}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	f.reset()
	r = f.run("user", "create", "dev", "--with-key", "-o", "json").ok(t)
	var got struct {
		User      struct{ UserName, Arn string }
		AccessKey struct{ AccessKeyId, SecretAccessKey, Status string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("user create -o json printed %q: %v", r.stdout, err)
	}
	if got.User.Arn != "arn:aws:iam::000000000000:user/dev" || got.AccessKey.AccessKeyId != "AKIAEXAMPLEDEV000001" ||
		got.AccessKey.SecretAccessKey != "dev+secret/EXAMPLE0000000000000000000000" || got.AccessKey.Status != "Active" {
		t.Errorf("user create -o json printed %+v", got)
	}
	if d := cmp.Diff([]string{"CreateUser", "CreateAccessKey"}, actionsOf(calls(t, f))); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}

	// Without --with-key, no key.
	f.reset()
	if r := f.run("user", "create", "dev").ok(t); r.stdout != "created user dev (arn:aws:iam::000000000000:user/dev)\n" {
		t.Errorf("user create printed %q", r.stdout)
	}
	if d := cmp.Diff([]string{"CreateUser"}, actionsOf(calls(t, f))); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
}

func TestUserCreateErrors(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"CreateUser": func(w http.ResponseWriter, action string, p url.Values) {
			if p.Get("UserName") == "taken" {
				queryError(409, "EntityAlreadyExists", "User with name taken already exists.")(w, action, p)
				return
			}
			queryResult(devUserXML)(w, action, p)
		},
		"AttachUserPolicy": queryError(404, "NoSuchEntity", "Policy arn:aws:iam::000000000000:policy/nope does not exist or is not attachable."),
	}))
	good := writeFile(t, "good.json", readPhotos)
	bad := writeFile(t, "bad.json", `{"Version":`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "create"}, `aloft: missing the user name (see "aloft user create --help")`},
		{[]string{"user", "create", "dev", "--policy-file", good},
			`aloft: if any flags in the group [policy-file policy-name] are set they must all be set; missing [policy-name] (see "aloft user create --help")`},
		{[]string{"user", "create", "dev", "--policy-file", bad, "--policy-name", "p"},
			"aloft: the policy in " + bad + " is not JSON: unexpected end of JSON input"},
		{[]string{"user", "create", "dev", "--policy-file", bad + ".missing", "--policy-name", "p"},
			"aloft: reading the policy: open " + bad + ".missing: no such file or directory"},
	} {
		wantFailure(t, f.run(tc.args...), tc.want)
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests sent for invalid calls, want none", n)
	}
	wantFailure(t, f.run("user", "create", "taken"), "aloft: EntityAlreadyExists: User with name taken already exists.")
	wantFailure(t, f.run("user", "create", "dev", "--policy-arn", "nope"),
		"aloft: user dev was created, but attaching arn:aws:iam::000000000000:policy/nope failed: "+
			"NoSuchEntity: Policy arn:aws:iam::000000000000:policy/nope does not exist or is not attachable.")
}

func TestUserListAndShow(t *testing.T) {
	opsUser := strings.NewReplacer("dev", "ops", "DEV", "OPS", "03:04:05", "04:05:06").Replace(devUserXML)
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"ListUsers": func(w http.ResponseWriter, action string, p url.Values) {
			if p.Get("Marker") == "" {
				queryResult(`<Users><member>`+strings.TrimSuffix(strings.TrimPrefix(devUserXML, "<User>"), "</User>")+
					`</member></Users><IsTruncated>true</IsTruncated><Marker>page2</Marker>`)(w, action, p)
				return
			}
			queryResult(`<Users><member>`+strings.TrimSuffix(strings.TrimPrefix(opsUser, "<User>"), "</User>")+
				`</member></Users><IsTruncated>false</IsTruncated>`)(w, action, p)
		},
		"GetUser": queryResult(strings.Replace(devUserXML, "</CreateDate>",
			"</CreateDate><Tags><member><Key>team</Key><Value>web</Value></member><member><Key>env</Key><Value>dev</Value></member></Tags>", 1)),
		"ListAttachedUserPolicies": queryResult(`<AttachedPolicies>` +
			`<member><PolicyName>read-photos</PolicyName><PolicyArn>arn:aws:iam::000000000000:policy/read-photos</PolicyArn></member>` +
			`<member><PolicyName>logs</PolicyName><PolicyArn>arn:aws:iam::000000000000:policy/logs</PolicyArn></member>` +
			`</AttachedPolicies><IsTruncated>false</IsTruncated>`),
		"ListUserPolicies": queryResult(`<PolicyNames><member>inline-a</member><member>inline-b</member></PolicyNames><IsTruncated>false</IsTruncated>`),
		"ListAccessKeys": queryResult(`<AccessKeyMetadata>` +
			`<member><UserName>dev</UserName><AccessKeyId>AKIAEXAMPLEDEV000001</AccessKeyId><Status>Active</Status><CreateDate>2025-01-02T03:04:05Z</CreateDate></member>` +
			`<member><UserName>dev</UserName><AccessKeyId>AKIAEXAMPLEDEV000002</AccessKeyId><Status>Inactive</Status><CreateDate>2025-01-03T03:04:05Z</CreateDate></member>` +
			`</AccessKeyMetadata><IsTruncated>false</IsTruncated>`),
	}))
	golden(t, "user-list.golden", f.run("user", "list").ok(t).stdout)
	cs := calls(t, f)
	if len(cs) != 2 || cs[1].Params["Marker"] != "page2" {
		t.Errorf("pagination: requests %+v, want the second with Marker page2", cs)
	}
	var users []map[string]any
	r := f.run("user", "ls", "-o", "json").ok(t)
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil || len(users) != 2 || users[0]["UserName"] != "dev" || users[1]["UserName"] != "ops" {
		t.Errorf("user list -o json printed %q (%v)", r.stdout, err)
	}

	f.reset()
	golden(t, "user-show.golden", f.run("user", "show", "dev").ok(t).stdout)
	want := []call{
		{"GetUser", map[string]string{"UserName": "dev"}},
		{"ListAttachedUserPolicies", map[string]string{"UserName": "dev"}},
		{"ListUserPolicies", map[string]string{"UserName": "dev"}},
		{"ListAccessKeys", map[string]string{"UserName": "dev"}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	golden(t, "user-show.json.golden", f.run("user", "show", "dev", "-o", "json").ok(t).stdout)
}

func TestUserDelete(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"DeleteUser": func(w http.ResponseWriter, action string, p url.Values) {
			if p.Get("UserName") == "busy" {
				queryError(409, "DeleteConflict", "Cannot delete entity, must delete policies and access keys first.")(w, action, p)
				return
			}
			queryOK()(w, action, p)
		},
		"ListAccessKeys": queryResult(`<AccessKeyMetadata><member><UserName>dev</UserName><AccessKeyId>AKIAEXAMPLEDEV000001</AccessKeyId>` +
			`<Status>Inactive</Status><CreateDate>2025-01-02T03:04:05Z</CreateDate></member></AccessKeyMetadata><IsTruncated>false</IsTruncated>`),
		"DeleteAccessKey":  queryOK(),
		"ListUserPolicies": queryResult(`<PolicyNames><member>photos</member></PolicyNames><IsTruncated>false</IsTruncated>`),
		"DeleteUserPolicy": queryOK(),
		"ListAttachedUserPolicies": queryResult(`<AttachedPolicies><member><PolicyName>logs</PolicyName>` +
			`<PolicyArn>arn:aws:iam::000000000000:policy/logs</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>`),
		"DetachUserPolicy": queryOK(),
	}))
	if r := f.run("user", "delete", "dev").ok(t); r.stdout != "deleted user dev\n" {
		t.Errorf("user delete printed %q", r.stdout)
	}
	if d := cmp.Diff([]call{{"DeleteUser", map[string]string{"UserName": "dev"}}}, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	wantFailure(t, f.run("user", "delete", "busy"), "aloft: DeleteConflict: Cannot delete entity, must delete policies and access keys first.")

	f.reset()
	r := f.run("user", "rm", "dev", "--force").ok(t)
	wantOut := "deleted access key AKIAEXAMPLEDEV000001\ndeleted inline policy photos\n" +
		"detached policy arn:aws:iam::000000000000:policy/logs\ndeleted user dev\n"
	if r.stdout != wantOut {
		t.Errorf("user delete --force printed\n%s\nwant\n%s", r.stdout, wantOut)
	}
	dev := map[string]string{"UserName": "dev"}
	want := []call{
		{"ListAccessKeys", dev},
		{"DeleteAccessKey", map[string]string{"UserName": "dev", "AccessKeyId": "AKIAEXAMPLEDEV000001"}},
		{"ListUserPolicies", dev},
		{"DeleteUserPolicy", map[string]string{"UserName": "dev", "PolicyName": "photos"}},
		{"ListAttachedUserPolicies", dev},
		{"DetachUserPolicy", map[string]string{"UserName": "dev", "PolicyArn": "arn:aws:iam::000000000000:policy/logs"}},
		{"DeleteUser", dev},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

func TestKeyCommands(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"CreateAccessKey": queryResult(devKeyXML),
		"ListAccessKeys": queryResult(`<AccessKeyMetadata>` +
			`<member><UserName>dev</UserName><AccessKeyId>AKIAEXAMPLEDEV000001</AccessKeyId><Status>Active</Status><CreateDate>2025-01-02T03:04:05Z</CreateDate></member>` +
			`<member><UserName>dev</UserName><AccessKeyId>AKIAEXAMPLEDEV000002</AccessKeyId><Status>Inactive</Status><CreateDate>2025-01-03T03:04:05Z</CreateDate></member>` +
			`</AccessKeyMetadata><IsTruncated>false</IsTruncated>`),
		"UpdateAccessKey": queryOK(),
		"DeleteAccessKey": func(w http.ResponseWriter, action string, p url.Values) {
			if p.Get("AccessKeyId") == "AKIANOPE" {
				queryError(404, "NoSuchEntity", "The Access Key with id AKIANOPE cannot be found.")(w, action, p)
				return
			}
			queryOK()(w, action, p)
		},
	}))
	r := f.run("key", "create", "dev").ok(t)
	wantCreate := "User                dev\n" +
		"Access key ID       AKIAEXAMPLEDEV000001\n" +
		"Secret access key   dev+secret/EXAMPLE0000000000000000000000\n" +
		"Status              Active\n\n" + secretNote + "\n"
	if r.stdout != wantCreate {
		t.Errorf("key create printed\n%s\nwant\n%s", r.stdout, wantCreate)
	}
	r = f.run("key", "create", "dev", "-o", "json").ok(t)
	var key map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &key); err != nil || key["SecretAccessKey"] != "dev+secret/EXAMPLE0000000000000000000000" || key["UserName"] != "dev" {
		t.Errorf("key create -o json printed %q (%v)", r.stdout, err)
	}

	r = f.run("key", "list", "dev").ok(t)
	wantList := "ACCESS KEY ID          STATUS     CREATED\n" +
		"AKIAEXAMPLEDEV000001   Active     2025-01-02T03:04:05Z\n" +
		"AKIAEXAMPLEDEV000002   Inactive   2025-01-03T03:04:05Z\n"
	if r.stdout != wantList {
		t.Errorf("key list printed\n%s\nwant\n%s", r.stdout, wantList)
	}
	var keys []map[string]string
	r = f.run("key", "ls", "dev", "-o", "json").ok(t)
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 2 || keys[1]["Status"] != "Inactive" {
		t.Errorf("key list -o json printed %q (%v)", r.stdout, err)
	}

	f.reset()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"key", "disable", "dev", "AKIAEXAMPLEDEV000001"}, "disabled access key AKIAEXAMPLEDEV000001 of user dev\n"},
		{[]string{"key", "enable", "dev", "AKIAEXAMPLEDEV000001"}, "enabled access key AKIAEXAMPLEDEV000001 of user dev\n"},
		{[]string{"key", "delete", "dev", "AKIAEXAMPLEDEV000002"}, "deleted access key AKIAEXAMPLEDEV000002 of user dev\n"},
	} {
		if r := f.run(tc.args...).ok(t); r.stdout != tc.want {
			t.Errorf("%v printed %q, want %q", tc.args, r.stdout, tc.want)
		}
	}
	want := []call{
		{"UpdateAccessKey", map[string]string{"UserName": "dev", "AccessKeyId": "AKIAEXAMPLEDEV000001", "Status": "Inactive"}},
		{"UpdateAccessKey", map[string]string{"UserName": "dev", "AccessKeyId": "AKIAEXAMPLEDEV000001", "Status": "Active"}},
		{"DeleteAccessKey", map[string]string{"UserName": "dev", "AccessKeyId": "AKIAEXAMPLEDEV000002"}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	wantFailure(t, f.run("key", "delete", "dev", "AKIANOPE"), "aloft: NoSuchEntity: The Access Key with id AKIANOPE cannot be found.")
	wantFailure(t, f.run("key", "disable", "dev"), `aloft: missing the access key id (see "aloft key disable --help")`)
	wantFailure(t, f.run("key", "list"), `aloft: missing the user name (see "aloft key list --help")`)
	wantFailure(t, f.run("key", "enable", "dev", "K", "extra"), `aloft: unexpected argument "extra" (see "aloft key enable --help")`)
	wantFailure(t, f.run("key", "bogus"), `aloft: unknown command "bogus" for "aloft key" (see "aloft key --help")`)
}

const workerRoleXML = `<Role><Path>/</Path><RoleName>worker</RoleName><RoleId>AROAEXAMPLEWORKER001</RoleId>` +
	`<Arn>arn:aws:iam::000000000000:role/worker</Arn><CreateDate>2025-01-02T03:04:05Z</CreateDate>` +
	`<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C` +
	`%22Principal%22%3A%7B%22Service%22%3A%22lambda.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D</AssumeRolePolicyDocument>` +
	`<Description>resizes photos</Description><MaxSessionDuration>3600</MaxSessionDuration></Role>`

func TestRoleCommands(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"CreateRole":       queryResult(workerRoleXML),
		"AttachRolePolicy": queryOK(),
		"PutRolePolicy":    queryOK(),
		"GetRole":          queryResult(workerRoleXML),
		"ListRoles": queryResult(`<Roles><member>` + strings.TrimSuffix(strings.TrimPrefix(workerRoleXML, "<Role>"), "</Role>") +
			`</member></Roles><IsTruncated>false</IsTruncated>`),
		"ListAttachedRolePolicies": queryResult(`<AttachedPolicies><member><PolicyName>read-photos</PolicyName>` +
			`<PolicyArn>arn:aws:iam::000000000000:policy/read-photos</PolicyArn></member></AttachedPolicies><IsTruncated>false</IsTruncated>`),
		"ListRolePolicies": queryResult(`<PolicyNames><member>logs</member></PolicyNames><IsTruncated>false</IsTruncated>`),
		"DeleteRolePolicy": queryOK(),
		"DetachRolePolicy": queryOK(),
		"DeleteRole":       queryOK(),
	}))

	// The default trust policy lets Lambda assume the role.
	if r := f.run("role", "create", "worker").ok(t); r.stdout != "created role worker (arn:aws:iam::000000000000:role/worker)\n" {
		t.Errorf("role create printed %q", r.stdout)
	}
	cs := calls(t, f)
	if len(cs) != 1 || cs[0].Action != "CreateRole" || cs[0].Params["RoleName"] != "worker" {
		t.Fatalf("requests %+v, want one CreateRole of worker", cs)
	}
	var trust struct {
		Version   string
		Statement []struct {
			Effect    string
			Principal struct{ Service string }
			Action    string
		}
	}
	if err := json.Unmarshal([]byte(cs[0].Params["AssumeRolePolicyDocument"]), &trust); err != nil {
		t.Fatalf("the trust policy is not JSON: %v\n%s", err, cs[0].Params["AssumeRolePolicyDocument"])
	}
	if trust.Version != "2012-10-17" || len(trust.Statement) != 1 || trust.Statement[0].Effect != "Allow" ||
		trust.Statement[0].Principal.Service != "lambda.amazonaws.com" || trust.Statement[0].Action != "sts:AssumeRole" {
		t.Errorf("trust policy %+v does not let Lambda assume the role", trust)
	}

	// A trust policy from a file, a description and policies.
	f.reset()
	trustDoc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/ci"},"Action":"sts:AssumeRole"}}`
	r := f.run("role", "create", "worker", "--trust", writeFile(t, "trust.json", trustDoc), "--description", "resizes photos",
		"--policy-arn", "read-photos", "--policy-file", writeFile(t, "logs.json", readPhotos), "--policy-name", "logs").ok(t)
	wantOut := "created role worker (arn:aws:iam::000000000000:role/worker)\n" +
		"attached policy arn:aws:iam::000000000000:policy/read-photos\nput inline policy logs\n"
	if r.stdout != wantOut {
		t.Errorf("role create printed\n%s\nwant\n%s", r.stdout, wantOut)
	}
	want := []call{
		{"CreateRole", map[string]string{"RoleName": "worker", "AssumeRolePolicyDocument": trustDoc, "Description": "resizes photos"}},
		{"AttachRolePolicy", map[string]string{"RoleName": "worker", "PolicyArn": "arn:aws:iam::000000000000:policy/read-photos"}},
		{"PutRolePolicy", map[string]string{"RoleName": "worker", "PolicyName": "logs", "PolicyDocument": readPhotos}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	r = f.run("role", "list").ok(t)
	wantList := "NAME     ARN                                     CREATED                DESCRIPTION\n" +
		"worker   arn:aws:iam::000000000000:role/worker   2025-01-02T03:04:05Z   resizes photos\n"
	if r.stdout != wantList {
		t.Errorf("role list printed\n%s\nwant\n%s", r.stdout, wantList)
	}
	golden(t, "role-show.golden", f.run("role", "show", "worker").ok(t).stdout)
	golden(t, "role-show.json.golden", f.run("role", "show", "worker", "-o", "json").ok(t).stdout)

	f.reset()
	r = f.run("role", "delete", "worker", "--force").ok(t)
	wantOut = "deleted inline policy logs\ndetached policy arn:aws:iam::000000000000:policy/read-photos\ndeleted role worker\n"
	if r.stdout != wantOut {
		t.Errorf("role delete --force printed\n%s\nwant\n%s", r.stdout, wantOut)
	}
	worker := map[string]string{"RoleName": "worker"}
	want = []call{
		{"ListRolePolicies", worker},
		{"DeleteRolePolicy", map[string]string{"RoleName": "worker", "PolicyName": "logs"}},
		{"ListAttachedRolePolicies", worker},
		{"DetachRolePolicy", map[string]string{"RoleName": "worker", "PolicyArn": "arn:aws:iam::000000000000:policy/read-photos"}},
		{"DeleteRole", worker},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	f.reset()
	bad := writeFile(t, "bad.json", "lambda")
	wantFailure(t, f.run("role", "create", "worker", "--trust", bad),
		"aloft: the policy in "+bad+" is not JSON: invalid character 'l' looking for beginning of value")
	wantFailure(t, f.run("role", "show"), `aloft: missing the role name (see "aloft role show --help")`)
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid calls, want none", n)
	}
}

func TestPolicyCommands(t *testing.T) {
	const policyXML = `<PolicyName>read-photos</PolicyName><PolicyId>ANPAEXAMPLEPHOTOS01</PolicyId>` +
		`<Arn>arn:aws:iam::000000000000:policy/read-photos</Arn><Path>/</Path><DefaultVersionId>v2</DefaultVersionId>` +
		`<AttachmentCount>3</AttachmentCount><IsAttachable>true</IsAttachable><Description>reads the photos</Description>` +
		`<CreateDate>2025-01-02T03:04:05Z</CreateDate><UpdateDate>2025-01-03T03:04:05Z</UpdateDate>`
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"CreatePolicy": queryResult(`<Policy>` + policyXML + `</Policy>`),
		"ListPolicies": queryResult(`<Policies><member>` + policyXML + `</member></Policies><IsTruncated>false</IsTruncated>`),
		"GetPolicy":    queryResult(`<Policy>` + policyXML + `</Policy>`),
		"GetPolicyVersion": queryResult(`<PolicyVersion><Document>` + photosEncoded + `</Document><VersionId>v2</VersionId>` +
			`<IsDefaultVersion>true</IsDefaultVersion><CreateDate>2025-01-03T03:04:05Z</CreateDate></PolicyVersion>`),
		"ListPolicyVersions": queryResult(`<Versions>` +
			`<member><VersionId>v2</VersionId><IsDefaultVersion>true</IsDefaultVersion><CreateDate>2025-01-03T03:04:05Z</CreateDate></member>` +
			`<member><VersionId>v1</VersionId><IsDefaultVersion>false</IsDefaultVersion><CreateDate>2025-01-02T03:04:05Z</CreateDate></member>` +
			`</Versions><IsTruncated>false</IsTruncated>`),
		"DeletePolicyVersion": queryOK(),
		"DeletePolicy":        queryOK(),
		"AttachUserPolicy":    queryOK(),
		"AttachRolePolicy":    queryOK(),
		"DetachUserPolicy":    queryOK(),
		"DetachRolePolicy":    queryOK(),
	}))
	const arn = "arn:aws:iam::000000000000:policy/read-photos"

	r := f.run("policy", "create", "read-photos", "--file", writeFile(t, "p.json", readPhotos), "--description", "reads the photos").ok(t)
	if r.stdout != "created policy read-photos ("+arn+")\n" {
		t.Errorf("policy create printed %q", r.stdout)
	}
	want := []call{{"CreatePolicy", map[string]string{"PolicyName": "read-photos", "PolicyDocument": readPhotos, "Description": "reads the photos"}}}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	f.reset()
	r = f.run("policy", "list").ok(t)
	wantList := "NAME          ARN                                            VERSION   ATTACHMENTS   UPDATED\n" +
		"read-photos   arn:aws:iam::000000000000:policy/read-photos   v2                  3   2025-01-03T03:04:05Z\n"
	if r.stdout != wantList {
		t.Errorf("policy list printed\n%s\nwant\n%s", r.stdout, wantList)
	}
	if d := cmp.Diff([]call{{"ListPolicies", map[string]string{"Scope": "Local"}}}, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	f.reset()
	r = f.run("policy", "show", arn).ok(t)
	golden(t, "policy-show.golden", r.stdout)
	if !strings.Contains(r.stdout, `"Resource": "arn:aws:s3:::photos/*"`) {
		t.Errorf("policy show does not print the decoded document:\n%s", r.stdout)
	}
	want = []call{
		{"GetPolicy", map[string]string{"PolicyArn": arn}},
		{"GetPolicyVersion", map[string]string{"PolicyArn": arn, "VersionId": "v2"}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	r = f.run("policy", "show", "read-photos", "-o", "json").ok(t)
	golden(t, "policy-show.json.golden", r.stdout)
	var shown struct{ DefaultVersion struct{ Document string } }
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.DefaultVersion.Document != readPhotos {
		t.Errorf("policy show -o json: document %q (%v), want %q", shown.DefaultVersion.Document, err, readPhotos)
	}

	f.reset()
	if r := f.run("policy", "delete", "read-photos").ok(t); r.stdout != "deleted policy "+arn+"\n" {
		t.Errorf("policy delete printed %q", r.stdout)
	}
	want = []call{
		{"ListPolicyVersions", map[string]string{"PolicyArn": arn}},
		{"DeletePolicyVersion", map[string]string{"PolicyArn": arn, "VersionId": "v1"}},
		{"DeletePolicy", map[string]string{"PolicyArn": arn}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	f.reset()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"policy", "attach", arn, "--user", "dev"}, "attached policy " + arn + " to user dev\n"},
		{[]string{"policy", "attach", "read-photos", "--role", "worker"}, "attached policy " + arn + " to role worker\n"},
		{[]string{"policy", "detach", arn, "--user", "dev"}, "detached policy " + arn + " from user dev\n"},
		{[]string{"policy", "detach", arn, "--role", "worker"}, "detached policy " + arn + " from role worker\n"},
	} {
		if r := f.run(tc.args...).ok(t); r.stdout != tc.want {
			t.Errorf("%v printed %q, want %q", tc.args, r.stdout, tc.want)
		}
	}
	want = []call{
		{"AttachUserPolicy", map[string]string{"PolicyArn": arn, "UserName": "dev"}},
		{"AttachRolePolicy", map[string]string{"PolicyArn": arn, "RoleName": "worker"}},
		{"DetachUserPolicy", map[string]string{"PolicyArn": arn, "UserName": "dev"}},
		{"DetachRolePolicy", map[string]string{"PolicyArn": arn, "RoleName": "worker"}},
	}
	if d := cmp.Diff(want, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	f.reset()
	wantFailure(t, f.run("policy", "attach", arn), `aloft: give --user or --role (see "aloft policy attach --help")`)
	wantFailure(t, f.run("policy", "detach", arn, "--user", "u", "--role", "r"), `aloft: --user and --role exclude each other (see "aloft policy detach --help")`)
	wantFailure(t, f.run("policy", "create", "p"), `aloft: required flag(s) "file" not set (see "aloft policy create --help")`)
	wantFailure(t, f.run("policy", "show"), `aloft: missing the policy ARN (see "aloft policy show --help")`)
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid calls, want none", n)
	}
}

func TestDecodeDocument(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{photosEncoded, readPhotos},
		{"%7B%22a%22%3A%22x%2By%20z%22%7D", `{"a":"x+y z"}`},
		{`{"a":"x+y"}`, `{"a":"x+y"}`},   // a plus sign is not a space
		{`{"a":"100%"}`, `{"a":"100%"}`}, // not encoded: kept as it is
	} {
		if got := decodeDocument(tc.in); got != tc.want {
			t.Errorf("decodeDocument(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	want := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n" +
		"      \"Action\": \"s3:GetObject\",\n      \"Resource\": \"arn:aws:s3:::photos/*\"\n    }\n  ]\n}"
	if got := prettyDocument(photosEncoded + "%0A"); got != want {
		t.Errorf("prettyDocument = %q, want %q", got, want)
	}
	if got := prettyDocument("not%20json"); got != "not json" {
		t.Errorf("prettyDocument of text = %q", got)
	}
}

func TestPolicyFromStdin(t *testing.T) {
	f := newFakeAPI(t, queryAPI(t, map[string]queryHandler{
		"CreatePolicy": queryResult(`<Policy><PolicyName>p</PolicyName><Arn>arn:aws:iam::000000000000:policy/p</Arn></Policy>`),
	}))
	r := run(t, context.Background(), f.srv.URL, readPhotos, "policy", "create", "p", "--file", "-").ok(t)
	if r.stdout != "created policy p (arn:aws:iam::000000000000:policy/p)\n" {
		t.Errorf("policy create printed %q", r.stdout)
	}
	if d := cmp.Diff([]call{{"CreatePolicy", map[string]string{"PolicyName": "p", "PolicyDocument": readPhotos}}}, calls(t, f)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	f.reset()
	r = run(t, context.Background(), f.srv.URL, "{", "policy", "create", "p", "--file", "-")
	wantFailure(t, r, "aloft: the policy in standard input is not JSON: unexpected end of JSON input")
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for an invalid policy, want none", n)
	}
}

// TestPolicyValidate checks documents without a server: a valid one, one
// naming actions no service here has (IAM would accept it), a malformed
// one and a trust policy.
func TestPolicyValidate(t *testing.T) {
	ctx := context.Background()
	r := run(t, ctx, "http://127.0.0.1:1", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["lambda:Get*","s3:GetObject","logs:PutLogEvents","iam:ListUsers"],"Resource":"*"}}`,
		"policy", "validate", "-").ok(t)
	if r.stdout != "valid: every action is known\n" {
		t.Errorf("a valid policy: %q", r.stdout)
	}
	r = run(t, ctx, "http://127.0.0.1:1", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["lambda:InvokeFunction","lamda:Get*","kinesis:PutRecord"],"Resource":"*"}}`,
		"policy", "validate", "-")
	want := "unknown action: lamda:Get* (no operation here asks for it; it allows nothing)\nunknown action: kinesis:PutRecord (no operation here asks for it; it allows nothing)\n"
	if r.code != 1 || r.stdout != want || r.stderr != "aloft: 2 unknown action(s)\n" {
		t.Errorf("unknown actions: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, ctx, "http://127.0.0.1:1", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAdress":{"aws:SourceIp":"10.0.0.0/8"}}}}`,
		"policy", "validate", "-")
	wantFailure(t, r, `aloft: MalformedPolicyDocument: statement 0: Condition: unknown operator "IpAdress"`)
	r = run(t, ctx, "http://127.0.0.1:1", `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
		"policy", "validate", "-", "--resource").ok(t)
	if r.stdout != "valid: every action is known\n" {
		t.Errorf("a trust policy: %q", r.stdout)
	}
}
