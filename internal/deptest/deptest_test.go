// Package deptest checks the rules of Aloft's package graph: every package
// is documented, and dependencies point one way (API and gateway above the
// invoker, the invoker above the sandbox).
package deptest

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Name       string
	Imports    []string
}

func packages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "github.com/aloft-dev/aloft/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range packages(t) {
		if p.Doc == "" {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}

// TestDomainsSpeakNoHTTP checks that domain packages leave the wire to
// their API packages: none imports net/http.
func TestDomainsSpeakNoHTTP(t *testing.T) {
	const mod = "github.com/aloft-dev/aloft/internal/"
	domains := []string{"fault", "scheduler", "schedule", "registry", "function", "logs", "meter", "async", "policy", "store", "keepalive", "notify"}
	for _, p := range packages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, d := range domains {
			if rel == d && slices.Contains(p.Imports, "net/http") {
				t.Errorf("%s imports net/http; its wire belongs in an API package", p.ImportPath)
			}
		}
	}
}

func TestDependenciesPointOneWay(t *testing.T) {
	const mod = "github.com/aloft-dev/aloft/internal/"
	rules := map[string][]string{
		// What the package (prefix) must not import directly.
		"sandbox":    {"lambdaapi", "gateway", "store", "registry", "invoker", "logs", "logsapi", "app", "cli"},
		"invoker":    {"lambdaapi", "gateway", "store", "registry", "logsapi", "app", "cli"},
		"runtimeapi": {"lambdaapi", "store", "registry", "invoker", "app", "cli"},
		"function":   {"lambdaapi", "store", "registry", "invoker", "sandbox", "app", "cli"},
		"registry":   {"lambdaapi", "invoker", "sandbox", "app", "cli"},
		"lambdaapi":  {"sandbox", "store", "invoker", "app", "cli"},
		"gateway":    {"sandbox", "store", "invoker", "registry", "lambdaapi", "gatewayapi", "app", "cli"},
		"gatewayapi": {"sandbox", "invoker", "store", "lambdaapi", "app", "cli"},
		"objstore":   {"lambdaapi", "s3api", "gateway", "store", "registry", "invoker", "sandbox", "app", "cli"},
		"s3api":      {"lambdaapi", "gateway", "store", "registry", "invoker", "sandbox", "app", "cli"},
		"notify":     {"lambdaapi", "gateway", "store", "registry", "invoker", "sandbox", "app", "cli"},
	}
	for _, p := range packages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for prefix, banned := range rules {
			if rel != prefix && !strings.HasPrefix(rel, prefix+"/") {
				continue
			}
			for _, d := range p.Imports {
				for _, b := range banned {
					if d == mod+b || strings.HasPrefix(d, mod+b+"/") {
						t.Errorf("%s must not depend on %s", p.ImportPath, d)
					}
				}
			}
		}
	}
}

// TestOnlyInvokeRunsFunctions checks that package invoke is the one seam
// to the invoker: no other package imports it, but the app that builds
// it.
func TestOnlyInvokeRunsFunctions(t *testing.T) {
	const mod = "github.com/aloft-dev/aloft/internal/"
	allowed := []string{"invoke", "app"}
	for _, p := range packages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		if slices.Contains(allowed, rel) || rel == "invoker" || strings.HasPrefix(rel, "invoker/") {
			continue
		}
		if slices.Contains(p.Imports, mod+"invoker") {
			t.Errorf("%s imports the invoker; it runs functions through package invoke", p.ImportPath)
		}
	}
}
