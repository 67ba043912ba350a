package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// layerEntry is one entry of a zip built by layerZip.
type layerEntry struct {
	name, body string
	mode       uint32 // 0: 0644; 0o755 for executables; with symlink, the link's target is body
	symlink    bool
}

// layerZip builds a zip with the entries in order.
func layerZip(t testing.TB, entries ...layerEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		switch {
		case e.symlink:
			h.SetMode(0o777 | 1<<27) // fs.ModeSymlink
		case e.mode != 0:
			h.SetMode(0o755)
		default:
			h.SetMode(0o644)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zerosZip is a zip holding one file of n zero bytes: large unzipped,
// small zipped.
func zerosZip(t testing.TB, name string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		w.Write(chunk[:k])
		n -= k
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerContentOf is a layer's Content uploaded with the request.
func layerContentOf(zip []byte) *types.LayerVersionContentInput {
	return &types.LayerVersionContentInput{ZipFile: zip}
}

func publish(t *testing.T, c *lambda.Client, name string, zip []byte, mutate ...func(*lambda.PublishLayerVersionInput)) *lambda.PublishLayerVersionOutput {
	t.Helper()
	in := &lambda.PublishLayerVersionInput{LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: zip}}
	for _, m := range mutate {
		m(in)
	}
	out, err := c.PublishLayerVersion(ctxT(t), in)
	if err != nil {
		t.Fatalf("publish layer %s: %v", name, err)
	}
	return out
}

const layerPyFn = `import json, os, shutil, subprocess
import greet
import conf

def handler(event, context):
    tool = shutil.which("layertool")
    out = subprocess.run([tool], capture_output=True, text=True).stdout.strip() if tool else ""
    return {"greet": greet.hello(), "greetfile": greet.__file__, "conf": conf.VALUE, "first": conf.FIRST_ONLY if hasattr(conf, "FIRST_ONLY") else "",
            "tool": out, "site": __import__("sitepkg").NAME, "pythonpath": os.environ.get("PYTHONPATH", ""),
            "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else []}
`

// TestLayersRun runs Python and Node.js functions that import packages
// from their layers, find a layer's program on PATH, and see a later
// layer's file win over an earlier one's.
func TestLayersRun(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	py := publish(t, c, "pyhelpers", layerZip(t,
		layerEntry{name: "python/greet.py", body: "def hello():\n    return 'hello from a layer'\n"},
		layerEntry{name: "python/conf.py", body: "VALUE = 'first'\nFIRST_ONLY = 'yes'\n"},
		layerEntry{name: "python/lib/python3.11/site-packages/sitepkg.py", body: "NAME = 'site-packages'\n"},
	), func(in *lambda.PublishLayerVersionInput) {
		in.CompatibleRuntimes = []types.Runtime{"python3.11", "python3.12"}
		in.Description = aws.String("helpers")
	})
	if aws.ToString(py.LayerVersionArn) != "arn:aws:lambda:us-east-1:000000000000:layer:pyhelpers:1" || py.Version != 1 {
		t.Fatalf("publish: arn %s version %d", aws.ToString(py.LayerVersionArn), py.Version)
	}
	over := publish(t, c, "override", layerZip(t,
		layerEntry{name: "python/conf.py", body: "VALUE = 'second'\n"},
		layerEntry{name: "bin/layertool", body: "#!/bin/sh\necho tool from a layer\n", mode: 0o755},
	))
	fn := "layered-py"
	out := create(t, c, fn, runtimeCase{runtime: "python3.11", handler: "app.handler"},
		alofttest.ZipFiles(t, map[string]string{"app.py": layerPyFn}), func(in *lambda.CreateFunctionInput) {
			in.Layers = []string{aws.ToString(py.LayerVersionArn), aws.ToString(over.LayerVersionArn)}
		})
	if len(out.Layers) != 2 || aws.ToString(out.Layers[0].Arn) != aws.ToString(py.LayerVersionArn) || out.Layers[0].CodeSize != py.Content.CodeSize {
		t.Fatalf("configuration's layers: %+v", out.Layers)
	}
	res, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(fn), LogType: types.LogTypeTail})
	if err != nil || res.FunctionError != nil {
		t.Fatalf("invoke: %v %s %s", err, res.Payload, logTail(res))
	}
	var got map[string]any
	json.Unmarshal(res.Payload, &got)
	if got["greet"] != "hello from a layer" || got["site"] != "site-packages" {
		t.Errorf("imports from the layer: %s", res.Payload)
	}
	if f, _ := got["greetfile"].(string); !strings.HasPrefix(f, "/opt/python/") {
		t.Errorf("the layers should be at /opt in the linux sandbox: %s", res.Payload)
	}
	if got["conf"] != "second" || got["first"] != "" {
		t.Errorf("the later layer's conf.py should win whole: %s", res.Payload)
	}
	if got["tool"] != "tool from a layer" {
		t.Errorf("layertool on PATH: %s", res.Payload)
	}

	// Node.js: a module under nodejs/node_modules.
	node := publish(t, c, "nodehelpers", layerZip(t,
		layerEntry{name: "nodejs/node_modules/shout/index.js", body: "module.exports = (s) => s.toUpperCase() + '!';\n"},
		layerEntry{name: "nodejs/node20/node_modules/whisper/index.js", body: "module.exports = (s) => s.toLowerCase();\n"},
	), func(in *lambda.PublishLayerVersionInput) { in.CompatibleRuntimes = []types.Runtime{"nodejs20.x"} })
	create(t, c, "layered-node", runtimeCase{runtime: "nodejs20.x", handler: "index.handler"},
		alofttest.ZipFiles(t, map[string]string{"index.js": `const shout = require('shout');
const whisper = require('whisper');
exports.handler = async () => ({ shout: shout('hi'), whisper: whisper('QUIET') });
`}), func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(node.LayerVersionArn)} })
	res, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String("layered-node"), LogType: types.LogTypeTail})
	if err != nil || res.FunctionError != nil {
		t.Fatalf("invoke node: %v %s %s", err, res.Payload, logTail(res))
	}
	if string(res.Payload) != `{"shout":"HI!","whisper":"quiet"}` {
		t.Errorf("node with a layer: %s", res.Payload)
	}

	// Fresh starts and starts from template processes (started before the
	// layers are mounted; the bootstraps take on the search paths with the
	// instance's environment) see the same.
	if os.Geteuid() == 0 {
		from := len(srv.Log())
		for i := range 4 {
			for _, f := range []string{fn, "layered-node"} {
				if _, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(f), Description: aws.String(fmt.Sprint("round ", i))}); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond) // the sandbox prepares its template processes
				a, raw := invokeRaw(t, c, f)
				if a["greet"] != "hello from a layer" && a["shout"] != "HI!" {
					t.Fatalf("round %d of %s: %s", i, f, raw)
				}
			}
		}
		for _, f := range []string{fn, "layered-node"} {
			templated := 0
			for _, rec := range instanceStarts(srv, f, from) {
				if rec.Template {
					templated++
				}
			}
			if templated == 0 {
				t.Errorf("%s: no start came from a template process", f)
			}
		}
	}

	// A version deleted while a function uses it: the function keeps it,
	// even on a fresh instance (a new revision retires the old ones).
	if _, err := c.DeleteLayerVersion(ctxT(t), &lambda.DeleteLayerVersionInput{LayerName: aws.String("pyhelpers"), VersionNumber: aws.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Description: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
	res, err = c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(fn)})
	if err != nil || res.FunctionError != nil || !strings.Contains(string(res.Payload), "hello from a layer") {
		t.Fatalf("invoke after the layer version's deletion: %v %s", err, res.Payload)
	}
	// Removing the layers: the imports fail.
	if _, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(fn), Layers: []string{}}); err != nil {
		t.Fatal(err)
	}
	if e := invokeErr(t, c, fn, "{}"); !strings.Contains(e.ErrorMessage, "greet") {
		t.Errorf("without layers: %+v", e)
	}
}

func logTail(out *lambda.InvokeOutput) string {
	if out == nil || out.LogResult == nil {
		return ""
	}
	b, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	return string(b)
}

// TestLayersRefused checks the refusals of layers a function may not
// use and of layer archives that may not be published.
func TestLayersRefused(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	code := alofttest.ZipFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"}) // unzips to ~40 bytes
	var arns []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		arns = append(arns, aws.ToString(publish(t, c, "l"+n, layerZip(t, layerEntry{name: "python/" + n + ".py", body: "X = 1\n"})).LayerVersionArn))
	}
	try := func(layers ...string) error {
		_, err := c.CreateFunction(ctxT(t), &lambda.CreateFunctionInput{
			FunctionName: aws.String("refused"), Runtime: "python3.11", Handler: aws.String("app.handler"),
			Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: &types.FunctionCode{ZipFile: code}, Layers: layers,
		})
		return err
	}
	if msg := apiErr(t, try(arns...), "InvalidParameterValueException", 400); msg != "Cannot reference more than 5 layers." {
		t.Errorf("six layers: %q", msg)
	}
	missing := strings.TrimSuffix(arns[0], ":1") + ":7"
	if msg := apiErr(t, try(missing), "InvalidParameterValueException", 400); msg != "Layer version "+missing+" does not exist." {
		t.Errorf("unknown version: %q", msg)
	}
	apiErr(t, try("arn:aws:lambda:us-east-1:000000000000:layer:la"), "ValidationException", 400)
	nodeOnly := publish(t, c, "nodeonly", layerZip(t, layerEntry{name: "nodejs/x.js", body: "1"}),
		func(in *lambda.PublishLayerVersionInput) { in.CompatibleRuntimes = []types.Runtime{"nodejs20.x"} })
	if msg := apiErr(t, try(aws.ToString(nodeOnly.LayerVersionArn)), "InvalidParameterValueException", 400); !strings.Contains(msg, "not compatible with the runtime python3.11") {
		t.Errorf("incompatible runtime: %q", msg)
	}
	if msg := apiErr(t, try(arns[0], strings.TrimSuffix(arns[0], ":1")+":1"), "InvalidParameterValueException", 400); !strings.Contains(msg, "same layer") {
		t.Errorf("a layer twice: %q", msg)
	}
	// A function may not move to a runtime one of its layers excludes.
	pyOnly := publish(t, c, "pyonly", layerZip(t, layerEntry{name: "python/p.py", body: "1"}),
		func(in *lambda.PublishLayerVersionInput) { in.CompatibleRuntimes = []types.Runtime{"python3.11"} })
	create(t, c, "moving", runtimeCase{runtime: "python3.11", handler: "app.handler"}, code,
		func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(pyOnly.LayerVersionArn)} })
	_, err := c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("moving"), Runtime: "python3.12"})
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); !strings.Contains(msg, "not compatible with the runtime python3.12") {
		t.Errorf("runtime change: %q", msg)
	}

	// Archives that escape their root.
	for name, z := range map[string][]byte{
		"dotdot":   layerZip(t, layerEntry{name: "../evil.py", body: "1"}),
		"absolute": layerZip(t, layerEntry{name: "/etc/evil", body: "1"}),
		"symlink":  layerZip(t, layerEntry{name: "python/out", body: "../../../etc", symlink: true}),
		"notazip":  []byte("this is not a zip"),
	} {
		_, err := c.PublishLayerVersion(ctxT(t), &lambda.PublishLayerVersionInput{LayerName: aws.String("bad-" + name), Content: &types.LayerVersionContentInput{ZipFile: z}})
		if msg := apiErr(t, err, "InvalidParameterValueException", 400); !strings.HasPrefix(msg, "Could not unzip uploaded file") {
			t.Errorf("%s: %q", name, msg)
		}
		if _, err := c.ListLayerVersions(ctxT(t), &lambda.ListLayerVersionsInput{LayerName: aws.String("bad-" + name)}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Two layers of 130 MB each: over 250 MB with any code.
	big1 := publish(t, c, "big1", zerosZip(t, "a.bin", 130<<20))
	big2 := publish(t, c, "big2", zerosZip(t, "b.bin", 130<<20))
	err = try(aws.ToString(big1.LayerVersionArn), aws.ToString(big2.LayerVersionArn))
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); !strings.HasPrefix(msg, "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes.") {
		t.Errorf("over 250 MB: %q", msg)
	}
	// One of them is fine, and adding the other by update is refused.
	create(t, c, "big", runtimeCase{runtime: "python3.11", handler: "app.handler"}, code,
		func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(big1.LayerVersionArn)} })
	_, err = c.UpdateFunctionConfiguration(ctxT(t), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("big"),
		Layers: []string{aws.ToString(big1.LayerVersionArn), aws.ToString(big2.LayerVersionArn)}})
	apiErr(t, err, "InvalidParameterValueException", 400)
	if !srv.Alive() {
		t.Fatal("server died")
	}
}

// TestLayersAPI round-trips the layer operations: publish, get (by
// name and by ARN, with a working download link), list with filters and
// paging, delete (numbers are never reused), and the version policy.
func TestLayersAPI(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	ctx := ctxT(t)
	z1 := layerZip(t, layerEntry{name: "python/one.py", body: "ONE = 1\n"})
	v1 := publish(t, c, "shared", z1, func(in *lambda.PublishLayerVersionInput) {
		in.CompatibleRuntimes = []types.Runtime{"python3.11"}
		in.CompatibleArchitectures = []types.Architecture{"x86_64"}
		in.LicenseInfo = aws.String("MIT")
	})
	sum := sha256.Sum256(z1)
	if aws.ToString(v1.Content.CodeSha256) != base64.StdEncoding.EncodeToString(sum[:]) || v1.Content.CodeSize != int64(len(z1)) {
		t.Errorf("content: %+v", v1.Content)
	}
	if aws.ToString(v1.LayerArn) != "arn:aws:lambda:us-east-1:000000000000:layer:shared" || aws.ToString(v1.CreatedDate) == "" {
		t.Errorf("publish: %+v", v1)
	}
	v2 := publish(t, c, "shared", layerZip(t, layerEntry{name: "nodejs/two.js", body: "2"}),
		func(in *lambda.PublishLayerVersionInput) { in.CompatibleRuntimes = []types.Runtime{"nodejs20.x"} })
	publish(t, c, "other", layerZip(t, layerEntry{name: "x", body: "x"}))
	if v2.Version != 2 {
		t.Fatalf("second version: %d", v2.Version)
	}
	g, err := c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(g.LicenseInfo) != "MIT" || len(g.CompatibleArchitectures) != 1 {
		t.Fatalf("get: %v %+v", err, g)
	}
	resp, err := http.Get(aws.ToString(g.Content.Location))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, z1) {
		t.Errorf("download %s: %d, %d bytes", aws.ToString(g.Content.Location), resp.StatusCode, len(body))
	}
	byARN, err := c.GetLayerVersionByArn(ctx, &lambda.GetLayerVersionByArnInput{Arn: v2.LayerVersionArn})
	if err != nil || byARN.Version != 2 {
		t.Fatalf("by ARN: %v %+v", err, byARN)
	}
	vs, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared")})
	if err != nil || len(vs.LayerVersions) != 2 || vs.LayerVersions[0].Version != 2 {
		t.Fatalf("list versions: %v %+v", err, vs)
	}
	vs, err = c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared"), CompatibleRuntime: "python3.11"})
	if err != nil || len(vs.LayerVersions) != 1 || vs.LayerVersions[0].Version != 1 {
		t.Fatalf("list versions for python3.11: %v %+v", err, vs)
	}
	page, err := c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared"), MaxItems: aws.Int32(1)})
	if err != nil || len(page.LayerVersions) != 1 || page.NextMarker == nil {
		t.Fatalf("first page: %v %+v", err, page)
	}
	page, err = c.ListLayerVersions(ctx, &lambda.ListLayerVersionsInput{LayerName: aws.String("shared"), MaxItems: aws.Int32(1), Marker: page.NextMarker})
	if err != nil || len(page.LayerVersions) != 1 || page.LayerVersions[0].Version != 1 || page.NextMarker != nil {
		t.Fatalf("second page: %v %+v", err, page)
	}
	ls, err := c.ListLayers(ctx, &lambda.ListLayersInput{})
	if err != nil || len(ls.Layers) != 2 || aws.ToString(ls.Layers[1].LayerName) != "shared" || ls.Layers[1].LatestMatchingVersion.Version != 2 {
		t.Fatalf("list layers: %v %+v", err, ls)
	}
	ls, err = c.ListLayers(ctx, &lambda.ListLayersInput{CompatibleRuntime: "python3.11"})
	if err != nil || len(ls.Layers) != 1 || ls.Layers[0].LatestMatchingVersion.Version != 1 {
		t.Fatalf("list layers for python3.11: %v %+v", err, ls)
	}
	lp, err := c.ListLayers(ctx, &lambda.ListLayersInput{MaxItems: aws.Int32(1)})
	if err != nil || len(lp.Layers) != 1 || lp.NextMarker == nil {
		t.Fatalf("list layers page: %v %+v", err, lp)
	}

	// The policy of a version.
	_, err = c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	apiErr(t, err, "ResourceNotFoundException", 404)
	add, err := c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1),
		StatementId: aws.String("everyone"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*"), OrganizationId: aws.String("o-abc123")})
	if err != nil || !strings.Contains(aws.ToString(add.Statement), `"aws:PrincipalOrgID":"o-abc123"`) || aws.ToString(add.RevisionId) == "" {
		t.Fatalf("add permission: %v %+v", err, add)
	}
	_, err = c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1),
		StatementId: aws.String("everyone"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("*")})
	apiErr(t, err, "ResourceConflictException", 409)
	_, err = c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1),
		StatementId: aws.String("acct"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("123456789012"), RevisionId: aws.String("stale")})
	apiErr(t, err, "PreconditionFailedException", 412)
	add2, err := c.AddLayerVersionPermission(ctx, &lambda.AddLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1),
		StatementId: aws.String("acct"), Action: aws.String("lambda:GetLayerVersion"), Principal: aws.String("123456789012"), RevisionId: add.RevisionId})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	if err != nil || aws.ToString(pol.RevisionId) != aws.ToString(add2.RevisionId) {
		t.Fatalf("policy: %v %+v", err, pol)
	}
	var doc struct {
		Statement []struct {
			Sid       string
			Principal any
			Resource  string
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(pol.Policy)), &doc); err != nil || len(doc.Statement) != 2 ||
		doc.Statement[1].Resource != aws.ToString(v1.LayerVersionArn) {
		t.Fatalf("policy document: %v %s", err, aws.ToString(pol.Policy))
	}
	_, err = c.RemoveLayerVersionPermission(ctx, &lambda.RemoveLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String("nope")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	for _, sid := range []string{"everyone", "acct"} {
		if _, err := c.RemoveLayerVersionPermission(ctx, &lambda.RemoveLayerVersionPermissionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1), StatementId: aws.String(sid)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GetLayerVersionPolicy(ctx, &lambda.GetLayerVersionPolicyInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
	apiErr(t, err, "ResourceNotFoundException", 404)

	// Deletion: gone from the API, and the number is not given again.
	if _, err := c.DeleteLayerVersion(ctx, &lambda.DeleteLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(2)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(2)})
	apiErr(t, err, "ResourceNotFoundException", 404)
	if v3 := publish(t, c, "shared", z1); v3.Version != 3 {
		t.Errorf("after deleting version 2, got version %d, want 3", v3.Version)
	}
	// The store is on the backbone: a restart keeps it all.
	srv.Restart()
	c = srv.Lambda()
	vs, err = c.ListLayerVersions(ctxT(t), &lambda.ListLayerVersionsInput{LayerName: aws.String("shared")})
	if err != nil || len(vs.LayerVersions) != 2 || vs.LayerVersions[0].Version != 3 || vs.LayerVersions[1].Version != 1 {
		t.Fatalf("after restart: %v %+v", err, vs)
	}
	if v4 := publish(t, c, "shared", z1); v4.Version != 4 {
		t.Errorf("after restart, got version %d, want 4", v4.Version)
	}
}

// TestCodeFromS3 creates and updates a function and publishes a layer
// from zips in Aloft's S3, and checks Lambda's errors for a missing key
// and for an object that is not a zip.
func TestCodeFromS3(t *testing.T) {
	srv := alofttest.Start(t)
	c, s3c := srv.Lambda(), srv.S3()
	ctx := ctxT(t)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("code")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("code"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) string {
		out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("code"), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	src := func(v string) []byte {
		return alofttest.ZipFiles(t, map[string]string{"app.py": "import util\ndef handler(e, c):\n    return {'v': '" + v + "', 'util': util.NAME}\n"})
	}
	v1 := put("fn.zip", src("one"))
	put("fn.zip", src("two"))
	put("layer.zip", layerZip(t, layerEntry{name: "python/util.py", body: "NAME = 'util from s3'\n"}))
	put("junk.zip", []byte("not a zip at all"))

	layer, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("s3layer"),
		Content: &types.LayerVersionContentInput{S3Bucket: aws.String("code"), S3Key: aws.String("layer.zip")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("froms3"), Runtime: "python3.11", Handler: aws.String("app.handler"),
		Role:   aws.String("arn:aws:iam::000000000000:role/aloft"),
		Code:   &types.FunctionCode{S3Bucket: aws.String("code"), S3Key: aws.String("fn.zip")},
		Layers: []string{aws.ToString(layer.LayerVersionArn)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, out := invokeRaw(t, c, "froms3"); a["v"] != "two" || a["util"] != "util from s3" {
		t.Fatalf("function from S3: %s", out)
	}
	// The older version of the object, by its version id.
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("froms3"),
		S3Bucket: aws.String("code"), S3Key: aws.String("fn.zip"), S3ObjectVersion: aws.String(v1)}); err != nil {
		t.Fatal(err)
	}
	if a, out := invokeRaw(t, c, "froms3"); a["v"] != "one" {
		t.Fatalf("function updated from S3: %s", out)
	}
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("froms3"), S3Bucket: aws.String("code"), S3Key: aws.String("missing.zip")})
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); msg != "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist." {
		t.Errorf("missing key: %q", msg)
	}
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("froms3"), S3Bucket: aws.String("nobucket"), S3Key: aws.String("fn.zip")})
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); !strings.Contains(msg, "NoSuchBucket") {
		t.Errorf("missing bucket: %q", msg)
	}
	_, err = c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("froms3"), S3Bucket: aws.String("code"), S3Key: aws.String("junk.zip")})
	if msg := apiErr(t, err, "InvalidParameterValueException", 400); msg != "Could not unzip uploaded file. Please check your file, then try to upload again." {
		t.Errorf("not a zip: %q", msg)
	}
	_, err = c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("s3layer"),
		Content: &types.LayerVersionContentInput{S3Bucket: aws.String("code"), S3Key: aws.String("missing.zip")}})
	apiErr(t, err, "InvalidParameterValueException", 400)
	if a, _ := invokeRaw(t, c, "froms3"); a["v"] != "one" {
		t.Errorf("a refused update changed the code: %v", a)
	}
	// Over the 50 MB limit of direct uploads, which does not apply to S3.
	big := bigZip(t, 51<<20)
	put("big.zip", big)
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("froms3"), ZipFile: big}); err == nil {
		t.Error("a 51 MB zip uploaded directly was accepted")
	}
	out, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("froms3"), S3Bucket: aws.String("code"), S3Key: aws.String("big.zip")})
	if err != nil || out.CodeSize != int64(len(big)) {
		t.Fatalf("a 51 MB zip from S3: %v", err)
	}
	if a, raw := invokeRaw(t, c, "froms3"); a["v"] != "big" {
		t.Errorf("function from the big zip: %s", raw)
	}
}

// bigZip is a function whose zip is about n bytes: app.py and a file of
// random, incompressible bytes stored as they are.
func bigZip(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("app.py")
	io.WriteString(w, "def handler(e, c):\n    return {'v': 'big'}\n")
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "blob.bin", Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, rand.Reader, int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// invokeRaw invokes name and decodes its answer as a map.
func invokeRaw(t *testing.T, c *lambda.Client, name string) (map[string]any, string) {
	t.Helper()
	out, err := c.Invoke(ctxT(t), &lambda.InvokeInput{FunctionName: aws.String(name), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	var m map[string]any
	json.Unmarshal(out.Payload, &m)
	return m, string(out.Payload) + " " + logTail(out)
}

// TestLayersCLI publishes a layer from a directory with the CLI, lists
// it, and gives it to a function with --layer on create and update.
func TestLayersCLI(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	run := func(args ...string) string {
		t.Helper()
		out, errOut, code := srv.Run(ctx, nil, args...)
		if code != 0 {
			t.Fatalf("aloft %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	layerDir, appDir := t.TempDir(), t.TempDir()
	writeFile(t, layerDir+"/python/cliutil.py", "WORD = 'from the cli layer'\n")
	writeFile(t, appDir+"/app.py", "import cliutil\ndef handler(e, c):\n    return cliutil.WORD\n")
	out := run("layer", "publish", "cliutil", "--dir", layerDir, "--runtime", "python3.11", "--description", "cli")
	arn := "arn:aws:lambda:us-east-1:000000000000:layer:cliutil:1"
	if !strings.Contains(out, arn) {
		t.Fatalf("publish output: %s", out)
	}
	if out := run("layer", "list"); !strings.Contains(out, "cliutil") || !strings.Contains(out, "python3.11") {
		t.Errorf("layer list: %s", out)
	}
	if out := run("layer", "list", "cliutil", "-o", "json"); !strings.Contains(out, `"Version": 1`) {
		t.Errorf("layer list NAME: %s", out)
	}
	run("function", "create", "clifn", "--runtime", "python3.11", "--handler", "app.handler", "--code", appDir, "--layer", arn)
	if a, raw := invokeRaw(t, srv.Lambda(), "clifn"); a != nil || !strings.Contains(raw, "from the cli layer") {
		t.Errorf("invoke: %s", raw)
	}
	if out := run("function", "get", "clifn"); !strings.Contains(out, arn) {
		t.Errorf("function get: %s", out)
	}
	run("function", "update", "clifn", "--layer", "")
	if e := invokeErr(t, srv.Lambda(), "clifn", "{}"); !strings.Contains(e.ErrorMessage, "cliutil") {
		t.Errorf("after removing the layer: %+v", e)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLayersProcessSandbox runs a function with a layer under the process
// sandbox, which has no /opt of its own: the search paths name the merged
// layers on the host.
func TestLayersProcessSandbox(t *testing.T) {
	srv := alofttest.Start(t, "--sandbox", "process")
	c := srv.Lambda()
	l := publish(t, c, "proc", layerZip(t,
		layerEntry{name: "python/procmod.py", body: "WHERE = __file__\n"},
		layerEntry{name: "bin/proctool", body: "#!/bin/sh\necho proctool ran\n", mode: 0o755},
	))
	create(t, c, "procfn", runtimeCase{runtime: "python3.11", handler: "app.handler"},
		alofttest.ZipFiles(t, map[string]string{"app.py": `import os, subprocess, procmod
def handler(e, c):
    return {"where": procmod.WHERE, "tool": subprocess.run(["proctool"], capture_output=True, text=True).stdout.strip(),
            "path": os.environ["PATH"]}
`}), func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(l.LayerVersionArn)} })
	a, raw := invokeRaw(t, c, "procfn")
	where, _ := a["where"].(string)
	if where == "" || strings.HasPrefix(where, "/opt/") || !strings.HasSuffix(where, "/python/procmod.py") || a["tool"] != "proctool ran" {
		t.Fatalf("process sandbox: %s", raw)
	}
}

// TestLayersIAM checks that layers and code from S3 are read with the
// caller's permissions: a user may publish only where allowed, may give a
// function only layers it may read (lambda:GetLayerVersion), and code
// only from objects it may read (s3:GetObject).
func TestLayersIAM(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := clientsFor(srv, srv.Config().Credentials)
	open := publish(t, root.lambda, "open", layerZip(t, layerEntry{name: "python/o.py", body: "O = 1\n"}))
	closed := publish(t, root.lambda, "closed", layerZip(t, layerEntry{name: "python/c.py", body: "C = 1\n"}))
	code := alofttest.ZipFiles(t, map[string]string{"app.py": "def handler(e, c):\n    return 1\n"})
	for _, b := range []string{"readable", "private"} {
		if _, err := root.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("fn.zip"), Body: bytes.NewReader(code)}); err != nil {
			t.Fatal(err)
		}
	}
	dev := userWithPolicy(ctx, t, srv, root, "builder", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["lambda:CreateFunction","lambda:GetFunction"],"Resource":"*"},
			{"Effect":"Allow","Action":["lambda:GetLayerVersion","lambda:PublishLayerVersion"],"Resource":["arn:aws:lambda:*:*:layer:open","arn:aws:lambda:*:*:layer:open:*"]},
			{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::readable/*"}]}`)
	mk := func(name string, layers []string, fc *types.FunctionCode) error {
		_, err := dev.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: "python3.11",
			Handler: aws.String("app.handler"), Role: aws.String("arn:aws:iam::000000000000:role/aloft"), Code: fc, Layers: layers})
		return err
	}
	waitFor(t, "the user's policy", func() error {
		_, err := dev.lambda.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("open"), VersionNumber: aws.Int64(1)})
		return err
	})
	_, err := dev.lambda.GetLayerVersion(ctx, &lambda.GetLayerVersionInput{LayerName: aws.String("closed"), VersionNumber: aws.Int64(1)})
	apiErr(t, err, "AccessDeniedException", 403)
	_, err = dev.lambda.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String("closed"), Content: layerContentOf(layerZip(t, layerEntry{name: "x", body: "x"}))})
	apiErr(t, err, "AccessDeniedException", 403)
	if err := mk("with-open", []string{aws.ToString(open.LayerVersionArn)}, &types.FunctionCode{ZipFile: code}); err != nil {
		t.Errorf("a layer the user may read: %v", err)
	}
	apiErr(t, mk("with-closed", []string{aws.ToString(closed.LayerVersionArn)}, &types.FunctionCode{ZipFile: code}), "AccessDeniedException", 403)
	if err := mk("from-readable", nil, &types.FunctionCode{S3Bucket: aws.String("readable"), S3Key: aws.String("fn.zip")}); err != nil {
		t.Errorf("code from a bucket the user may read: %v", err)
	}
	msg := apiErr(t, mk("from-private", nil, &types.FunctionCode{S3Bucket: aws.String("private"), S3Key: aws.String("fn.zip")}), "InvalidParameterValueException", 400)
	if !strings.Contains(msg, "S3 Error Code: AccessDenied") {
		t.Errorf("code from a private bucket: %q", msg)
	}
}

// TestLayersCluster publishes a layer on one node of a cluster and runs a
// function with it on another, which fetches the content from the
// backbone; numbers stay unique across the nodes.
func TestLayersCluster(t *testing.T) {
	url := alofttest.Backbone(t)
	a := alofttest.Start(t, "--nats-url", url)
	b := alofttest.Start(t, "--nats-url", url)
	ca, cb := a.Lambda(), b.Lambda()
	l := publish(t, ca, "shared", layerZip(t, layerEntry{name: "python/clustered.py", body: "WHERE = 'published on a'\n"}))
	waitFor(t, "the layer on the other node", func() error {
		_, err := cb.GetLayerVersion(ctxT(t), &lambda.GetLayerVersionInput{LayerName: aws.String("shared"), VersionNumber: aws.Int64(1)})
		return err
	})
	if v := publish(t, cb, "shared", layerZip(t, layerEntry{name: "python/clustered.py", body: "WHERE = 'published on b'\n"})); v.Version != 2 {
		t.Errorf("second version, published on the other node: %d", v.Version)
	}
	create(t, cb, "clustered", runtimeCase{runtime: "python3.11", handler: "app.handler"},
		alofttest.ZipFiles(t, map[string]string{"app.py": "import clustered\ndef handler(e, c):\n    return clustered.WHERE\n"}),
		func(in *lambda.CreateFunctionInput) { in.Layers = []string{aws.ToString(l.LayerVersionArn)} })
	if _, raw := invokeRaw(t, cb, "clustered"); !strings.HasPrefix(raw, `"published on a"`) {
		t.Errorf("function on the other node: %s", raw)
	}
}
