package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/aloft-dev/aloft/internal/alofttest"
)

// TestLambdaVersionsAndAliases publishes two versions of a function,
// invokes each by number and through an alias that sends a tenth of the
// invocations to the second, promotes and rolls back the alias, and
// checks the refusals Lambda gives: publishing nothing new, unknown
// qualifiers, weights out of range or on $LATEST, and deleting a version
// an alias routes to. The SDK's waiters see the states Lambda reports.
func TestLambdaVersionsAndAliases(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	ctx := ctxT(t)
	py := runtimeCases()[1]
	create(t, c, "rel", py, py.code(t, "v1"))
	if err := lambda.NewFunctionActiveV2Waiter(c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("rel")}, time.Minute); err != nil {
		t.Fatalf("function-active-v2: %v", err)
	}

	v1, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rel"), Description: aws.String("first")})
	if err != nil || aws.ToString(v1.Version) != "1" || aws.ToString(v1.Description) != "first" || aws.ToString(v1.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:rel:1" {
		t.Fatalf("publish v1: %+v %v", v1, err)
	}
	// Nothing changed: the same version comes back.
	if again, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rel")}); err != nil || aws.ToString(again.Version) != "1" {
		t.Fatalf("publish again: %+v %v", again, err)
	}
	if err := lambda.NewPublishedVersionActiveWaiter(c).Wait(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("rel"), Qualifier: aws.String("1")}, time.Minute); err != nil {
		t.Fatalf("published-version-active: %v", err)
	}
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rel"), CodeSha256: aws.String("nope")})
	apiErr(t, err, "InvalidParameterValueException", 400)
	_, err = c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rel"), RevisionId: aws.String("stale")})
	apiErr(t, err, "PreconditionFailedException", 412)

	up, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("rel"), ZipFile: py.code(t, "v2"), Publish: true})
	if err != nil || aws.ToString(up.Version) != "2" {
		t.Fatalf("update and publish: %+v %v", up, err)
	}
	if err := lambda.NewFunctionUpdatedV2Waiter(c).Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("rel")}, time.Minute); err != nil {
		t.Fatalf("function-updated-v2: %v", err)
	}
	vs, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("rel"), MaxItems: aws.Int32(2)})
	if err != nil || len(vs.Versions) != 2 || aws.ToString(vs.Versions[0].Version) != "$LATEST" || aws.ToString(vs.Versions[1].Version) != "1" || vs.NextMarker == nil {
		t.Fatalf("versions page 1: %+v %v", vs, err)
	}
	vs, err = c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("rel"), Marker: vs.NextMarker})
	if err != nil || len(vs.Versions) != 1 || aws.ToString(vs.Versions[0].Version) != "2" {
		t.Fatalf("versions page 2: %+v %v", vs, err)
	}

	// Each version runs its own code; $LATEST is v2.
	for q, want := range map[string]string{"rel:1": "v1", "rel:2": "v2", "rel": "v2", "rel:$LATEST": "v2"} {
		a, out := invoke(t, c, q, "{}")
		exec := map[string]string{"rel:1": "1", "rel:2": "2"}[q]
		if exec == "" {
			exec = "$LATEST"
		}
		if a.Version != want || aws.ToString(out.ExecutedVersion) != exec {
			t.Fatalf("invoke %s: code %s, executed %s", q, a.Version, aws.ToString(out.ExecutedVersion))
		}
	}
	cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("rel"), Qualifier: aws.String("1")})
	if err != nil || aws.ToString(cfg.Version) != "1" || aws.ToString(cfg.CodeSha256) != aws.ToString(v1.CodeSha256) {
		t.Fatalf("configuration of v1: %+v %v", cfg, err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rel:7")})
	apiErr(t, err, "ResourceNotFoundException", 404)

	// An alias with a tenth of the traffic on v2.
	rc := func(w float64) *types.AliasRoutingConfiguration {
		return &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{"2": w}}
	}
	live, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live"), FunctionVersion: aws.String("1"), RoutingConfig: rc(0.1)})
	if err != nil || aws.ToString(live.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:rel:live" {
		t.Fatalf("create alias: %+v %v", live, err)
	}
	_, err = c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live"), FunctionVersion: aws.String("1")})
	apiErr(t, err, "ResourceConflictException", 409)
	for _, bad := range []*lambda.CreateAliasInput{
		{FunctionName: aws.String("rel"), Name: aws.String("odd"), FunctionVersion: aws.String("1"), RoutingConfig: rc(1.5)},
		{FunctionName: aws.String("rel"), Name: aws.String("odd"), FunctionVersion: aws.String("$LATEST"), RoutingConfig: rc(0.5)},
		{FunctionName: aws.String("rel"), Name: aws.String("odd"), FunctionVersion: aws.String("9")},
		{FunctionName: aws.String("rel"), Name: aws.String("123"), FunctionVersion: aws.String("1")},
	} {
		if _, err := c.CreateAlias(ctx, bad); err == nil {
			t.Errorf("alias %s at %s with %+v was taken", aws.ToString(bad.Name), aws.ToString(bad.FunctionVersion), bad.RoutingConfig)
		}
	}
	n2 := 0
	const total = 2000
	for range total {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rel:live")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.ExecutedVersion) == "2" {
			n2++
		}
	}
	if share := float64(n2) / total; share < 0.08 || share > 0.12 {
		t.Fatalf("v2 got %.3f of the invocations through the alias, want 0.10 ± 0.02", share)
	}
	t.Logf("v2 share through the alias: %d of %d", n2, total)

	// Deleting a version an alias routes to is refused.
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("rel"), Qualifier: aws.String("2")})
	apiErr(t, err, "ResourceConflictException", 409)

	// Promote v2, then roll back to v1.
	ga, _ := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live")})
	_, err = c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live"), FunctionVersion: aws.String("2"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}, RevisionId: aws.String("stale")})
	apiErr(t, err, "PreconditionFailedException", 412)
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live"), FunctionVersion: aws.String("2"),
		RoutingConfig: &types.AliasRoutingConfiguration{AdditionalVersionWeights: map[string]float64{}}, RevisionId: ga.RevisionId}); err != nil {
		t.Fatal(err)
	}
	if a, _ := invoke(t, c, "rel:live", "{}"); a.Version != "v2" {
		t.Fatalf("after promotion: %s", a.Version)
	}
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	if a, _ := invoke(t, c, "rel:live", "{}"); a.Version != "v1" {
		t.Fatalf("after rollback: %s", a.Version)
	}

	// A function URL for the alias and one for $LATEST run their versions.
	urlOf := func(q *string) string {
		t.Helper()
		out, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("rel"), Qualifier: q, AuthType: types.FunctionUrlAuthTypeNone})
		if err != nil {
			t.Fatalf("URL of %s: %v", aws.ToString(q), err)
		}
		m := functionURLPattern.FindStringSubmatch(aws.ToString(out.FunctionUrl))
		if m == nil {
			t.Fatalf("URL %q", aws.ToString(out.FunctionUrl))
		}
		return srv.GatewayURL + "/_aloft/urls/" + m[1] + "/"
	}
	for url, want := range map[string]string{urlOf(aws.String("live")): "v1", urlOf(nil): "v2"} {
		var a answer
		if err := json.Unmarshal(call(t, "GET", url, "", nil, nil).expect(t, 200, "").body, &a); err != nil || a.Version != want {
			t.Fatalf("function URL %s ran %q (%v), want %s", url, a.Version, err, want)
		}
	}
	_, err = c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("rel"), Qualifier: aws.String("1"), AuthType: types.FunctionUrlAuthTypeNone})
	apiErr(t, err, "InvalidParameterValueException", 400)
	if l, err := c.ListFunctionUrlConfigs(ctx, &lambda.ListFunctionUrlConfigsInput{FunctionName: aws.String("rel")}); err != nil || len(l.FunctionUrlConfigs) != 2 {
		t.Fatalf("URLs: %+v %v", l, err)
	}

	al, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("rel")})
	if err != nil || len(al.Aliases) != 1 || aws.ToString(al.Aliases[0].FunctionVersion) != "1" {
		t.Fatalf("aliases: %+v %v", al, err)
	}

	// Resource policies take the alias as their resource.
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("rel"), Qualifier: aws.String("live"),
		StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")}); err != nil {
		t.Fatal(err)
	}
	pol, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("rel"), Qualifier: aws.String("live")})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), `"Resource":"arn:aws:lambda:us-east-1:000000000000:function:rel:live"`) {
		t.Fatalf("policy of the alias: %+v %v", pol, err)
	}
	_, err = c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String("rel"), Qualifier: aws.String("1")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("rel"), Qualifier: aws.String("nosuch"),
		StatementId: aws.String("x"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	if _, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("rel"), Qualifier: aws.String("live"), StatementId: aws.String("s3")}); err != nil {
		t.Fatal(err)
	}

	// Event-invoke configurations are per version and alias.
	for _, q := range []string{"live", "1"} {
		put, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("rel"), Qualifier: aws.String(q), MaximumRetryAttempts: aws.Int32(1)})
		if err != nil || aws.ToString(put.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:rel:"+q {
			t.Fatalf("event config of %s: %+v %v", q, put, err)
		}
	}
	_, err = c.GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("rel")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	_, err = c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("rel"), Qualifier: aws.String("nosuch"), MaximumRetryAttempts: aws.Int32(1)})
	apiErr(t, err, "ResourceNotFoundException", 404)
	if l, err := c.ListFunctionEventInvokeConfigs(ctx, &lambda.ListFunctionEventInvokeConfigsInput{FunctionName: aws.String("rel")}); err != nil || len(l.FunctionEventInvokeConfigs) != 2 {
		t.Fatalf("event configs: %+v %v", l, err)
	}
	if _, err := c.DeleteFunctionEventInvokeConfig(ctx, &lambda.DeleteFunctionEventInvokeConfigInput{FunctionName: aws.String("rel"), Qualifier: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	// An asynchronous invocation through the alias runs its version.
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rel:live"), InvocationType: types.InvocationTypeEvent, Payload: []byte("{}")}); err != nil {
		t.Fatalf("async invoke through the alias: %v", err)
	}

	// A version no alias uses goes; the function goes with the rest.
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("rel"), Qualifier: aws.String("2")}); err != nil {
		t.Fatalf("delete v2: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("rel:2")})
	apiErr(t, err, "ResourceNotFoundException", 404)
	if _, err := c.DeleteAlias(ctx, &lambda.DeleteAliasInput{FunctionName: aws.String("rel"), Name: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	// A change to $LATEST leaves a version's warm instance alone.
	before, _ := invoke(t, c, "rel:1", "{}")
	// Version numbers are not used again.
	c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("rel"), ZipFile: py.code(t, "v3")})
	if after, _ := invoke(t, c, "rel:1", "{}"); after.Instance != before.Instance || after.Calls != before.Calls+1 {
		t.Fatalf("version 1's instance after a change to $LATEST: %+v, before %+v", after, before)
	}
	if v3, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("rel")}); err != nil || aws.ToString(v3.Version) != "3" {
		t.Fatalf("publish v3: %+v %v", v3, err)
	}
}

// TestCLIReleases drives versions and aliases through the aloft CLI.
func TestCLIReleases(t *testing.T) {
	srv := alofttest.Start(t)
	ctx := ctxT(t)
	root := alofttest.ModuleRoot(t)
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := srv.Run(ctx, nil, args...)
		if code != 0 {
			t.Fatalf("aloft %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	mustRun("function", "create", "hello", "--runtime", "python3.11", "--handler", "app.handler", "--code", root+"/examples/hello-python/")
	if out := mustRun("function", "publish", "hello", "--description", "first"); !strings.Contains(out, "version 1") {
		t.Fatalf("publish printed %q", out)
	}
	mustRun("function", "update", "hello", "--memory", "256")
	if out := mustRun("function", "publish", "hello"); !strings.Contains(out, "version 2") {
		t.Fatalf("second publish printed %q", out)
	}
	if out := mustRun("alias", "create", "hello", "live", "--version", "1"); !strings.Contains(out, "function:hello:live -> 1") {
		t.Fatalf("alias create printed %q", out)
	}
	if out := mustRun("invoke", "hello:live", "--payload", `{"name":"Ada"}`); !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("invoke through the alias printed %q", out)
	}
	mustRun("alias", "update", "hello", "live", "--weight", "2=0.5")
	if out := mustRun("alias", "list", "hello"); !strings.Contains(out, "50% to 2") {
		t.Fatalf("alias list printed %q", out)
	}
	if out := mustRun("alias", "update", "hello", "live", "--version", "2", "--weight", "none"); !strings.Contains(out, "-> 2") || strings.Contains(out, "%") {
		t.Fatalf("promotion printed %q", out)
	}
	if _, errOut, code := srv.Run(ctx, nil, "alias", "create", "hello", "bad", "--version", "9"); code == 0 || !strings.Contains(errOut, "9") {
		t.Fatalf("alias of a missing version: exit %d, %q", code, errOut)
	}
	mustRun("alias", "delete", "hello", "live")
}

// TestProvisionedAlias: provisioned concurrency on an alias keeps its
// version's instances initialised, and follows the alias when it moves.
func TestProvisionedAlias(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	ctx := ctxT(t)
	goRC := runtimeCases()[0]
	create(t, c, "prov", goRC, goRC.code(t, "g1"))
	if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("prov")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("prov"), ZipFile: goRC.code(t, "g2"), Publish: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("prov"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	// Provisioned concurrency on the alias keeps its version ready, and
	// follows the alias when it moves.
	pc, err := c.PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov"),
		Qualifier: aws.String("live"), ProvisionedConcurrentExecutions: aws.Int32(1)})
	if err != nil || aws.ToInt32(pc.RequestedProvisionedConcurrentExecutions) != 1 {
		t.Fatalf("provision the alias: %+v %v", pc, err)
	}
	ready := func(q string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			g, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov"), Qualifier: aws.String(q)})
			if err != nil {
				t.Fatal(err)
			}
			if g.Status == types.ProvisionedConcurrencyStatusEnumReady {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("provisioned concurrency of %s not ready: %+v", q, g)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ready("live")
	if a, _ := invoke(t, c, "prov:live", "{}"); a.Version != "g1" || a.InitType != "provisioned-concurrency" {
		t.Fatalf("provisioned alias at v1 ran %s, init %s", a.Version, a.InitType)
	}
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("prov"), Name: aws.String("live"), FunctionVersion: aws.String("2")}); err != nil {
		t.Fatal(err)
	}
	ready("live")
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, _ := invoke(t, c, "prov:live", "{}")
		if a.Version == "g2" && a.InitType == "provisioned-concurrency" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the alias moved: ran %s, init %s", a.Version, a.InitType)
		}
		time.Sleep(100 * time.Millisecond)
	}
	list, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("prov")})
	if err != nil || len(list.ProvisionedConcurrencyConfigs) != 1 || !strings.HasSuffix(aws.ToString(list.ProvisionedConcurrencyConfigs[0].FunctionArn), ":live") {
		t.Fatalf("provisioned configs: %+v %v", list, err)
	}
	if _, err := c.DeleteProvisionedConcurrencyConfig(ctx, &lambda.DeleteProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov"), Qualifier: aws.String("live")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateAlias(ctx, &lambda.UpdateAliasInput{FunctionName: aws.String("prov"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
}

// TestAWSCLIReleases publishes versions and moves an alias with the AWS
// CLI, as release pipelines do.
func TestAWSCLIReleases(t *testing.T) {
	srv := alofttest.Start(t)
	c := srv.Lambda()
	py := runtimeCases()[1]
	create(t, c, "cli-rel", py, py.code(t, "v1"))
	aws := func(args ...string) string {
		t.Helper()
		out, errOut, code := awsCLI(t, srv, alofttest.AccessKeyID, alofttest.SecretAccessKey, "", args...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	var v struct{ Version, FunctionArn string }
	if err := json.Unmarshal([]byte(aws("lambda", "publish-version", "--function-name", "cli-rel")), &v); err != nil || v.Version != "1" {
		t.Fatalf("publish-version: %+v %v", v, err)
	}
	zip := filepath.Join(t.TempDir(), "code.zip")
	if err := os.WriteFile(zip, py.code(t, "v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	aws("lambda", "update-function-code", "--function-name", "cli-rel", "--zip-file", "fileb://"+zip, "--publish")
	aws("lambda", "wait", "function-updated-v2", "--function-name", "cli-rel")
	aws("lambda", "create-alias", "--function-name", "cli-rel", "--name", "prod", "--function-version", "1",
		"--routing-config", `{"AdditionalVersionWeights":{"2":0.25}}`)
	var alias struct {
		FunctionVersion string
		RoutingConfig   struct{ AdditionalVersionWeights map[string]float64 }
	}
	if err := json.Unmarshal([]byte(aws("lambda", "get-alias", "--function-name", "cli-rel", "--name", "prod")), &alias); err != nil ||
		alias.FunctionVersion != "1" || alias.RoutingConfig.AdditionalVersionWeights["2"] != 0.25 {
		t.Fatalf("get-alias: %+v %v", alias, err)
	}
	aws("lambda", "update-alias", "--function-name", "cli-rel", "--name", "prod", "--function-version", "2", "--routing-config", `{"AdditionalVersionWeights":{}}`)
	out := filepath.Join(t.TempDir(), "out.json")
	meta := aws("lambda", "invoke", "--function-name", "cli-rel", "--qualifier", "prod", out)
	b, _ := os.ReadFile(out)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil || a.Version != "v2" || !strings.Contains(meta, `"ExecutedVersion": "2"`) {
		t.Fatalf("invoke prod: %s %s %v", b, meta, err)
	}
	var vs struct{ Versions []struct{ Version string } }
	if err := json.Unmarshal([]byte(aws("lambda", "list-versions-by-function", "--function-name", "cli-rel")), &vs); err != nil || len(vs.Versions) != 3 {
		t.Fatalf("list-versions-by-function: %+v %v", vs, err)
	}
}
